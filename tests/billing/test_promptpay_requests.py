"""PromptPay requests: a QR for what is owed, and the payment it brings, exactly once.

On real PostgreSQL and Redis, committing (billing's hooks run after commit); the sandbox
gateway stands in for Stripe's PromptPay, its signed webhooks arrive through the real
webhook endpoint.
"""

from __future__ import annotations

import datetime as dt
import threading

import pytest
from django.db import connection
from django.test import Client

from billing.errors import PromptPayNotAllowed
from billing.gateways import get_gateway
from billing.gateways.interface import ChargeStatus
from billing.models import (
    AttemptStatus,
    InvoiceStatus,
    LedgerEntry,
    LedgerKind,
    LineKind,
    Payment,
    PaymentAttempt,
    PaymentSource,
    PromptPayChannel,
    PromptPayRequest,
    PromptPayRoute,
    PromptPayStatus,
)
from billing.promptpay.payload import parse_payload
from billing.services import invoices as inv
from billing.services import promptpay as pp
from tests.factories import MemberFactory

pytestmark = pytest.mark.django_db(transaction=True)

GYM_ID = "0812345678"


@pytest.fixture(autouse=True)
def _fresh_bank(settings):
    settings.PROMPTPAY_ROUTE = "auto"
    settings.PROMPTPAY_ID = ""
    get_gateway("sandbox").reset()


@pytest.fixture
def own_id(settings):
    settings.PROMPTPAY_ID = GYM_ID


def owed(member=None, amount=80_000, currency="THB"):
    """An issued invoice for ``amount`` (VAT included) that nobody has paid."""
    return inv.invoice_create(
        member=member or MemberFactory(),
        currency=currency,
        reason="manual",
        specs=[inv.LineSpec(LineKind.OTHER, "Membership", amount, 700, inclusive=True)],
    )


def deliver(client: Client, reference: str) -> dict:
    """The sandbox bank's webhook about the payment, posted to the real endpoint."""
    bank = get_gateway("sandbox")
    payload = bank.event_payload(bank.promptpay_event(reference))
    response = client.post(
        "/api/v1/billing/webhooks/sandbox/",
        data=payload,
        content_type="application/json",
        headers={k.replace("-", "_"): v for k, v in bank.sign_webhook(payload).items()},
    )
    assert response.status_code == 200, response.content
    return response.json()


def promptpay_payments(invoice) -> list[Payment]:
    return list(Payment.objects.filter(invoice=invoice, source=PaymentSource.PROMPTPAY))


# --- creating -------------------------------------------------------------------------


def test_a_request_records_what_was_asked_and_the_gateway_shows_its_qr(make_staff):
    invoice = owed(amount=80_000)
    fee = owed(invoice.member, amount=20_000)
    desk = make_staff("Front desk")
    request = pp.promptpay_request_create(
        invoices=[invoice, fee], channel=PromptPayChannel.DESK, user=desk
    )
    assert (request.route, request.gateway, request.status) == ("gateway", "sandbox", "pending")
    assert (request.amount, request.currency, request.member) == (100_000, "THB", invoice.member)
    assert request.requested_by == desk
    assert request.expires_at == request.created_at + dt.timedelta(minutes=15)
    assert {(line.invoice_id, line.amount) for line in request.lines.all()} == {
        (invoice.pk, 80_000),
        (fee.pk, 20_000),
    }
    assert request.gateway_reference.startswith("sbx_pp_")
    assert parse_payload(request.qr_data).amount == 100_000


def test_asking_again_for_the_same_invoices_keeps_the_same_qr():
    invoice = owed()
    first = pp.promptpay_request_create(invoices=[invoice], channel=PromptPayChannel.PAY_PAGE)
    again = pp.promptpay_request_create(invoices=[invoice], channel=PromptPayChannel.PAY_PAGE)
    assert again.pk == first.pk
    assert PromptPayRequest.objects.count() == 1


def test_concurrent_asks_for_the_same_invoices_make_one_qr():
    invoice = owed()
    made: list[int] = []
    barrier = threading.Barrier(4)

    def ask():
        try:
            barrier.wait()
            made.append(
                pp.promptpay_request_create(
                    invoices=[invoice], channel=PromptPayChannel.PAY_PAGE
                ).pk
            )
        finally:
            connection.close()

    threads = [threading.Thread(target=ask) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(made) == 4 and len(set(made)) == 1
    assert PromptPayRequest.objects.count() == 1


def test_the_gyms_own_id_gets_a_dynamic_qr_for_the_amount(own_id):
    invoice = owed(amount=80_000)
    request = pp.promptpay_request_create(invoices=[invoice], channel=PromptPayChannel.PAY_PAGE)
    assert (request.route, request.gateway, request.gateway_reference) == ("own_id", "", "")
    payload = parse_payload(request.qr_data)
    assert (payload.target.value, payload.amount, payload.dynamic) == (GYM_ID, 80_000, True)
    assert request.payee == "xxx-xxx-5678"


@pytest.mark.parametrize(
    ("setup", "reason"),
    [
        ("paid", "nothing_due"),
        ("void", "invoice_not_payable"),
        ("usd", "currency_not_supported"),
        ("two_members", "invoices_of_several_members"),
        ("card_in_flight", "attempt_in_flight"),
        ("off", "promptpay_unavailable"),
    ],
)
def test_what_cannot_be_asked_is_refused_with_a_stable_reason(settings, setup, reason):
    invoice = owed(currency="USD" if setup == "usd" else "THB")
    invoices = [invoice]
    if setup == "paid":
        inv.payment_record(invoice, amount=invoice.amount_due, source=PaymentSource.CASH)
    elif setup == "void":
        inv.invoice_void(invoice)
    elif setup == "two_members":
        invoices.append(owed())
    elif setup == "card_in_flight":
        PaymentAttempt.objects.create(
            invoice=invoice,
            attempt_number=1,
            trigger="retry",
            gateway="sandbox",
            amount=invoice.amount_due,
            currency="THB",
            idempotency_key="inflight-1",
            status=AttemptStatus.UNKNOWN,
            created_at=invoice.issued_at,
        )
    elif setup == "off":
        settings.PROMPTPAY_ROUTE = "off"
    with pytest.raises(PromptPayNotAllowed) as refused:
        pp.promptpay_request_create(invoices=invoices, channel=PromptPayChannel.DESK)
    assert refused.value.reason == reason
    assert not PromptPayRequest.objects.filter(status=PromptPayStatus.PENDING).exists()


@pytest.mark.parametrize("amount", [0, -100, 10**13, 1.5, True, None])
def test_bad_amounts_are_refused(amount):
    with pytest.raises(PromptPayNotAllowed) as refused:
        pp.promptpay_request_create(
            amount=amount, member=MemberFactory(), channel=PromptPayChannel.API
        )
    assert refused.value.reason == "amount_invalid"


@pytest.mark.parametrize("reference", ["pos\x00sale", "a\nb", "x" * 81])
def test_references_with_control_characters_or_too_long_are_refused(reference):
    with pytest.raises(PromptPayNotAllowed) as refused:
        pp.promptpay_request_create(amount=100, reference=reference, channel=PromptPayChannel.API)
    assert refused.value.reason == "reference_invalid"
    assert not PromptPayRequest.objects.exists()


def test_a_gateway_that_refuses_leaves_no_qr_to_pay(monkeypatch):
    from billing.gateways.interface import GatewayError

    def refuse(request):
        raise GatewayError("PromptPay is not enabled on this account.")

    monkeypatch.setattr(get_gateway("sandbox"), "promptpay_charge", refuse)
    with pytest.raises(PromptPayNotAllowed) as refused:
        pp.promptpay_request_create(invoices=[owed()], channel=PromptPayChannel.PAY_PAGE)
    assert refused.value.reason == "gateway_unavailable"
    [request] = PromptPayRequest.objects.all()
    assert (request.status, request.qr_data) == ("cancelled", "")


def test_an_api_clients_idempotency_key_returns_the_same_request():
    member = MemberFactory()
    first = pp.promptpay_request_create(
        amount=50_000, member=member, channel=PromptPayChannel.API, idempotency_key="kiosk-42"
    )
    again = pp.promptpay_request_create(
        amount=50_000, member=member, channel=PromptPayChannel.API, idempotency_key="kiosk-42"
    )
    assert again.pk == first.pk
    with pytest.raises(PromptPayNotAllowed) as refused:
        pp.promptpay_request_create(
            amount=60_000, member=member, channel=PromptPayChannel.API, idempotency_key="kiosk-42"
        )
    assert refused.value.reason == "idempotency_key_reused"


# --- paid, exactly once ---------------------------------------------------------------


def test_a_webhook_applied_twice_records_one_payment():
    invoice = owed(amount=80_000)
    request = pp.promptpay_request_create(invoices=[invoice], channel=PromptPayChannel.PAY_PAGE)
    get_gateway("sandbox").promptpay_pay(request.gateway_reference)
    client = Client()
    assert deliver(client, request.gateway_reference) == {"result": "promptpay_paid"}
    assert deliver(client, request.gateway_reference) == {"result": "duplicate"}
    # The same outcome under another event id (a gateway resending) is a no-op too.
    request.refresh_from_db()
    assert pp.promptpay_request_apply_result(
        request, get_gateway("sandbox").promptpay_status(request.gateway_reference)
    ) == ("already_paid")

    [payment] = promptpay_payments(invoice)
    assert (payment.amount, payment.reference) == (80_000, request.gateway_reference)
    invoice.refresh_from_db()
    assert invoice.status == InvoiceStatus.PAID
    request.refresh_from_db()
    assert (request.status, request.paid_amount) == ("paid", 80_000)
    assert request.lines.get().payment == payment


def test_webhook_poll_and_expiry_racing_record_one_payment(time_machine):
    for round_ in range(5):
        invoice = owed(amount=80_000)
        request = pp.promptpay_request_create(invoices=[invoice], channel=PromptPayChannel.PAY_PAGE)
        get_gateway("sandbox").promptpay_pay(request.gateway_reference)
        barrier = threading.Barrier(3)

        def webhook(request=request, barrier=barrier):
            try:
                barrier.wait()
                deliver(Client(), request.gateway_reference)
            finally:
                connection.close()

        def poll(request=request, barrier=barrier):
            try:
                barrier.wait()
                pp.promptpay_request_check(request, force=True)
            finally:
                connection.close()

        def expire(request=request, barrier=barrier):
            try:
                barrier.wait()
                pp.promptpay_request_expire(request)
            finally:
                connection.close()

        threads = [threading.Thread(target=f) for f in (webhook, poll, expire)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert len(promptpay_payments(invoice)) == 1, f"round {round_}"
        request.refresh_from_db()
        assert request.status == PromptPayStatus.PAID


def test_a_lost_webhook_is_caught_by_the_poll_at_most_every_few_seconds(time_machine):
    time_machine.move_to(dt.datetime(2026, 4, 5, 3, tzinfo=dt.UTC), tick=False)
    invoice = owed()
    request = pp.promptpay_request_create(invoices=[invoice], channel=PromptPayChannel.PAY_PAGE)
    assert pp.promptpay_request_check(request) == "not_asked"  # asked when it was created
    get_gateway("sandbox").promptpay_pay(request.gateway_reference)
    time_machine.move_to(
        dt.datetime(2026, 4, 5, 3, 0, pp.CHECK_INTERVAL_SECONDS, tzinfo=dt.UTC), tick=False
    )
    assert pp.promptpay_request_check(request) == "paid"
    assert len(promptpay_payments(invoice)) == 1


def test_money_for_an_invoice_settled_meanwhile_becomes_credit():
    invoice = owed(amount=80_000)
    request = pp.promptpay_request_create(invoices=[invoice], channel=PromptPayChannel.PAY_PAGE)
    inv.payment_record(invoice, amount=80_000, source=PaymentSource.CASH)  # paid at the desk
    get_gateway("sandbox").promptpay_pay(request.gateway_reference)
    deliver(Client(), request.gateway_reference)

    assert promptpay_payments(invoice) == []
    credit = LedgerEntry.objects.get(reference=f"promptpay:{request.pk}:{invoice.pk}")
    assert (credit.kind, credit.amount) == (LedgerKind.CREDIT, -80_000)
    assert request.lines.get().credited == 80_000
    assert inv.account_balance(invoice.member, "THB") == -80_000


def test_an_amount_without_invoices_is_a_deposit_to_the_members_account(own_id, make_staff):
    member = MemberFactory()
    request = pp.promptpay_request_create(
        amount=50_000, member=member, channel=PromptPayChannel.DESK
    )
    pp.promptpay_request_confirm_transfer(
        request, amount=50_000, bank_reference="KBANK 1234", user=make_staff("Front desk")
    )
    assert inv.account_balance(member, "THB") == -50_000
    assert LedgerEntry.objects.get(reference=f"promptpay:{request.pk}").kind == LedgerKind.DEPOSIT


def test_paid_requests_are_announced_to_the_apps_that_asked():
    from billing import hooks

    heard: list[int] = []
    hooks.promptpay_paid.append(lambda request: heard.append(request.pk))
    try:
        request = pp.promptpay_request_create(
            amount=12_000, reference="pos-sale:7", channel=PromptPayChannel.API
        )
        get_gateway("sandbox").promptpay_pay(request.gateway_reference)
        deliver(Client(), request.gateway_reference)
        deliver(Client(), request.gateway_reference)
    finally:
        hooks.promptpay_paid.pop()
    assert heard == [request.pk]


# --- expiry and withdrawal ------------------------------------------------------------


def test_the_beat_task_expires_due_requests_and_the_qr_can_no_longer_be_paid(time_machine):
    start = dt.datetime(2026, 4, 5, 3, tzinfo=dt.UTC)
    time_machine.move_to(start, tick=False)
    invoice = owed()
    request = pp.promptpay_request_create(invoices=[invoice], channel=PromptPayChannel.PAY_PAGE)
    time_machine.move_to(start + dt.timedelta(minutes=14), tick=False)
    assert pp.promptpay_requests_expire().expired == 0
    time_machine.move_to(start + dt.timedelta(minutes=15), tick=False)
    from billing.tasks import expire_promptpay_requests

    assert expire_promptpay_requests()["expired"] == 1
    request.refresh_from_db()
    assert (request.status, request.closed_at) == ("expired", start + dt.timedelta(minutes=15))
    bank = get_gateway("sandbox")
    assert bank.promptpay_pay(request.gateway_reference).status == ChargeStatus.FAILED
    assert promptpay_payments(invoice) == []


def test_paid_at_the_bank_just_before_expiry_is_recorded_not_expired(time_machine):
    start = dt.datetime(2026, 4, 5, 3, tzinfo=dt.UTC)
    time_machine.move_to(start, tick=False)
    invoice = owed()
    request = pp.promptpay_request_create(invoices=[invoice], channel=PromptPayChannel.PAY_PAGE)
    get_gateway("sandbox").promptpay_pay(request.gateway_reference)  # its webhook is late
    time_machine.move_to(start + dt.timedelta(minutes=16), tick=False)
    report = pp.promptpay_requests_expire()
    assert (report.expired, report.paid) == (0, 1)
    request.refresh_from_db()
    assert request.status == PromptPayStatus.PAID
    assert len(promptpay_payments(invoice)) == 1


def test_a_qr_whose_invoices_were_paid_another_way_is_withdrawn():
    invoice = owed()
    request = pp.promptpay_request_create(invoices=[invoice], channel=PromptPayChannel.PAY_PAGE)
    inv.payment_record(invoice, amount=invoice.amount_due, source=PaymentSource.CASH)
    assert pp.promptpay_requests_expire().expired == 1
    request.refresh_from_db()
    assert (request.status, request.message) == ("expired", "settled_elsewhere")


def test_the_member_withdrawing_a_qr_cancels_it_at_the_gateway():
    request = pp.promptpay_request_create(invoices=[owed()], channel=PromptPayChannel.PAY_PAGE)
    pp.promptpay_request_cancel(request)
    assert request.status == PromptPayStatus.CANCELLED
    bank = get_gateway("sandbox")
    assert bank.promptpay_status(request.gateway_reference).decline_code == "canceled"
    with pytest.raises(PromptPayNotAllowed) as refused:
        pp.promptpay_request_cancel(request)
    assert refused.value.reason == "not_pending"


def test_withdrawing_a_qr_the_payer_paid_first_records_the_payment():
    invoice = owed()
    request = pp.promptpay_request_create(invoices=[invoice], channel=PromptPayChannel.PAY_PAGE)
    get_gateway("sandbox").promptpay_pay(request.gateway_reference)
    with pytest.raises(PromptPayNotAllowed) as refused:
        pp.promptpay_request_cancel(request)
    assert refused.value.reason == "already_paid"
    assert len(promptpay_payments(invoice)) == 1


# --- the gym's own ID: staff confirm ----------------------------------------------------


def test_staff_confirm_a_transfer_with_the_amount_and_bank_reference(own_id, make_staff):
    invoice = owed(amount=80_000)
    request = pp.promptpay_request_create(invoices=[invoice], channel=PromptPayChannel.PAY_PAGE)
    desk = make_staff("Front desk")
    pp.promptpay_request_confirm_transfer(
        request, amount=80_000, bank_reference="SCB 2604051234", user=desk
    )
    request.refresh_from_db()
    assert (request.status, request.bank_reference, request.confirmed_by) == (
        "paid",
        "SCB 2604051234",
        desk,
    )
    [payment] = promptpay_payments(invoice)
    assert (payment.amount, payment.reference, payment.received_by) == (
        80_000,
        "SCB 2604051234",
        desk,
    )
    with pytest.raises(PromptPayNotAllowed) as refused:
        pp.promptpay_request_confirm_transfer(
            request, amount=80_000, bank_reference="again", user=desk
        )
    assert refused.value.reason == "already_paid"
    assert len(promptpay_payments(invoice)) == 1


def test_a_transfer_seen_after_the_qr_expired_is_still_confirmed(own_id, time_machine):
    start = dt.datetime(2026, 4, 5, 3, tzinfo=dt.UTC)
    time_machine.move_to(start, tick=False)
    invoice = owed()
    request = pp.promptpay_request_create(invoices=[invoice], channel=PromptPayChannel.PAY_PAGE)
    time_machine.move_to(start + dt.timedelta(hours=2), tick=False)
    pp.promptpay_requests_expire()
    request.refresh_from_db()
    assert request.status == PromptPayStatus.EXPIRED
    pp.promptpay_request_confirm_transfer(
        request, amount=80_000, bank_reference="KTB 77", user=None
    )
    invoice.refresh_from_db()
    assert invoice.status == InvoiceStatus.PAID


def test_a_member_who_says_they_paid_waits_for_staff_instead_of_expiring(own_id, time_machine):
    start = dt.datetime(2026, 4, 5, 3, tzinfo=dt.UTC)
    time_machine.move_to(start, tick=False)
    request = pp.promptpay_request_create(invoices=[owed()], channel=PromptPayChannel.PAY_PAGE)
    pp.promptpay_request_report_paid(request)
    time_machine.move_to(start + dt.timedelta(days=1), tick=False)
    pp.promptpay_requests_expire()
    request.refresh_from_db()
    assert request.status == PromptPayStatus.PENDING and request.member_reported_at == start
    from billing.selectors import promptpay_requests_awaiting_staff

    assert list(promptpay_requests_awaiting_staff()) == [request]


@pytest.mark.parametrize(
    ("amount", "reference", "reason"),
    [
        (80_001, "SCB 1", "amount_exceeds_request"),
        (0, "SCB 1", "amount_invalid"),
        (80_000, "", "reference_invalid"),
        (80_000, "SCB\x001", "reference_invalid"),
        (80_000, "x" * 121, "reference_invalid"),
    ],
)
def test_confirmations_that_make_no_sense_are_refused(own_id, amount, reference, reason):
    invoice = owed(amount=80_000)
    request = pp.promptpay_request_create(invoices=[invoice], channel=PromptPayChannel.PAY_PAGE)
    with pytest.raises(PromptPayNotAllowed) as refused:
        pp.promptpay_request_confirm_transfer(
            request, amount=amount, bank_reference=reference, user=None
        )
    assert refused.value.reason == reason
    assert promptpay_payments(invoice) == []


def test_staff_cannot_confirm_what_the_gateway_confirms():
    request = pp.promptpay_request_create(invoices=[owed()], channel=PromptPayChannel.PAY_PAGE)
    assert request.route == PromptPayRoute.GATEWAY
    with pytest.raises(PromptPayNotAllowed) as refused:
        pp.promptpay_request_confirm_transfer(request, amount=1, bank_reference="x", user=None)
    assert refused.value.reason == "confirmed_by_gateway"


def test_a_new_qr_for_changed_amounts_withdraws_the_old_one():
    invoice = owed(amount=80_000)
    first = pp.promptpay_request_create(invoices=[invoice], channel=PromptPayChannel.PAY_PAGE)
    inv.payment_record(invoice, amount=30_000, source=PaymentSource.CASH)  # part at the desk
    second = pp.promptpay_request_create(invoices=[invoice], channel=PromptPayChannel.PAY_PAGE)
    assert (second.amount, second.pk != first.pk) == (50_000, True)
    first.refresh_from_db()
    assert (first.status, first.message) == ("expired", "superseded")
    bank = get_gateway("sandbox")
    assert bank.promptpay_pay(first.gateway_reference).status == ChargeStatus.FAILED


def test_a_process_that_died_before_asking_the_gateway_is_finished_by_the_next_ask(
    monkeypatch,
):
    invoice = owed()

    def die(request):
        raise SystemExit("worker killed")

    monkeypatch.setattr(pp, "_gateway_payment_create", die)
    with pytest.raises(SystemExit):
        pp.promptpay_request_create(invoices=[invoice], channel=PromptPayChannel.PAY_PAGE)
    monkeypatch.undo()
    [orphan] = PromptPayRequest.objects.all()
    assert (orphan.status, orphan.qr_data) == ("pending", "")  # committed, no QR yet

    finished = pp.promptpay_request_create(invoices=[invoice], channel=PromptPayChannel.PAY_PAGE)
    assert finished.pk == orphan.pk and finished.qr_data
    get_gateway("sandbox").promptpay_pay(finished.gateway_reference)
    deliver(Client(), finished.gateway_reference)
    assert len(promptpay_payments(invoice)) == 1
