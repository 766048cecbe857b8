from __future__ import annotations

import json

import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command

from members.models import AgreementSignature, Household, Member, MemberNote

pytestmark = pytest.mark.django_db


def counts() -> dict[str, int]:
    return {
        "members": Member.objects.count(),
        "signatures": AgreementSignature.objects.count(),
        "households": Household.objects.count(),
        "notes": MemberNote.objects.count(),
        "users": get_user_model().objects.count(),
    }


def test_seed_demo_is_idempotent_and_writes_a_manifest(tmp_path):
    manifest = tmp_path / "demo.json"
    call_command("seed_demo", members=60, json=manifest, no_progress=True)
    first = counts()
    call_command("seed_demo", members=60, json=manifest, no_progress=True)
    assert counts() == first
    assert first["members"] >= 60
    assert first["households"] > 0
    logins = json.loads(manifest.read_text())["staff"]
    assert {entry["role"] for entry in logins} == {"Front desk", "Manager", "Owner"}
    user = get_user_model().objects.get(username=logins[0]["username"])
    assert user.check_password(logins[0]["password"])


def test_seed_demo_tops_up_to_a_larger_size():
    call_command("seed_demo", members=30, no_progress=True)
    before = Member.objects.count()
    call_command("seed_demo", members=45, no_progress=True)
    assert Member.objects.count() == before + 15


def test_seed_demo_has_thai_and_english_names():
    call_command("seed_demo", members=80, no_progress=True)
    languages = set(Member.objects.values_list("language", flat=True))
    assert languages == {"th", "en"}
    assert Member.objects.filter(first_name__regex=r"[\u0E00-\u0E7F]").exists()


def test_seed_demo_rejects_bad_arguments(tmp_path):
    with pytest.raises(CommandError):
        call_command("seed_demo", members=-1, no_progress=True)
    with pytest.raises(CommandError):
        call_command("seed_demo", members=1, json=tmp_path, no_progress=True)
    assert Member.objects.count() == 0
