"""Refunds are never made twice and never lost: pending until the gateway answers."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine
from django.test import Client

from billing.errors import RefundNotAllowed
from billing.gateways import get_gateway
from billing.models import CreditNote, Invoice, Payment, Refund, RefundStatus
from billing.services import refunds, webhooks
from billing.services.invoices import credit_note_issue, invoice_create, payment_record
from billing.services.lines import LineSpec
from members import roles
from tests.billing.factories import signed_up
from tests.concurrency import at_once
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
    outcomes = at_once(
        lambda: refunds.payment_refund(paid, amount=paid.amount, reason="At once").status
    )
    assert sorted(outcomes) == ["exceeds_payment", RefundStatus.SUCCEEDED]
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


# --- What the system cannot settle on its own goes to staff --------------------------------


def lost_reply_refund(payment: Payment, amount: int) -> Refund:
    get_gateway("sandbox").lose_refund_replies(1)
    refund = refunds.payment_refund(payment, amount=amount, reason="Lost reply")
    assert refund.status == RefundStatus.PENDING
    return refund


def test_a_refund_pending_for_a_day_goes_to_review_and_is_never_sent_again(clock, paid):
    refund = lost_reply_refund(paid, 50_000)
    clock.move_to(START + refunds.KEY_LIFETIME + dt.timedelta(minutes=1))
    report = refunds.refunds_resend_pending()
    assert (report.to_review, report.asked) == (1, 0)
    refund.refresh_from_db()
    assert refund.status == RefundStatus.REVIEW and refund.tries == 1
    with pytest.raises(RefundNotAllowed) as refused:
        refunds.payment_refund(paid, amount=paid.amount - 49_999, reason="Still held")
    assert refused.value.reason == "exceeds_payment", "a refund in review holds its amount"


def test_a_refused_refund_the_gateway_later_reports_as_made_goes_to_review(paid):
    refund = lost_reply_refund(paid, 30_000)
    Refund.objects.filter(pk=refund.pk).update(status=RefundStatus.FAILED)
    event = get_gateway("sandbox").refund_event(refund.idempotency_key)
    assert webhooks.gateway_event_apply("sandbox", event) == "refund_review"
    refund.refresh_from_db()
    paid.refresh_from_db()
    assert refund.status == RefundStatus.REVIEW and paid.amount_refunded == 0
    assert not CreditNote.objects.filter(refund=refund).exists()


def test_staff_resolve_a_refund_in_review_from_the_admin(make_staff, paid):
    made, not_made = lost_reply_refund(paid, 30_000), lost_reply_refund(paid, 20_000)
    Refund.objects.filter(pk__in=[made.pk, not_made.pk]).update(status=RefundStatus.REVIEW)
    client = Client()
    client.force_login(make_staff(roles.MANAGER))
    url = "/admin/billing/refund/"
    assert client.get(url, {"status__exact": "review"}).status_code == 200
    for action, refund in (("mark_refunded", made), ("mark_not_refunded", not_made)):
        response = client.post(url, {"action": action, "_selected_action": [refund.pk]})
        assert response.status_code == 302
    made.refresh_from_db()
    not_made.refresh_from_db()
    paid.refresh_from_db()
    assert (made.status, not_made.status) == (RefundStatus.SUCCEEDED, RefundStatus.FAILED)
    assert paid.amount_refunded == 30_000
    assert CreditNote.objects.get(refund=made).amount == 30_000
    desk = Client()
    desk.force_login(make_staff(roles.FRONT_DESK))
    forbidden = desk.post(url, {"action": "mark_refunded", "_selected_action": [made.pk]})
    assert forbidden.status_code == 403
    assert CreditNote.objects.filter(refund=made).count() == 1


def test_a_refund_beyond_what_the_invoice_can_still_credit_is_refused(paid):
    credit_note_issue(paid.invoice, amount=paid.amount - 10_000, reason="Correction")
    with pytest.raises(RefundNotAllowed) as refused:
        refunds.payment_refund(paid, amount=20_000, reason="More than the invoice has left")
    assert refused.value.reason == "exceeds_invoice_credit"
    assert not Refund.objects.exists()


def test_one_refund_that_cannot_be_settled_does_not_stop_the_others(clock, paid):
    stuck = lost_reply_refund(paid, 50_000)
    # A correction credits the whole invoice meanwhile: the refund's note no longer fits.
    credit_note_issue(paid.invoice, amount=paid.amount, reason="Correction")
    other_payment = Invoice.objects.get(membership=signed_up()).payments.get()
    fine = lost_reply_refund(other_payment, 10_000)
    clock.move_to(START + refunds.RESEND_AFTER)
    report = refunds.refunds_resend_pending()
    assert (report.asked, report.errors, report.settled) == (2, 1, 1)
    stuck.refresh_from_db()
    fine.refresh_from_db()
    assert stuck.status == RefundStatus.PENDING and fine.status == RefundStatus.SUCCEEDED


def test_a_webhook_that_cannot_be_applied_is_not_recorded_and_applies_on_redelivery(paid):
    from rest_framework.test import APIClient

    from billing.models import GatewayWebhookEvent

    sandbox = get_gateway("sandbox")
    refund = lost_reply_refund(paid, 50_000)
    correction = credit_note_issue(paid.invoice, amount=paid.amount, reason="Correction")
    payload = sandbox.event_payload(sandbox.refund_event(refund.idempotency_key))
    client = APIClient(enforce_csrf_checks=True)

    def deliver():
        return client.generic(
            "POST",
            "/api/v1/billing/webhooks/sandbox/",
            payload,
            content_type="application/json",
            headers=sandbox.sign_webhook(payload),
        )

    failed = deliver()
    assert failed.status_code == 503 and failed.json()["code"] == "webhook_not_applied"
    assert not GatewayWebhookEvent.objects.exists()
    CreditNote.objects.filter(pk=correction.pk).delete()  # staff undo the correction
    Invoice.objects.filter(pk=paid.invoice_id).update(amount_credited=0)
    applied = deliver()
    assert applied.status_code == 200 and applied.json()["result"] == "refund_settled"
    assert deliver().json()["result"] == "duplicate"
