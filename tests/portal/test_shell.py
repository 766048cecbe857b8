"""The portal's shell: who gets in, what they see, and that nothing else opens."""

from __future__ import annotations

import re

import pytest
from django.conf import settings
from django.core import mail
from django.test import Client
from django.urls import reverse

from billing.models import MembershipStatus
from members import roles, services
from members.models import Member
from tests.billing.factories import PlanFactory, signed_up
from tests.factories import MemberFactory

from .conftest import PASSWORD

pytestmark = pytest.mark.django_db


def test_a_visitor_is_sent_to_sign_in_and_comes_back_after(client):
    response = client.get("/portal/")
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("account_login"))
    assert "next=/portal/" in response["Location"]


def test_old_addresses_lead_to_the_portal(client):
    assert client.get("/").headers["Location"] == reverse("portal:home")
    assert client.get("/accounts/login/").headers["Location"] == reverse("account_login")


def test_the_home_page_shows_the_membership_plan_and_next_payment(
    member_client, portal_member, django_capture_on_commit_callbacks
):
    plan = PlanFactory(name="Gold monthly", price=150_000)
    with django_capture_on_commit_callbacks(execute=True):
        membership = signed_up(member=portal_member, plan=plan)
    html = member_client.get("/portal/").content.decode()
    assert portal_member.first_name in html
    assert "Gold monthly" in html
    assert "Active" in html
    assert "฿1,500.00" in html  # the next payment
    assert membership.next_billing_date is not None


def test_a_suspended_member_reads_why_and_what_is_owed(member_client, portal_member):
    membership = signed_up(member=portal_member, token="tok_decline_insufficient_funds")
    assert membership.status in (MembershipStatus.PENDING, MembershipStatus.PAST_DUE)
    membership.status = MembershipStatus.SUSPENDED
    membership.save(update_fields=["status"])
    html = member_client.get("/portal/").content.decode()
    assert "Your access is paused because a payment is overdue" in html
    assert "owed" in html


def test_staff_get_nothing_in_the_portal(client, make_staff):
    client.force_login(make_staff(roles.FRONT_DESK))
    assert client.get("/portal/").status_code == 404


def test_a_signed_in_user_who_is_not_a_member_gets_404(client, django_user_model):
    client.force_login(django_user_model.objects.create_user("someone", password="x"))
    assert client.get("/portal/").status_code == 404


def test_a_member_signs_in_with_email_and_password(portal_member):
    client = Client()
    response = client.post(
        reverse("account_login"), {"login": portal_member.email, "password": PASSWORD}
    )
    assert response.status_code == 302
    assert response["Location"] == reverse("portal:home")
    assert client.get("/portal/").status_code == 200


def test_signing_in_switches_to_the_members_language(make_portal_member):
    member = make_portal_member(language="th")
    client = Client()
    response = client.post(reverse("account_login"), {"login": member.email, "password": PASSWORD})
    assert response.cookies[settings.LANGUAGE_COOKIE_NAME].value == "th"


def test_a_members_session_never_opens_the_admin(member_client):
    response = member_client.get("/admin/")
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("admin:login"))


def test_a_member_cannot_sign_in_to_the_admin_with_their_password(portal_member):
    client = Client()
    response = client.post(
        reverse("admin:login"), {"username": portal_member.email, "password": PASSWORD}
    )
    assert response.status_code == 200  # the form again, with its error
    assert client.get("/admin/").status_code == 302


def test_staff_cannot_sign_in_to_the_portal_even_with_the_right_password(
    make_staff, django_user_model
):
    staff = make_staff(roles.FRONT_DESK)
    staff.email = "desk@example.com"
    staff.set_password(PASSWORD)
    staff.save()
    client = Client()
    response = client.post(
        reverse("account_login"), {"login": "desk@example.com", "password": PASSWORD}
    )
    assert response.status_code == 200
    assert "_auth_user_id" not in client.session


def test_repeated_wrong_passwords_lock_the_sign_in(portal_member):
    client = Client()
    for _attempt in range(settings.MEMBER_LOGIN_ATTEMPTS):
        response = client.post(
            reverse("account_login"), {"login": portal_member.email, "password": "wrong"}
        )
        assert response.status_code == 200
    response = client.post(
        reverse("account_login"), {"login": portal_member.email, "password": PASSWORD}
    )
    assert response.status_code == 200  # even the right password is refused now
    assert "Too many failed login attempts" in response.content.decode()
    assert "_auth_user_id" not in client.session


def test_a_member_signs_in_with_a_code_sent_by_email(portal_member):
    client = Client()
    mail.outbox.clear()
    response = client.post(reverse("account_request_login_code"), {"email": portal_member.email})
    assert response.status_code == 302
    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == [portal_member.email]
    code = _code_in(mail.outbox[0].body)
    response = client.post(reverse("account_confirm_login_code"), {"code": code})
    assert response.status_code == 302
    assert response["Location"] == reverse("portal:home")
    assert client.get("/portal/").status_code == 200


def test_a_code_for_an_unknown_address_signs_nobody_in():
    client = Client()
    mail.outbox.clear()
    client.post(reverse("account_request_login_code"), {"email": "nobody@example.com"})
    assert [_code_or_none(message.body) for message in mail.outbox] == [None] * len(mail.outbox)
    assert "_auth_user_id" not in client.session


def _code_or_none(body: str) -> str | None:
    match = re.search(r"^\s*([A-Z0-9]{4}-[A-Z0-9]{4})\s*$", body, re.MULTILINE)
    return match.group(1) if match else None


def _code_in(body: str) -> str:
    code = _code_or_none(body)
    assert code, body
    return code


def test_the_portal_sends_its_content_security_policy(member_client):
    response = member_client.get("/portal/")
    policy = response.headers["Content-Security-Policy"]
    assert "default-src 'self'" in policy and "frame-ancestors 'none'" in policy
    assert response.headers["Cache-Control"].startswith("max-age=0")


def test_the_language_switch_keeps_the_members_choice(member_client, portal_member):
    response = member_client.post(
        reverse("portal:language"), {"language": "th", "next": "/portal/"}
    )
    assert response.status_code == 302 and response["Location"] == "/portal/"
    assert response.cookies[settings.LANGUAGE_COOKIE_NAME].value == "th"
    portal_member.refresh_from_db()
    assert portal_member.language == "th"


def test_the_language_switch_never_sends_a_visitor_elsewhere(client):
    response = client.post(
        reverse("portal:language"), {"language": "en", "next": "https://evil.example/"}
    )
    assert response["Location"] == reverse("portal:home")


def test_a_payer_sees_their_dependants_and_nobody_elses(portal_member, member_client):
    household = services.household_create(payer=portal_member, name="The family")
    child = MemberFactory(first_name="Kid", guardian=portal_member)
    services.household_add_member(household, child)
    stranger = MemberFactory(first_name="Stranger")
    home = member_client.get("/portal/").content.decode()
    assert "Kid" in home and "Stranger" not in home
    assert member_client.get(reverse("portal:dependant", args=[child.pk])).status_code == 200
    assert member_client.get(reverse("portal:dependant", args=[stranger.pk])).status_code == 404
    assert member_client.get("/portal/family/999999999/").status_code == 404


def test_a_dependant_cannot_open_the_payers_page(portal_member, make_portal_member):
    child = make_portal_member(first_name="Teen")
    household = services.household_create(payer=portal_member, name="The family")
    services.household_add_member(household, child)
    client = Client()
    client.force_login(child.user)
    assert client.get(reverse("portal:dependant", args=[portal_member.pk])).status_code == 404


def test_a_login_is_made_once_and_follows_the_members_email():
    member = MemberFactory(email="first@example.com")
    user = services.member_login_ensure(member)
    assert services.member_login_ensure(member).pk == user.pk
    services.member_update(member, email="second@example.com")
    user = services.member_login_ensure(member, email_verified=True)
    user.refresh_from_db()
    assert user.email == "second@example.com" and not user.is_staff
    assert Member.objects.get(pk=member.pk).user_id == user.pk
