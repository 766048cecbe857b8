"""HTTP Basic with a staff password is off in production (``API_BASIC_AUTH``, off unless
DEBUG or the demo): a Basic header is a 401 with a stable code, never a sign-in, and an
integration's API key still works."""

from __future__ import annotations

import base64
import datetime as dt

import pytest
from rest_framework.test import APIClient

from config import clock
from members import api_keys, roles

pytestmark = pytest.mark.django_db


def test_basic_auth_is_refused_when_off_and_keys_still_work(make_staff, settings):
    settings.API_BASIC_AUTH = False
    owner = make_staff(roles.OWNER, username="owner")
    client = APIClient()
    token = base64.b64encode(b"owner:pw-for-tests-only").decode()
    refused = client.get("/api/v1/members/", HTTP_AUTHORIZATION=f"Basic {token}")
    assert refused.status_code == 401
    assert refused.json()["code"] == "basic_auth_disabled"
    _key, plain = api_keys.api_key_create(
        name="CRM",
        scopes=["members:read"],
        expires_at=clock.now() + dt.timedelta(days=30),
        created_by=owner,
    )
    allowed = client.get("/api/v1/members/", HTTP_AUTHORIZATION=f"Api-Key {plain}")
    assert allowed.status_code == 200


def test_production_settings_turn_basic_auth_off():
    import os
    import subprocess
    import sys

    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "DEBUG": "0",
        "DEMO_MODE": "0",
        "SECRET_KEY": "x" * 60,
        "ALLOWED_HOSTS": "gym.example.com",
    }
    env.pop("API_BASIC_AUTH", None)
    done = subprocess.run(
        [sys.executable, "-c", "from django.conf import settings; print(settings.API_BASIC_AUTH)"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert done.stdout.strip() == "False", done.stderr
