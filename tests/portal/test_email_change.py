"""A member's email is both where the gym writes and how they sign in: the two move
together, whichever side changes it, and the change is in the audit trail."""

from __future__ import annotations

import re

import pytest
from allauth.account.models import EmailAddress
from django.core import mail
from django.core.exceptions import ValidationError
from django.test import Client
from django.urls import reverse

from members import services
from members.models import AuditRecord, Member
from tests.factories import MemberFactory

from .conftest import PASSWORD

pytestmark = pytest.mark.django_db


def _signed_in(member: Member) -> Client:
    client = Client()
    response = client.post(reverse("account_login"), {"login": member.email, "password": PASSWORD})
    assert response.status_code == 302
    return client


def test_a_confirmed_new_address_becomes_the_members_email(make_portal_member):
    member = make_portal_member(email="old@example.com")
    client = _signed_in(member)
    mail.outbox.clear()

    response = client.post(reverse("account_email"), {"email": "New@Example.com", "action_add": ""})
    assert response.status_code == 302
    member.refresh_from_db()
    assert member.email == "old@example.com"  # not before the member shows it is theirs

    (message,) = mail.outbox
    assert message.to == ["new@example.com"]
    link = re.search(r"https?://[^/\s]+(/\S+/confirm-email/\S+/)", message.body)
    assert link is not None, message.body
    response = client.post(link.group(1))
    assert response.status_code == 302

    member.refresh_from_db()
    assert member.email == "new@example.com"
    assert member.user.email == "new@example.com"
    record = AuditRecord.objects.get(action="member.email_change", member_id=member.pk)
    # The trail outlives an erasure: the addresses are masked, the member named by number.
    assert record.before == {"email": "o***@example.com"}
    assert record.after == {"email": "n***@example.com"}
    assert member.last_name not in record.subject_label
    assert f"#{member.member_number}" in record.subject_label
    assert record.actor_kind == "member"


def test_a_confirmed_address_another_member_holds_leaves_the_record_alone(make_portal_member):
    member = make_portal_member(email="mine@example.com")
    MemberFactory(email="theirs@example.com")
    user = member.user

    services.member_login_email_confirmed(user, "theirs@example.com")

    member.refresh_from_db()
    assert member.email == "mine@example.com"
    assert not AuditRecord.objects.filter(action="member.email_change").exists()


def test_the_desk_changing_the_email_moves_the_login_unverified(make_portal_member):
    member = make_portal_member(email="before@example.com")

    services.member_update(member, email="after@example.com")

    member.user.refresh_from_db()
    assert member.user.email == "after@example.com"
    addresses = list(EmailAddress.objects.filter(user=member.user).values_list("email", "verified"))
    assert addresses == [("after@example.com", False)]
    # The old address signs nobody in any more.
    client = Client()
    response = client.post(
        reverse("account_login"), {"login": "before@example.com", "password": PASSWORD}
    )
    assert response.status_code == 200
    assert "_auth_user_id" not in client.session


def test_the_desk_cannot_give_a_member_another_logins_address(make_portal_member):
    first = make_portal_member(email="one@example.com")
    second = make_portal_member(email="two@example.com")

    with pytest.raises(ValidationError) as caught:
        services.member_update(second, email="ONE@example.com")

    assert caught.value.error_dict["email"][0].code in {"login_email_taken", "email_taken"}
    second.refresh_from_db()
    assert second.email == "two@example.com"
    assert first.user.email == "one@example.com"


def test_a_login_address_without_a_member_record_is_also_refused(
    make_portal_member, django_user_model
):
    django_user_model.objects.create_user("coach", email="coach@example.com", is_staff=True)
    member = make_portal_member(email="member@example.com")

    with pytest.raises(ValidationError) as caught:
        services.member_update(member, email="coach@example.com")

    assert caught.value.error_dict["email"][0].code == "login_email_taken"
    member.refresh_from_db()
    assert member.email == "member@example.com"
