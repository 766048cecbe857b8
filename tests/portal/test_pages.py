"""The portal's own pages: profile, privacy, the QR pass and the invite link."""

from __future__ import annotations

import datetime as dt
import re

import pytest
import time_machine
from django.conf import settings
from django.core import mail
from django.test import Client
from django.urls import reverse

from access_control.credentials import qr_parse
from access_control.models import Credential, CredentialKind
from config import clock
from members import services
from members.models import Member, PrivacyRequest, PrivacyRequestKind, PrivacyRequestStatus
from tests.factories import MemberFactory

pytestmark = pytest.mark.django_db

PROFILE = {
    "nickname": "Ploy",
    "phone": "0812345678",
    "address_line1": "99 Sukhumvit Rd",
    "address_line2": "",
    "city": "Khlong Toei",
    "province": "Bangkok",
    "postal_code": "10110",
    "emergency_contact_name": "Somchai",
    "emergency_contact_phone": "0898765432",
    "emergency_contact_relationship": "Brother",
    "language": "th",
    "transactional_email": "on",
    "transactional_sms": "on",
    "marketing_email": "on",
    "tax_name": "Ploy Co., Ltd.",
    "tax_address": "1 Silom Rd, Bangkok 10500",
    "tax_id": "0-1055-51234-56-7",
    "tax_branch": "สำนักงานใหญ่",
}


def test_a_member_edits_their_details(member_client, portal_member):
    response = member_client.post(reverse("portal:profile"), PROFILE)
    assert response.status_code == 302, re.findall(r"errorlist.{0,300}", response.content.decode())
    assert response.cookies[settings.LANGUAGE_COOKIE_NAME].value == "th"
    member = Member.objects.get(pk=portal_member.pk)
    assert member.phone == "+66812345678"  # as the desk keeps it
    assert member.emergency_contact_name == "Somchai"
    assert member.tax_id == "0105551234567" and member.tax_name == "Ploy Co., Ltd."
    assert member.marketing_email and not member.marketing_sms
    assert member.marketing_consent_at is not None
    assert member.transactional_email and member.language == "th"


def test_marketing_is_separate_from_billing_messages(member_client, portal_member):
    data = {**PROFILE}
    data.pop("marketing_email")
    data.pop("transactional_sms")
    member_client.post(reverse("portal:profile"), data)
    member = Member.objects.get(pk=portal_member.pk)
    assert not member.marketing_email and member.marketing_consent_at is None
    assert member.transactional_email and not member.transactional_sms


def test_bad_details_are_refused_and_nothing_is_saved(member_client, portal_member):
    before = Member.objects.get(pk=portal_member.pk)
    response = member_client.post(
        reverse("portal:profile"), {**PROFILE, "tax_id": "12345", "phone": "not a phone"}
    )
    assert response.status_code == 200
    html = response.content.decode()
    assert "A Thai tax ID has 13 digits." in html
    after = Member.objects.get(pk=portal_member.pk)
    assert (after.phone, after.tax_id, after.nickname) == (before.phone, "", before.nickname)


def test_control_characters_are_refused(member_client, portal_member):
    response = member_client.post(reverse("portal:profile"), {**PROFILE, "nickname": "Ploy\x00"})
    assert response.status_code == 200
    assert Member.objects.get(pk=portal_member.pk).nickname != "Ploy\x00"


def test_a_member_cannot_change_what_the_desk_keeps(member_client, portal_member):
    member_client.post(
        reverse("portal:profile"), {**PROFILE, "first_name": "Hacker", "email": "x@example.com"}
    )
    member = Member.objects.get(pk=portal_member.pk)
    assert member.first_name == portal_member.first_name
    assert member.email == portal_member.email


def test_privacy_requests_are_recorded_once_for_staff(member_client, portal_member):
    url = reverse("portal:privacy")
    for _attempt in range(2):
        response = member_client.post(url, {"kind": "erasure", "note": "Moving abroad"})
        assert response.status_code == 302
    member_client.post(url, {"kind": "export"})
    requests = PrivacyRequest.objects.filter(member=portal_member)
    assert sorted(requests.values_list("kind", flat=True)) == ["erasure", "export"]
    erasure = requests.get(kind=PrivacyRequestKind.ERASURE)
    assert erasure.status == PrivacyRequestStatus.OPEN and erasure.note == "Moving abroad"
    assert erasure.ip_address == "127.0.0.1"
    assert "Erase my data" in member_client.get(url).content.decode()


def test_a_privacy_request_of_an_unknown_kind_is_refused(member_client, portal_member):
    response = member_client.post(reverse("portal:privacy"), {"kind": "everything"})
    assert response.status_code == 200
    assert not PrivacyRequest.objects.exists()


def test_the_pass_shows_a_code_the_gate_accepts_and_it_changes(member_client, portal_member):
    with time_machine.travel(dt.datetime(2026, 12, 7, 10, 0, 1, tzinfo=dt.UTC), tick=False):
        page = member_client.get(reverse("access_portal:pass"))
        first = member_client.get(reverse("access_portal:pass_code")).json()
    assert page.status_code == 200
    assert 'rel="manifest"' in page.content.decode()
    assert first["refresh_in"] == settings.ACCESS_QR_STEP_SECONDS - 1
    credential = Credential.objects.get(member=portal_member, kind=CredentialKind.QR)
    with time_machine.travel(dt.datetime(2026, 12, 7, 10, 0, 31, tzinfo=dt.UTC), tick=False):
        second = member_client.get(reverse("access_portal:pass_code")).json()
    assert first["src"] != second["src"]  # a new step, a new code
    assert first["src"].startswith("data:image/svg+xml;base64,")
    # One pass per member, however often the page opens.
    assert Credential.objects.filter(member=portal_member, kind=CredentialKind.QR).count() == 1
    assert credential.status == "active"


def test_a_screenshot_of_the_pass_stops_working_within_a_minute(portal_member):
    from access_control.services.credentials import member_qr_pass, qr_pass_current

    credential = member_qr_pass(portal_member)
    shown = dt.datetime(2026, 12, 7, 10, 0, 0, tzinfo=dt.UTC)
    text = qr_pass_current(credential, shown)
    assert qr_parse(text, shown + dt.timedelta(seconds=50)).fresh
    assert not qr_parse(text, shown + dt.timedelta(seconds=61)).fresh


def test_the_manifest_installs_the_pass(client):
    response = client.get(reverse("access_portal:manifest"))
    assert response["Content-Type"] == "application/manifest+json"
    body = response.json()
    assert body["start_url"] == reverse("access_portal:pass")
    assert body["display"] == "standalone" and body["icons"]


def test_the_desks_invite_lets_a_member_set_a_password_and_sign_in(
    admin_client, django_capture_on_commit_callbacks
):
    member = MemberFactory(language="en")
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(
            reverse("admin:members_member_changelist"),
            {"action": "send_portal_invite", "_selected_action": [member.pk]},
        )
    assert response.status_code == 302
    assert len(mail.outbox) == 1 and mail.outbox[0].to == [member.email]
    link = re.search(r"https?://\S+/portal/invite/\S+/", mail.outbox[0].body).group(0)
    path = "/" + link.split("/", 3)[3]
    client = Client()
    assert client.get(path).status_code == 200
    response = client.post(
        path, {"new_password1": "a long new password 7", "new_password2": "a long new password 7"}
    )
    assert response.status_code == 302 and response["Location"] == reverse("portal:home")
    assert client.get("/portal/").status_code == 200
    # Used once: the link opens nothing now.
    assert Client().get(path).status_code == 400


def test_an_invite_expires(portal_member, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        services.portal_invite_send(Member.objects.get(pk=portal_member.pk))
    link = re.search(r"/portal/invite/\S+/", mail.outbox[-1].body).group(0)
    later = clock.now() + dt.timedelta(days=settings.PORTAL_INVITE_MAX_AGE_DAYS, hours=1)
    with time_machine.travel(later):
        assert Client().get(link).status_code == 410


def test_a_tampered_invite_is_refused(portal_member, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        services.portal_invite_send(Member.objects.get(pk=portal_member.pk))
    link = re.search(r"/portal/invite/\S+/", mail.outbox[-1].body).group(0)
    assert Client().get(link[:-3] + "xx/").status_code == 400
    assert Client().get("/portal/invite/Zm9v/abc-def/").status_code == 400


def test_no_invite_for_a_member_without_email(admin_client):
    member = MemberFactory(email="")
    mail.outbox.clear()
    admin_client.post(
        reverse("admin:members_member_changelist"),
        {"action": "send_portal_invite", "_selected_action": [member.pk]},
    )
    assert mail.outbox == []
    assert Member.objects.get(pk=member.pk).user_id is None
