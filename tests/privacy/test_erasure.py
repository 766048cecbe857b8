"""Erasure (issue 16, point 4): a request a manager approves, then the member's personal
data anonymised; invoices, tax documents and money unchanged; the member can't be found
by name, email, phone or card; access and memberships end; the audit trail records it
without the erased details; after the retention period the kept buyer goes too."""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Any

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.urls import reverse

from access_control.models import Credential, CredentialStatus
from access_control.services.credentials import credential_issue
from billing.documents.tax_invoice import tax_invoice_context
from billing.models import (
    Invoice,
    InvoiceBuyer,
    InvoiceLine,
    InvoiceStatus,
    MembershipStatus,
    Payment,
    PaymentMethod,
)
from billing.services import invoices as inv
from members import roles, services
from members.models import (
    AuditRecord,
    Consent,
    Lead,
    Member,
    PrivacyRequestSource,
    PrivacyRequestStatus,
)
from members.privacy import erasure
from members.privacy.retention import retention_run
from members.selectors import member_search
from tests.billing.factories import signed_up

pytestmark = pytest.mark.django_db

RFID = "04A1B2C3D4"


def settled(membership: Any) -> None:
    for invoice in Invoice.objects.filter(member=membership.payer, status=InvoiceStatus.OPEN):
        inv.payment_record_manual(invoice, amount=invoice.amount_due, source="cash")


@pytest.fixture
def member() -> Member:
    membership = signed_up()
    settled(membership)
    member = membership.member
    services.member_update(
        member,
        first_name="Somchai",
        last_name="Jaidee",
        nickname="Chai",
        email="somchai.jaidee@example.com",
        phone="+66812345678",
        address_line1="99 Sukhumvit Road",
        city="Khlong Toei",
        emergency_contact_name="Malee Jaidee",
        emergency_contact_phone="+66898765432",
        tax_name="Jaidee Trading Co., Ltd.",
        tax_address="1 Silom Road, Bangkok 10500",
        tax_id="0105551234567",
    )
    services.member_set_marketing_consent(member, email=True, sms=True)
    services.note_add(member=member, body="Knee injury, see staff", is_alert=True, author=None)
    credential_issue(member, kind="rfid", value=RFID)
    Lead.objects.create(
        first_name="Somchai",
        last_name="Jaidee",
        email=member.email,
        phone=member.phone,
        member=member,
    )
    user = services.member_login_ensure(member, email_verified=True)
    user.set_password("a long password for tests")
    user.save()
    member.refresh_from_db()
    return member


def approved(member: Member, approver: Any, requested_by: Any = None) -> Member:
    source = PrivacyRequestSource.DESK if requested_by else PrivacyRequestSource.PORTAL
    request = erasure.erasure_request(member, source=source, requested_by=requested_by)
    erasure.erasure_approve(request, by=approver)
    member.refresh_from_db()
    return member


def money_and_documents(member: Member) -> dict[str, Any]:
    invoices = Invoice.objects.filter(member=member).order_by("pk")
    return {
        "invoices": list(
            invoices.values(
                "pk",
                "number",
                "status",
                "subtotal",
                "tax_total",
                "total",
                "amount_paid",
                "amount_credited",
                "issued_at",
                "paid_at",
                "seller_tax_id",
            )
        ),
        "lines": list(InvoiceLine.objects.filter(invoice__member=member).order_by("pk").values()),
        "payments": list(Payment.objects.filter(invoice__member=member).order_by("pk").values()),
        "documents": [
            {
                key: dataclasses.asdict(value) if dataclasses.is_dataclass(value) else value
                for key, value in tax_invoice_context(invoice).items()
                if key not in {"invoice", "lines"}
            }
            for invoice in invoices.exclude(number=None)
        ],
    }


def test_erasure_leaves_every_invoice_total_and_tax_document_unchanged(member, make_staff):
    before = money_and_documents(member)
    assert before["invoices"] and before["documents"]
    assert before["documents"][0]["buyer"]["name"] == "Jaidee Trading Co., Ltd."
    approved(member, make_staff(roles.MANAGER))
    assert money_and_documents(member) == before
    assert InvoiceBuyer.objects.filter(invoice__member=member).count() == len(before["documents"])


def test_personal_data_is_anonymised_and_access_revoked(member, make_staff):
    user_id = member.user_id
    member = approved(member, make_staff(roles.MANAGER))
    assert member.erased_at is not None
    assert (member.first_name, member.last_name, member.nickname) == ("Erased", "member", "")
    for field in (
        "email",
        "phone",
        "address_line1",
        "city",
        "emergency_contact_name",
        "emergency_contact_phone",
        "tax_name",
        "tax_address",
        "tax_id",
    ):
        assert getattr(member, field) == "", field
    assert member.date_of_birth is None and not member.marketing_email and not member.marketing_sms
    assert not member.notes.exists()
    credential = Credential.objects.get(member=member)
    assert credential.status == CredentialStatus.REVOKED and RFID not in credential.value
    card = PaymentMethod.objects.get(member=member)
    assert (card.brand, card.last4, card.fingerprint, card.status) == ("", "", "", "detached")
    assert not member.memberships.filter(
        status__in=[MembershipStatus.ACTIVE, MembershipStatus.PAST_DUE, MembershipStatus.FROZEN]
    ).exists()
    lead = Lead.objects.get(member=member)
    assert "somchai" not in f"{lead.first_name} {lead.email}".lower() and lead.phone == ""
    from django.contrib.auth import get_user_model

    login = get_user_model().objects.get(pk=user_id)
    assert not login.is_active and not login.has_usable_password() and login.email == ""
    assert "somchai" not in login.username
    withdrawn = Consent.objects.filter(member=member, source="erasure", granted=False)
    assert set(withdrawn.values_list("kind", flat=True)) == {"marketing_email", "marketing_sms"}


def test_an_erased_member_cant_be_found_by_name_email_phone_or_card(member, make_staff, client):
    terms = ["Somchai", "Jaidee", "somchai.jaidee@example.com", "0812345678", "+66812345678", RFID]
    for term in terms:
        assert member_search(term).filter(pk=member.pk).exists(), term  # found before
    approved(member, make_staff(roles.MANAGER))
    desk = make_staff(roles.FRONT_DESK, username="desk2")
    client.force_login(desk)
    for term in terms:
        assert not member_search(term).filter(pk=member.pk).exists(), term
        page = client.get(reverse("admin:members_member_changelist"), {"q": term})
        assert page.status_code == 200
        assert member.pk not in [m.pk for m in page.context["cl"].result_list], term
        api = client.get("/api/v1/members/", {"q": term})
        assert api.status_code == 200
        assert member.pk not in [row["id"] for row in api.json()["results"]], term


def test_only_a_manager_or_owner_approves_and_never_the_staff_member_who_recorded_it(
    member, make_staff
):
    desk = make_staff(roles.FRONT_DESK)
    manager = make_staff(roles.MANAGER)
    request = erasure.erasure_request(
        member, source=PrivacyRequestSource.DESK, requested_by=manager
    )
    with pytest.raises(PermissionDenied):
        erasure.erasure_approve(request, by=desk)
    with pytest.raises(PermissionDenied):
        erasure.erasure_approve(request, by=manager)
    member.refresh_from_db()
    assert member.erased_at is None and member.first_name == "Somchai"
    owner = make_staff(roles.OWNER)
    erasure.erasure_approve(request, by=owner)
    request.refresh_from_db()
    assert request.status == PrivacyRequestStatus.DONE and request.handled_by == owner


def test_what_is_owed_stops_the_erasure_and_nothing_changes(make_staff):
    membership = signed_up(token=None)
    member = membership.member
    assert Invoice.objects.filter(member=member, status=InvoiceStatus.OPEN).exists()
    request = erasure.erasure_request(member)
    with pytest.raises(ValidationError) as refused:
        erasure.erasure_approve(request, by=make_staff(roles.MANAGER))
    assert "open" in " ".join(refused.value.messages)
    member.refresh_from_db()
    request.refresh_from_db()
    assert member.erased_at is None and request.status == PrivacyRequestStatus.OPEN


def test_the_audit_trail_records_the_erasure_without_the_erased_details(member, make_staff):
    approved(member, make_staff(roles.MANAGER))
    record = AuditRecord.objects.get(action="member.erasure_done")
    assert record.member_id == member.pk and record.actor_label == "manager"
    text = f"{record.subject_label} {record.before} {record.after} {record.reason}".lower()
    for detail in ("somchai", "jaidee", "example.com", "812345678", "sukhumvit"):
        assert detail not in text
    assert AuditRecord.objects.filter(action="member.erasure_requested", member=member).exists()


def test_after_the_retention_period_the_kept_buyer_is_anonymised_too(member, make_staff):
    approved(member, make_staff(roles.MANAGER))
    issued = Invoice.objects.filter(member=member).exclude(number=None)
    latest = max(invoice.issued_at for invoice in issued if invoice.issued_at)
    assert retention_run(latest + dt.timedelta(days=365 * 5 - 2)) == {}
    assert not InvoiceBuyer.objects.filter(invoice__member=member, anonymised_at__isnull=False)
    counts = retention_run(latest + dt.timedelta(days=365 * 5 + 2))
    assert counts == {"billing.InvoiceBuyer": issued.count()}
    buyer = InvoiceBuyer.objects.filter(invoice__member=member).first()
    assert buyer.tax_id == "" and "Jaidee" not in buyer.name
    totals = list(issued.values_list("total", flat=True))
    assert all(total > 0 for total in totals)
    assert AuditRecord.objects.filter(action="privacy.retention").count() == 1


def test_declining_needs_a_reason_and_the_member_stays(member, make_staff):
    request = erasure.erasure_request(member)
    manager = make_staff(roles.MANAGER)
    with pytest.raises(ValidationError):
        erasure.erasure_decline(request, by=manager, answer="  ")
    erasure.erasure_decline(request, by=manager, answer="A legal claim is open.")
    request.refresh_from_db()
    assert request.status == PrivacyRequestStatus.REFUSED
    with pytest.raises(ValidationError):
        erasure.erasure_approve(request, by=manager)
    member.refresh_from_db()
    assert member.erased_at is None
