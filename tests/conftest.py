"""Shared fixtures.  The suite runs on real PostgreSQL and Redis, never SQLite."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.cache import cache
from django.utils import translation
from hypothesis import settings as hypothesis_settings
from rest_framework.test import APIClient

from members import roles
from tests.factories import MemberFactory

# No per-example deadline: a CI machine that stalls one example past Hypothesis's default
# 200 ms fails the test as "unreliable timings", whatever the code under test does.
hypothesis_settings.register_profile("suite", deadline=None)
hypothesis_settings.load_profile("suite")


def pytest_configure(config: pytest.Config) -> None:
    engine = settings.DATABASES["default"]["ENGINE"]
    if "postgresql" not in engine:
        raise pytest.UsageError(
            "The test suite runs on PostgreSQL only. Run `make test`, or set DATABASE_URL "
            f"to a PostgreSQL URL (the current engine is {engine})."
        )
    if not settings.REDIS_URL:
        raise pytest.UsageError("The test suite needs Redis: set REDIS_URL or run `make test`.")


@pytest.fixture(autouse=True)
def _clean_cache() -> None:
    cache.clear()


@pytest.fixture(autouse=True, scope="session")
def _signing_in_completes_the_second_factor() -> Any:
    """``client.force_login(user)`` / ``client.login(...)`` sign a staff member in with
    both factors done, as a real sign-in ends: managers and owners need the second one
    (members.staff_security).  tests/security/test_logins.py signs in through the forms
    instead, to test the factors themselves."""
    from django.test import Client
    from django_otp import DEVICE_ID_SESSION_KEY
    from django_otp.plugins.otp_totp.models import TOTPDevice

    from members import staff_security

    original = Client._login

    def _login(self: Client, user: Any, backend: str | None = None) -> None:
        original(self, user, backend)
        if staff_security.needs_second_factor(user):
            device = TOTPDevice.objects.filter(user=user, confirmed=True).first()
            if device is None:
                device = TOTPDevice.objects.create(user=user, name="tests", confirmed=True)
            session = self.session
            session[DEVICE_ID_SESSION_KEY] = device.persistent_id
            session.save()

    Client._login = _login  # type: ignore[method-assign]
    yield
    Client._login = original  # type: ignore[method-assign]


@pytest.fixture(autouse=True)
def _default_language() -> Any:
    """Start every test in the default language.

    The locale middleware activates the request's language on the test thread and
    leaves it active, so a Thai request in one test would otherwise leak into the next
    when tests run in random order.
    """
    translation.activate(settings.LANGUAGE_CODE)
    yield
    translation.activate(settings.LANGUAGE_CODE)


@pytest.fixture(autouse=True)
def _fresh_member_sequence() -> None:
    """Number every test's factory members from 0.

    The factory's emails and phones carry its sequence number, and the desk's search
    matches digits inside them: left to run on across the session, the sequence reaches
    the member numbers (1001, 1002, ...) and a search by member number finds a second
    member, in whichever test happens to draw that number.
    """
    MemberFactory.reset_sequence(0)


@pytest.fixture
def make_staff(db: None) -> Callable[..., Any]:
    """A staff user in one role group (``Front desk``, ``Manager`` or ``Owner``)."""
    user_model = get_user_model()

    def make(role: str, username: str | None = None) -> Any:
        roles.sync_roles()
        user = user_model.objects.create_user(
            username=username or role.lower().replace(" ", "_"),
            password="pw-for-tests-only",
            is_staff=True,
        )
        user.groups.add(Group.objects.get(name=role))
        return user

    return make


@pytest.fixture
def api_as(make_staff: Callable[..., Any]) -> Callable[[str], APIClient]:
    def client_for(role: str) -> APIClient:
        client = APIClient()
        client.force_authenticate(make_staff(role))
        return client

    return client_for
