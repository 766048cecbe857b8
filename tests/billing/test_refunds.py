"""Refunds are never made twice and never lost: pending until the gateway answers."""

from __future__ import annotations

import datetime as dt
import threading

import pytest
import time_machine
from django.db import connection

from billing.errors import RefundNotAllowed
from billing.gateways import get_gateway
from billing.models import CreditNote, Invoice, Payment, Refund, RefundStatus
from billing.services import refunds, webhooks
from billing.services.invoices import invoice_create, payment_record
from billing.services.lines import LineSpec
from members import roles
from tests.billing.factories import signed_up
from tests.factories import MemberFactory

# Real commits: charges and refunds run as in production.
pytestmark = pytest.mark.django_db(transaction=True)
START = dt.datetime(2027, 1, 31, 3, 0, tzinfo=dt.UTC)


@pytest.fixture(autouse=True)
def clock():
    with time_machine.travel(START, tick=False) as traveller:
        yield traveller


@pytest.fixture
def paid() -> Payment:
    """A card payment of ฿1,500.00 for a membership's first period."""
    membership = signed_up()
    return Invoice.objects.get(membership=membership).payments.get()


def refunded_at_bank(payment: Payment) -> int:
    assert payment.attempt is not None
    return get_gateway("sandbox").total_refunded(payment.attempt.gateway_reference)


def test_a_lost_reply_leaves_the_refund_pending_and_holding_its_amount(paid):
    get_gateway("sandbox").lose_refund_replies(1)
    refund = refunds.payment_refund(paid, amount=50_000, reason="Broken shower")
    assert refund.status == RefundStatus.PENDING and refund.tries == 1
    assert refunded_at_bank(paid) == 50_000, "the bank did act"
    paid.refresh_from_db()
    assert paid.amount_refunded == 0 and not CreditNote.objects.exists()
    left = paid.amount - 50_000
    with pytest.raises(RefundNotAllowed) as refused:
        refunds.payment_refund(paid, amount=left + 1, reason="Too much with the pending one")
    assert refused.value.reason == "exceeds_payment"


def test_the_job_asks_again_after_a_quiet_spell_and_settles_once(clock, paid):
    get_gateway("sandbox").lose_refund_replies(1)
    refund = refunds.payment_refund(paid, amount=50_000, reason="Broken shower")
    assert refunds.refunds_resend_pending().asked == 0, "too soon to ask again"
    clock.move_to(START + refunds.RESEND_AFTER + dt.timedelta(seconds=1))
    report = refunds.refunds_resend_pending()
    assert (report.asked, report.settled) == (1, 1)
    refund.refresh_from_db()
    paid.refresh_from_db()
    assert refund.status == RefundStatus.SUCCEEDED and refund.gateway_reference
    assert paid.amount_refunded == 50_000
    assert CreditNote.objects.get(refund=refund).amount == 50_000
    assert refunded_at_bank(paid) == 50_000, "asked twice, refunded once"
    clock.move_to(START + 3 * refunds.RESEND_AFTER)
    assert refunds.refunds_resend_pending().asked == 0


def test_a_refund_written_before_a_crash_is_sent_by_the_job(clock, paid):
    # The process died after writing the refund and before asking the gateway.
    refund = Refund.objects.create(
        payment=paid,
        amount=20_000,
        currency=paid.currency,
        idempotency_key=f"pay{paid.pk}-r1",
        reason="Crash",
        created_at=START,
    )
    assert refunded_at_bank(paid) == 0
    clock.move_to(START + refunds.RESEND_AFTER)
    assert refunds.refunds_resend_pending().settled == 1
    refund.refresh_from_db()
    assert refund.status == RefundStatus.SUCCEEDED
    assert refunded_at_bank(paid) == 20_000


def test_a_gateway_refusal_is_recorded_and_releases_the_amount(paid):
    refund = refunds.payment_refund(paid, amount=paid.amount, reason="All of it")
    assert refund.succeeded
    # The bank has nothing left to refund; our books agree and refuse first ...
    with pytest.raises(RefundNotAllowed):
        refunds.payment_refund(paid, amount=1, reason="One more satang")
    # ... so make the bank refuse: a refund on a charge it does not know.
    other = signed_up()
    payment = Invoice.objects.get(membership=other).payments.get()
    assert payment.attempt is not None
    type(payment.attempt).objects.filter(pk=payment.attempt.pk).update(
        gateway_reference="sbx_ch_unknown"
    )
    with pytest.raises(RefundNotAllowed) as refused:
        refunds.payment_refund(payment, amount=10_000, reason="Refused")
    assert refused.value.reason == "gateway_refused"
    failed = Refund.objects.get(payment=payment)
    assert failed.status == RefundStatus.FAILED and failed.message
    payment.refresh_from_db()
    assert payment.amount_refunded == 0 and not CreditNote.objects.filter(refund=failed).exists()


def test_the_gateways_refund_webhook_settles_a_pending_refund(paid):
    sandbox = get_gateway("sandbox")
    sandbox.lose_refund_replies(1)
    refund = refunds.payment_refund(paid, amount=30_000, reason="Webhook")
    assert refund.status == RefundStatus.PENDING
    event = sandbox.refund_event(refund.idempotency_key)
    assert webhooks.gateway_event_apply("sandbox", event) == "refund_settled"
    assert webhooks.gateway_event_apply("sandbox", event) == "refund_settled"
    refund.refresh_from_db()
    paid.refresh_from_db()
    assert refund.status == RefundStatus.SUCCEEDED and paid.amount_refunded == 30_000
    assert CreditNote.objects.filter(refund=refund).count() == 1


def test_cash_is_refunded_at_once():
    member = MemberFactory()
    invoice = invoice_create(
        member=member,
        currency="THB",
        reason="manual",
        specs=[LineSpec("fee", "Towel", 10_000, 700, True)],
    )
    payment = payment_record(invoice, amount=10_000, source="cash")
    refund = refunds.payment_refund(payment, amount=4_000, reason="Returned towel")
    assert refund.status == RefundStatus.SUCCEEDED
    assert CreditNote.objects.get(refund=refund).amount == 4_000


def test_two_refunds_at_once_never_exceed_the_payment(paid):
    outcomes: list[str] = []
    barrier = threading.Barrier(2)

    def refund_all() -> None:
        try:
            barrier.wait()
            refunds.payment_refund(paid, amount=paid.amount, reason="At once")
            outcomes.append("refunded")
        except RefundNotAllowed as exc:
            outcomes.append(str(exc.reason))
        finally:
            connection.close()

    threads = [threading.Thread(target=refund_all) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["exceeds_payment", "refunded"]
    assert refunded_at_bank(paid) == paid.amount


def test_the_api_answers_202_while_the_gateway_is_silent(api_as, paid):
    manager = api_as(roles.MANAGER)
    get_gateway("sandbox").lose_refund_replies(1)
    response = manager.post(
        f"/api/v1/billing/payments/{paid.pk}/refund/",
        {"amount": 10_000, "reason": "Late class"},
        format="json",
    )
    assert response.status_code == 202, response.content
    body = response.json()
    assert (body["status"], body["succeeded"]) == ("pending", False)
