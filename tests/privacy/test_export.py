"""The export (issue 16, point 4): the ZIP holds, for every registered model, exactly the
member's rows (checked against every foreign-key path to the member, found by walking the
models, not against the registry's own queries) and none of another member's; secrets and
card numbers never leave; the download is recorded in the audit trail."""

from __future__ import annotations

import csv
import io
import json
import zipfile
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.db.models import Q

from billing.models import PaymentMethod
from members import services
from members.models import AuditRecord, Lead, Member
from members.privacy import registry
from members.privacy.export import export_build, member_export

from .paths import member_paths

pytestmark = pytest.mark.django_db

# Linked to a member the other way round (the member points at them).
REVERSE = {
    "auth.User": lambda m: Q(member=m),
    "account.EmailAddress": lambda m: Q(user__member=m),
}
# Models every gym has rows of: the seeded world must exercise them.
CORE = {
    "members.Member",
    "members.AgreementSignature",
    "members.MemberNote",
    "members.Household",
    "members.Lead",
    "billing.Membership",
    "billing.Invoice",
    "billing.InvoiceLine",
    "billing.Payment",
    "billing.PaymentAttempt",
    "billing.PaymentMethod",
    "access_control.Credential",
    "access_control.AccessEvent",
    "classes.Booking",
    "pos.Sale",
    "pos.SaleLine",
}


def expected_condition(label: str, member: Member) -> Q:
    if label == "members.Member":
        return Q(pk=member.pk)
    if label in REVERSE:
        return REVERSE[label](member)
    condition = Q(pk__in=[])
    for path in member_paths(registry.policy_for(label).model):  # type: ignore[union-attr]
        condition |= Q(**{path: member})
    return condition


def unzip(content: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(content)) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


def members_with_rows(label: str, limit: int = 3) -> list[Member]:
    model = registry.policy_for(label).model  # type: ignore[union-attr]
    found = []
    for member in Member.objects.order_by("pk"):
        if model.objects.filter(expected_condition(label, member)).exists():
            found.append(member)
            if len(found) == limit:
                break
    return found


def test_the_export_holds_each_models_rows_for_the_member_and_none_of_anothers():
    call_command("seed_demo", members=40, no_progress=True)
    for member in Member.objects.order_by("pk")[:5]:
        services.member_set_marketing_consent(member, email=True, sms=False)
    first, second = Member.objects.exclude(email="").order_by("pk")[:2]
    Lead.objects.create(first_name="A", last_name="Lead", email=first.email, member=first)
    # Made with the second member's email before they joined: theirs, not linked.
    Lead.objects.create(first_name="B", last_name="Lead", email=second.email.upper())
    checked = set()
    exports: dict[int, dict[str, bytes]] = {}
    for policy in registry.policies():
        for member in members_with_rows(policy.label):
            if member.pk not in exports:
                exports[member.pk] = unzip(export_build(member).content)
            files = exports[member.pk]
            rows = json.loads(files[f"json/{policy.file_stem}.json"])
            got = {row["id"] for row in rows}
            expected = set(
                policy.model.objects.filter(expected_condition(policy.label, member))
                .values_list("pk", flat=True)
                .distinct()
            )
            if policy.label == "members.Lead":
                # Also the leads made with the member's email before they joined.
                extra = got - expected
                assert all(
                    Lead.objects.get(pk=pk).email.lower() == member.email.lower() for pk in extra
                )
                got -= extra
            assert got == expected, policy.label
            # The CSV holds the same rows.
            table = list(
                csv.DictReader(
                    io.StringIO(files[f"csv/{policy.file_stem}.csv"].decode("utf-8-sig"))
                )
            )
            assert {int(row["id"]) for row in table} == {row["id"] for row in rows}
            checked.add(policy.label)
    missing = CORE - checked
    assert not missing, f"the seeded world has no rows of {missing}"


def test_every_registered_model_has_its_pair_of_files_and_the_manifest_counts_them():
    call_command("seed_demo", members=12, no_progress=True)
    member = Member.objects.filter(memberships__isnull=False).first()
    files = unzip(export_build(member).content)
    manifest = json.loads(files["manifest.json"])
    assert manifest["member_number"] == member.member_number
    for policy in registry.policies():
        entry = manifest["files"][policy.label]
        assert len(json.loads(files[entry["json"]])) == entry["records"]
        assert entry["csv"] in files
    assert "README.txt" in files
    readme = files["README.txt"].decode()
    assert str(member.member_number) in readme and "สมาชิก" in readme


def test_secrets_and_card_numbers_never_leave():
    from tests.billing.factories import signed_up

    membership = signed_up()
    member = membership.member
    method = PaymentMethod.objects.get(member=member)
    user = services.member_login_ensure(member, email_verified=True)
    user.set_password("a long password for tests")
    user.save()
    files = unzip(export_build(member).content)
    everything = b"".join(files.values()).decode("utf-8", errors="replace")
    assert method.token not in everything
    assert method.fingerprint not in everything
    assert user.password not in everything
    cards = json.loads(files["json/billing_paymentmethod.json"])
    assert len(cards) == 1
    assert cards[0]["last4"] == method.last4 and cards[0]["brand"] == method.brand
    assert not {"token", "fingerprint", "customer_reference"} & set(cards[0])
    users = json.loads(files["json/auth_user.json"])
    assert users[0]["username"] == user.username and "password" not in users[0]


def test_the_export_is_recorded_in_the_audit_trail(make_staff):
    member = _member()
    member_export(member, reason="Desk")
    record = AuditRecord.objects.get(action="member.export")
    assert record.member_id == member.pk
    assert record.after["files"]["members.Member"] == 1 and record.reason == "Desk"


def _member(**fields: Any) -> Member:
    from tests.factories import MemberFactory

    return MemberFactory(**fields)


def test_an_empty_user_model_row_set_is_still_a_file():
    member = _member()
    files = unzip(export_build(member).content)
    assert json.loads(files["json/auth_user.json"]) == []
    assert get_user_model().objects.filter(member=member).count() == 0
    header = files["csv/auth_user.csv"].decode("utf-8-sig").splitlines()[0]
    assert "username" in header and "password" not in header
