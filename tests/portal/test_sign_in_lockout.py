"""Brute force on the member portal's sign-in is locked out (allauth's rate limits on
the real cache): after MEMBER_LOGIN_ATTEMPTS wrong passwords for one email, even the
right password is refused for a while, from any address."""

from __future__ import annotations

import pytest
from django.contrib.auth import SESSION_KEY
from django.test import Client
from django.urls import reverse

from .conftest import PASSWORD

pytestmark = pytest.mark.django_db


def attempt(client: Client, email: str, password: str, ip: str = "10.0.0.1"):
    return client.post(
        reverse("account_login"), {"login": email, "password": password}, REMOTE_ADDR=ip
    )


def test_brute_force_on_the_portal_is_locked_out_even_with_the_right_password(
    make_portal_member, settings
):
    member = make_portal_member(email="malee@example.com")
    for n in range(settings.MEMBER_LOGIN_ATTEMPTS):
        wrong = attempt(Client(), member.email, f"wrong-{n}", ip=f"10.0.1.{n}")
        assert wrong.status_code == 200 and SESSION_KEY not in wrong.wsgi_request.session
    client = Client()
    locked = attempt(client, member.email, PASSWORD, ip="10.0.2.1")  # another address
    assert locked.status_code in (200, 429)
    assert SESSION_KEY not in client.session
    assert "Too many failed login attempts" in locked.content.decode()

    # Another member's account is not locked by it.
    other = make_portal_member(email="somchai@example.com")
    fine = attempt(Client(), other.email, PASSWORD, ip="10.0.3.1")
    assert fine.status_code == 302
