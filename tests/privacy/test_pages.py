"""The privacy pages: the member's page at the desk (download, erasure recorded and
approved, consents) and the portal's (the member's own copy through a signed, expiring
link; an erasure request).  Roles on every view; bad input answers 4xx, never 500."""

from __future__ import annotations

import datetime as dt
import io
import json
import zipfile

import pytest
from django.test import Client
from django.urls import reverse

from config import clock
from members import roles, services
from members.models import (
    AuditRecord,
    Member,
    PrivacyRequest,
    PrivacyRequestKind,
    PrivacyRequestStatus,
)
from members.privacy.export import export_link_token
from tests.factories import MemberFactory

pytestmark = pytest.mark.django_db


def names(content: bytes) -> list[str]:
    with zipfile.ZipFile(io.BytesIO(content)) as archive:
        return archive.namelist()


def staff_client(make_staff, role: str, username: str | None = None) -> Client:
    client = Client()
    client.force_login(make_staff(role, username=username))
    return client


def test_a_manager_downloads_a_members_data_and_it_is_audited(make_staff):
    member = MemberFactory(first_name="Anong")
    client = staff_client(make_staff, roles.MANAGER)
    page = client.get(reverse("admin:members_member_privacy", args=[member.pk]))
    assert page.status_code == 200 and b"privacy-download" in page.content
    response = client.post(reverse("admin:members_member_privacy_export", args=[member.pk]))
    assert response.status_code == 200
    assert response["Content-Type"] == "application/zip"
    assert f"member-{member.member_number}-data" in response["Content-Disposition"]
    assert "json/members_member.json" in names(response.content)
    record = AuditRecord.objects.get(action="member.export")
    assert record.member_id == member.pk and record.actor_label == "manager"


def test_the_front_desk_can_not_download_a_members_data(make_staff):
    member = MemberFactory()
    client = staff_client(make_staff, roles.FRONT_DESK)
    page = client.get(reverse("admin:members_member_privacy", args=[member.pk]))
    assert page.status_code == 200 and b"privacy-download" not in page.content
    response = client.post(reverse("admin:members_member_privacy_export", args=[member.pk]))
    assert response.status_code == 403
    assert not AuditRecord.objects.filter(action="member.export").exists()


def test_the_desk_records_an_erasure_and_another_manager_approves_it(make_staff):
    member = MemberFactory(first_name="Anong", last_name="Srisuk")
    desk = staff_client(make_staff, roles.FRONT_DESK)
    url = reverse("admin:members_member_privacy_erasure", args=[member.pk])
    assert desk.post(url, {"note": "Asked at reception"}).status_code == 302
    request = PrivacyRequest.objects.get(member=member, kind=PrivacyRequestKind.ERASURE)
    assert request.source == "desk" and request.requested_by.username == "front_desk"
    decide = reverse("admin:members_member_privacy_decide", args=[member.pk, request.pk, "approve"])
    # The front desk can't approve.
    assert desk.post(decide, {"confirm": member.member_number}).status_code == 403
    manager = staff_client(make_staff, roles.MANAGER)
    # Without the member number typed, nothing happens.
    manager.post(decide, {"confirm": "nope"})
    member.refresh_from_db()
    assert member.erased_at is None
    assert manager.post(decide, {"confirm": member.member_number}).status_code == 302
    member.refresh_from_db()
    assert member.erased_at is not None and member.first_name == "Erased"
    page = manager.get(reverse("admin:members_member_privacy", args=[member.pk]))
    assert b"erased-mark" in page.content and b"Anong" not in page.content


def test_a_manager_who_recorded_the_request_can_not_approve_it(make_staff):
    member = MemberFactory()
    manager = staff_client(make_staff, roles.MANAGER)
    manager.post(reverse("admin:members_member_privacy_erasure", args=[member.pk]), {})
    request = PrivacyRequest.objects.get(member=member)
    page = manager.get(reverse("admin:members_member_privacy", args=[member.pk]))
    assert b"erasure-approve-button" not in page.content
    decide = reverse("admin:members_member_privacy_decide", args=[member.pk, request.pk, "approve"])
    assert manager.post(decide, {"confirm": member.member_number}).status_code == 403
    member.refresh_from_db()
    assert member.erased_at is None


@pytest.mark.parametrize(
    "decision, data",
    [
        ("approve", {"confirm": "\x00\x1b[31m"}),
        ("decline", {"answer": "\x07" * 3}),
        ("decline", {"answer": "x" * 5000}),
        ("explode", {}),
    ],
)
def test_hostile_input_on_the_decision_is_a_clear_answer_never_a_500(make_staff, decision, data):
    member = MemberFactory()
    request = services.privacy_request_make(member, kind=PrivacyRequestKind.ERASURE)
    manager = staff_client(make_staff, roles.MANAGER)
    url = reverse("admin:members_member_privacy_decide", args=[member.pk, request.pk, decision])
    response = manager.post(url, data)
    assert response.status_code in (302, 404)
    request.refresh_from_db()
    assert request.status == PrivacyRequestStatus.OPEN


def test_consents_are_shown_with_their_time_and_source(make_staff):
    member = MemberFactory()
    services.member_set_marketing_consent(member, email=True, sms=False)
    services.member_set_marketing_consent(member, email=False, sms=False)
    client = staff_client(make_staff, roles.FRONT_DESK)
    page = client.get(reverse("admin:members_member_privacy", args=[member.pk]))
    consents = list(page.context["consents"])
    kinds = [(c.kind, c.granted, c.source) for c in consents]
    assert ("marketing_email", True, "portal") in kinds
    assert ("marketing_email", False, "portal") in kinds
    assert all(c.at is not None for c in consents)


# --- the portal --------------------------------------------------------------------


def test_a_member_gets_their_own_copy_through_a_signed_link(member_client, portal_member):
    response = member_client.post(reverse("portal:privacy"), {"kind": "export"})
    assert response.status_code == 302
    page = member_client.get(reverse("portal:privacy"))
    link = next(entry["link"] for entry in page.context["requests"] if entry["link"])
    download = member_client.get(link)
    assert download.status_code == 200 and download["Content-Type"] == "application/zip"
    with zipfile.ZipFile(io.BytesIO(download.content)) as archive:
        profile = json.loads(archive.read("json/members_member.json"))
    assert [row["id"] for row in profile] == [portal_member.pk]
    assert AuditRecord.objects.filter(action="member.export", member=portal_member).exists()


def test_a_link_works_only_for_its_member_and_expires(
    member_client, portal_member, make_portal_member
):
    other = make_portal_member()
    request = PrivacyRequest.objects.create(
        member=other, kind="export", status="done", handled_at=clock.now()
    )
    others_link = reverse("portal:privacy_download", args=[export_link_token(request)])
    assert member_client.get(others_link).status_code == 404
    tampered = reverse("portal:privacy_download", args=["1:2:abc"])
    assert member_client.get(tampered).status_code == 404
    old = PrivacyRequest.objects.create(
        member=portal_member,
        kind="export",
        status="done",
        requested_at=clock.now() - dt.timedelta(hours=25),
    )
    expired = member_client.get(reverse("portal:privacy_download", args=[export_link_token(old)]))
    assert expired.status_code == 410
    assert not AuditRecord.objects.filter(action="member.export").exists()
    anonymous = Client().get(others_link)
    assert anonymous.status_code in (302, 403)


def test_a_member_asks_for_erasure_from_the_portal_once(member_client, portal_member):
    url = reverse("portal:privacy")
    member_client.post(url, {"kind": "erasure", "note": "Moving abroad"})
    member_client.post(url, {"kind": "erasure", "note": "Again"})
    requests = PrivacyRequest.objects.filter(member=portal_member, kind="erasure")
    assert requests.count() == 1 and requests.get().source == "portal"
    page = member_client.get(url)
    assert b"erasure-pending" in page.content


def test_an_erased_member_is_signed_out_of_the_portal(member_client, portal_member, make_staff):
    from members.privacy import erasure

    request = erasure.erasure_request(portal_member)
    erasure.erasure_approve(request, by=make_staff(roles.MANAGER))
    response = member_client.get(reverse("portal:privacy"))
    assert response.status_code == 302
    assert Member.objects.get(pk=portal_member.pk).erased_at is not None


def test_a_consent_changed_through_the_staff_api_is_recorded_as_the_apis(make_staff):
    from rest_framework.test import APIClient

    member = MemberFactory()
    client = APIClient()
    client.force_authenticate(make_staff(roles.FRONT_DESK))
    response = client.patch(f"/api/v1/members/{member.pk}/", {"marketing_sms": True}, format="json")
    assert response.status_code == 200
    consent = member.consents.get(kind="marketing_sms")
    assert consent.granted and consent.source == "api" and consent.recorded_by is not None
