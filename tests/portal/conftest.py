"""Portal fixtures: members with a portal login, signed in on a test client."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client

from members import services
from members.models import Member
from tests.factories import MemberFactory

PASSWORD = "correct horse battery staple 42"


@pytest.fixture
def make_portal_member() -> Callable[..., Member]:
    """``make_portal_member(**member fields)``: a member with a verified portal login
    whose password is ``PASSWORD``."""

    def make(**fields: Any) -> Member:
        member = MemberFactory(**fields)
        user = services.member_login_ensure(member, email_verified=True)
        user.set_password(PASSWORD)
        user.save()
        member.refresh_from_db()
        return member

    return make


@pytest.fixture
def portal_member(make_portal_member: Callable[..., Member]) -> Member:
    return make_portal_member()


@pytest.fixture
def member_client(portal_member: Member) -> Client:
    """A test client signed in as ``portal_member``."""
    client = Client()
    client.force_login(portal_member.user)
    return client
