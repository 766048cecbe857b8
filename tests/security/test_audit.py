"""One audit trail: append-only, hash-chained, written by the services in the change's
transaction, naming who did it with the values before and after."""

from __future__ import annotations

import datetime as dt
import threading

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection, connections, transaction
from django.test import Client

from billing.models import Invoice, InvoiceStatus, LedgerKind, Payment
from billing.services.invoices import invoice_void, ledger_post
from billing.services.memberships import membership_cancel
from billing.services.refunds import payment_refund
from config import clock
from members import api_keys, audit, roles, staff_security
from members.audit_models import ActorKind, AuditAppendOnly, AuditRecord
from tests.billing.factories import PlanFactory, signed_up
from tests.factories import MemberFactory

pytestmark = pytest.mark.django_db


def latest(action: str) -> AuditRecord:
    return AuditRecord.objects.filter(action=action).order_by("-id").first()


@pytest.fixture
def owner(make_staff):
    return make_staff(roles.OWNER, username="owner")


def test_money_actions_are_recorded_with_before_and_after(
    owner, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        membership = signed_up(plan=PlanFactory())
    member = membership.member
    payment = Payment.objects.filter(invoice__membership=membership).get()
    with audit.acting(ActorKind.STAFF, "owner", user=owner):
        payment_refund(payment, amount=1_000, reason="Towel not returned")
    record = latest("payment.refund")
    assert record.member_id == member.pk and record.actor_user_id == owner.pk
    assert record.after["amount"] == 1_000 and record.reason == "Towel not returned"

    note = latest("credit_note.issue")
    assert note is not None and note.after["amount"] == 1_000

    entry = ledger_post(
        member,
        kind=LedgerKind.ACCOUNT_CHARGE,
        amount=5_000,
        currency=payment.currency,
        description="Protein shake",
        reference="audit-test",
        user=owner,
    )
    record = latest("ledger.post")
    assert record.subject_id == str(entry.pk) and record.after["amount"] == 5_000
    assert record.actor_kind == ActorKind.STAFF


def test_an_invoice_voided_is_recorded_with_its_status_before_and_after(owner):
    membership = signed_up(plan=PlanFactory(), token=None)
    invoice = Invoice.objects.filter(membership=membership, status=InvoiceStatus.OPEN).first()
    invoice_void(invoice, user=owner, reason="Entered twice")
    record = latest("invoice.void")
    assert record.before == {"status": "open"} and record.after["status"] == "void"
    assert record.reason == "Entered twice" and record.actor_label == "owner"


def test_membership_transitions_feed_the_trail(owner, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        membership = signed_up(plan=PlanFactory())
    membership_cancel(
        membership, at_period_end=False, waive_fees=True, reason="Moving away", actor=owner
    )
    history = AuditRecord.objects.filter(
        subject_type="billing.membership", subject_id=str(membership.pk)
    ).order_by("id")
    signed = history.get(action="membership.signed_up")
    assert signed.member_id == membership.member_id
    assert signed.before == {"status": "pending"} and signed.after["status"]
    cancelled = history.last()
    assert cancelled.action.startswith("membership.cancel") and cancelled.actor_user_id == owner.pk
    assert cancelled.before == {"status": "active"} and cancelled.after["status"] != "active"


def test_credentials_are_recorded(owner, make_staff):
    key, _plain = api_keys.api_key_create(
        name="Door system",
        scopes=["access:devices"],
        expires_at=clock.now() + dt.timedelta(days=30),
        created_by=owner,
    )
    assert latest("api_key.create").after["scopes"] == ["access:devices"]
    api_keys.api_key_revoke(key, actor=owner)
    revoked = latest("api_key.revoke")
    assert revoked.before == {"revoked_at": None} and revoked.after["revoked_at"]
    manager = make_staff(roles.MANAGER, username="manager")
    staff_security.second_factor_reset(manager, actor=owner)
    assert latest("staff.second_factor_reset").actor_user_id == owner.pk


def test_a_request_names_its_actor_request_id_and_address(owner):
    client = Client()
    client.force_login(owner)
    member = MemberFactory()
    membership = signed_up(plan=PlanFactory(), member=member, token=None)
    invoice = Invoice.objects.filter(membership=membership, status=InvoiceStatus.OPEN).first()
    with audit.serving(_FakeRequest(owner), request_id="req-123"):
        invoice_void(invoice, reason="Duplicate")
    record = latest("invoice.void")
    assert (record.request_id, record.ip_address) == ("req-123", "10.1.2.3")
    assert record.actor_label == "owner"
    response = client.get(f"/admin/members/auditrecord/?member__id__exact={member.pk}")
    assert response.status_code == 200
    assert "invoice.void" in response.content.decode()
    assert response["X-Request-ID"]


class _FakeRequest:
    def __init__(self, user):
        self.user = user
        self.META = {"REMOTE_ADDR": "10.1.2.3"}


def test_records_cannot_be_changed_or_deleted_through_the_orm_or_sql(owner):
    record = audit.audit_record("test.thing", subject_type="x", subject_id=1, actor=owner)
    record.reason = "changed"
    with pytest.raises(AuditAppendOnly):
        record.save()
    with pytest.raises(AuditAppendOnly):
        record.delete()
    with pytest.raises(AuditAppendOnly):
        AuditRecord.objects.filter(pk=record.pk).update(reason="x")
    with pytest.raises(AuditAppendOnly):
        AuditRecord.objects.filter(pk=record.pk).delete()
    with (
        pytest.raises(Exception, match="append-only"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute("UPDATE members_auditrecord SET reason = 'x' WHERE id = %s", [record.pk])


def test_the_chain_check_passes_then_fails_on_an_edited_record(owner, capsys):
    for number in range(5):
        audit.audit_record("test.thing", subject_type="x", subject_id=number, after={"n": number})
    call_command("audit_verify")
    assert "intact: 5 records" in capsys.readouterr().out
    victim = AuditRecord.objects.order_by("id")[2]
    with connection.cursor() as cursor:  # someone with the database's keys
        cursor.execute("ALTER TABLE members_auditrecord DISABLE TRIGGER USER")
        cursor.execute(
            "UPDATE members_auditrecord SET after = '{\"n\": 99}' WHERE id = %s", [victim.pk]
        )
        cursor.execute("ALTER TABLE members_auditrecord ENABLE TRIGGER USER")
    with pytest.raises(CommandError, match=f"record {victim.pk} was changed"):
        call_command("audit_verify")


@pytest.mark.django_db(transaction=True)
def test_concurrent_writers_keep_a_valid_chain():
    start = threading.Barrier(8)

    def write(number: int) -> None:
        try:
            start.wait()
            for step in range(10):
                with transaction.atomic():
                    audit.audit_record(
                        "test.thing", subject_type="x", subject_id=f"{number}-{step}"
                    )
        finally:
            connections.close_all()

    threads = [threading.Thread(target=write, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    report = audit.chain_verify()
    assert report.broken_at is None and report.checked == 80
    assert AuditRecord.objects.values("prev_hash").distinct().count() == 80
