"""No double collection: money taken another way while a card charge is in flight.

The desk (cash, a transfer, PromptPay confirmed by staff), the admin's "record a
payment" and the API's ``/invoices/{id}/pay/`` all go through
``payment_record_manual``, which refuses while a charge for the invoice is in flight,
with the amount and how long ago it started, under a stable reason code.
"""

from __future__ import annotations

import datetime as dt
import re
import threading
import time

import pytest
import time_machine
from django.db import connections
from django.test import Client

from billing.gateways import get_gateway
from billing.models import (
    AttemptStatus,
    AttemptTrigger,
    Invoice,
    InvoiceStatus,
    Payment,
    PaymentAttempt,
    PaymentSource,
)
from billing.services import invoices as invoice_services
from billing.services.payments import invoice_charge
from members import roles
from tests.billing.factories import PlanFactory, signed_up
from tests.concurrency import at_once

NOW = dt.datetime(2027, 2, 3, 3, 0, tzinfo=dt.UTC)  # 10:00 in Bangkok
BASE = "/api/v1/billing"


@pytest.fixture(autouse=True)
def _bank(settings):
    settings.DUNNING_SMS_BACKEND = "dunning.sms.locmem.LocmemSmsBackend"
    get_gateway("sandbox").reset()


def open_invoice_with_good_card() -> Invoice:
    """An open invoice of ฿800.00 for a member whose card on file pays."""
    from billing.services.invoices import LineSpec, invoice_create

    member = signed_up(plan=PlanFactory(), token="tok_ok").member
    invoice = invoice_create(
        member=member,
        currency="THB",
        reason="fee",
        specs=[LineSpec("fee", "Personal training", 80_000, 700, True)],
    )
    assert invoice.status == InvoiceStatus.OPEN and invoice.amount_due == 80_000
    return invoice


def in_flight_attempt(invoice: Invoice, started: dt.datetime) -> PaymentAttempt:
    number = invoice.attempts.count() + 1
    return PaymentAttempt.objects.create(
        invoice=invoice,
        attempt_number=number,
        trigger=AttemptTrigger.RETRY,
        gateway="sandbox",
        amount=invoice.amount_due,
        currency=invoice.currency,
        idempotency_key=f"inv{invoice.pk}-a{number}",
        status=AttemptStatus.PENDING,
        created_at=started,
    )


@pytest.mark.django_db
def test_cash_at_the_desk_is_refused_with_the_amount_and_age_of_the_card_charge(make_staff):
    with time_machine.travel(NOW, tick=False):
        invoice = open_invoice_with_good_card()
        in_flight_attempt(invoice, NOW - dt.timedelta(seconds=12))
        client = Client()
        client.force_login(make_staff(roles.FRONT_DESK))
        url = f"/admin/billing/invoice/take-payment/{invoice.member_id}/"
        form = client.get(url).context["form"]
        response = client.post(
            f"{url}?next=/admin/",
            {
                "invoices": [str(invoice.pk)],
                "route": "cash",
                "amount": "800",
                "reference": "",
                "request_key": form.initial["request_key"],
            },
        )
    page = re.sub(r"\s+", " ", response.content.decode())
    assert response.status_code == 200
    assert "A card payment of ฿800.00 is in progress, started 12 s ago." in page
    assert not Payment.objects.filter(invoice=invoice).exists()


@pytest.mark.django_db
def test_the_api_refuses_with_a_stable_code_and_the_details(api_as):
    with time_machine.travel(NOW, tick=False):
        invoice = open_invoice_with_good_card()
        in_flight_attempt(invoice, NOW - dt.timedelta(seconds=3))
        response = api_as(roles.FRONT_DESK).post(
            f"{BASE}/invoices/{invoice.pk}/pay/",
            {"amount": 80_000, "source": "cash"},
            format="json",
        )
    assert response.status_code == 409, response.content
    body = response.json()
    assert (body["code"], body["reason"]) == ("payment_not_allowed", "card_payment_in_progress")
    assert body["detail"] == {"amount": "฿800.00", "seconds": "3"}
    assert "in progress, started 3 s ago" in body["message"]
    assert not Payment.objects.filter(invoice=invoice).exists()


@pytest.mark.django_db
def test_in_thai_the_desk_reads_the_reason_in_thai(api_as):
    with time_machine.travel(NOW, tick=False):
        invoice = open_invoice_with_good_card()
        in_flight_attempt(invoice, NOW - dt.timedelta(seconds=5))
        response = api_as(roles.FRONT_DESK).post(
            f"{BASE}/invoices/{invoice.pk}/pay/",
            {"amount": 80_000, "source": "cash"},
            format="json",
            HTTP_ACCEPT_LANGUAGE="th",
        )
    assert response.status_code == 409
    message = response.json()["message"]
    assert "฿800.00" in message and "5" in message
    assert re.search(r"[\u0e00-\u0e7f]", message)


@pytest.mark.django_db(transaction=True)
def test_cash_racing_an_in_flight_card_charge_collects_once(monkeypatch):
    """A real charge is on its way to the bank (1.5 s) when the desk takes cash."""
    invoice = open_invoice_with_good_card()
    monkeypatch.setattr(get_gateway("sandbox"), "latency_ms", 1500)
    outcome: dict[str, object] = {}

    def charge() -> None:
        try:
            outcome["attempt"] = invoice_charge(
                Invoice.objects.get(pk=invoice.pk), trigger=AttemptTrigger.STAFF
            )
        finally:
            connections.close_all()

    thread = threading.Thread(target=charge)
    thread.start()
    deadline = time.monotonic() + 10
    while not PaymentAttempt.objects.filter(invoice=invoice, status=AttemptStatus.PENDING).exists():
        assert time.monotonic() < deadline, "the charge never started"
        time.sleep(0.02)
    with pytest.raises(invoice_services.PaymentNotAllowed) as refused:
        invoice_services.payment_record_manual(
            Invoice.objects.get(pk=invoice.pk), amount=80_000, source=PaymentSource.CASH
        )
    thread.join(20)
    assert refused.value.reason == "card_payment_in_progress"
    assert refused.value.extra["amount"] == "฿800.00"
    invoice.refresh_from_db()
    assert invoice.status == InvoiceStatus.PAID
    assert list(Payment.objects.filter(invoice=invoice).values_list("source", flat=True)) == [
        PaymentSource.CARD
    ]
    assert invoice.amount_paid == invoice.total == 80_000


@pytest.mark.django_db(transaction=True)
def test_cash_and_a_card_charge_at_the_same_instant_collect_once(monkeypatch):
    invoice = open_invoice_with_good_card()
    monkeypatch.setattr(get_gateway("sandbox"), "latency_ms", 300)
    calls = iter(["card", "cash"])
    lock = threading.Lock()

    def either() -> str:
        with lock:
            route = next(calls)
        fresh = Invoice.objects.get(pk=invoice.pk)
        if route == "card":
            attempt = invoice_charge(fresh, trigger=AttemptTrigger.STAFF)
            return f"card:{attempt.status}"
        invoice_services.payment_record_manual(fresh, amount=80_000, source=PaymentSource.CASH)
        return "cash:paid"

    outcomes = at_once(either, times=2)
    invoice.refresh_from_db()
    payments = list(Payment.objects.filter(invoice=invoice))
    assert len(payments) == 1, outcomes
    assert sum(p.amount for p in payments) == invoice.total
    assert invoice.status == InvoiceStatus.PAID
    # The loser was refused with a reason, never by collecting twice.
    assert set(outcomes) & {"card_payment_in_progress", "nothing_due", "already_paid"}, outcomes


def _paid_twice(invoice: Invoice) -> PaymentAttempt:
    """A card charge written, then the bank confirms a PromptPay payment for the same
    invoice before the charge is sent (a route the desk cannot refuse), then the charge
    goes through: the money arrived twice."""
    from billing.services.payments import attempt_create, attempts_process

    attempt = attempt_create(invoice, trigger=AttemptTrigger.STAFF)
    invoice_services.payment_record(
        Invoice.objects.get(pk=invoice.pk),
        amount=invoice.amount_due,
        source=PaymentSource.PROMPTPAY,
        reference="bank-ref-1",
    )
    attempts_process([attempt.pk])
    attempt.refresh_from_db()
    assert attempt.status == AttemptStatus.SUCCEEDED
    return attempt


@pytest.mark.django_db(transaction=True)
def test_money_that_arrives_twice_is_refunded_by_its_own_route_with_a_credit_note():
    from billing.models import CreditNote, LedgerEntry, Refund, RefundStatus

    invoice = open_invoice_with_good_card()
    attempt = _paid_twice(invoice)
    card_payment = Payment.objects.get(invoice=invoice, source=PaymentSource.CARD)
    refund = Refund.objects.get(payment=card_payment)
    assert (refund.status, refund.amount) == (RefundStatus.SUCCEEDED, 80_000)
    assert get_gateway("sandbox").total_refunded(attempt.gateway_reference) == 80_000
    note = CreditNote.objects.get(refund=refund)
    assert note.amount == 80_000 and note.invoice_id == invoice.pk
    # The excess is not kept as account credit: the member's balance is back to zero.
    balance = sum(
        LedgerEntry.objects.filter(member=invoice.member).values_list("amount", flat=True)
    )
    assert balance == 0
    invoice.refresh_from_db()
    assert invoice.status == InvoiceStatus.PAID


@pytest.mark.django_db(transaction=True)
def test_a_member_who_chose_so_keeps_money_paid_twice_as_credit():
    from billing.models import LedgerEntry, Refund

    invoice = open_invoice_with_good_card()
    invoice.member.overpayment_as_credit = True
    invoice.member.save(update_fields=["overpayment_as_credit"])
    _paid_twice(invoice)
    assert not Refund.objects.filter(payment__invoice=invoice).exists()
    balance = sum(
        LedgerEntry.objects.filter(member=invoice.member).values_list("amount", flat=True)
    )
    assert balance == -80_000  # credit for the next invoice
