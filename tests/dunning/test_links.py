"""Signed "update your card and pay" links and the hosted page behind them."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import pytest
from django.core import mail
from django.test import Client
from django.urls import reverse

from billing.gateways import get_gateway
from billing.models import (
    AttemptStatus,
    AttemptTrigger,
    GatewayCustomer,
    Invoice,
    InvoiceStatus,
    LedgerEntry,
    LedgerKind,
    MembershipStatus,
    Payment,
    PaymentAttempt,
    PaymentMethod,
)
from billing.services.invoices import invoice_void
from billing.services.payments import payment_method_attach
from billing.services.webhooks import webhook_receive
from dunning.links import LinkExpired, LinkInvalid, make_token, pay_url, read_token
from dunning.models import CaseStatus, DunningMessage, EventKind, MessageStatus, RecoveryRoute
from tests.billing.factories import signed_up
from tests.dunning.conftest import local
from tests.dunning.helpers import case_of, fail_renewal, run_until


def open_invoice_of_someone_else() -> Invoice:
    return Invoice.objects.get(membership=signed_up(token="tok_decline_insufficient_funds"))


def test_a_token_carries_member_invoice_and_message(time_machine):
    time_machine.move_to(local(2026, 4, 5, 10), tick=False)
    link = read_token(make_token(7, 42, 9))
    assert (link.member_id, link.invoice_id, link.message_id) == (7, 42, 9)
    assert link.issued_at == local(2026, 4, 5, 10)
    assert read_token(make_token(7, 42)).message_id is None


def test_a_token_expires_after_the_maximum_age(time_machine, settings):
    time_machine.move_to(local(2026, 4, 5, 10), tick=False)
    token = make_token(7, 42)
    time_machine.move_to(local(2026, 4, 19, 10), tick=False)
    assert read_token(token).invoice_id == 42  # exactly 14 days: still fine
    time_machine.move_to(local(2026, 4, 19, 10, 1), tick=False)
    with pytest.raises(LinkExpired):
        read_token(token)
    settings.DUNNING_LINK_MAX_AGE_DAYS = 30
    assert read_token(token).member_id == 7


@pytest.mark.parametrize(
    "tamper",
    [
        lambda t: t[:-1] + ("A" if t[-1] != "A" else "B"),  # the signature
        lambda t: "eyJtIjo4LCJpIjo0Mn0" + t[t.index(":") :],  # another member, same signature
        lambda t: t.replace(":", "", 1),
        lambda t: "",
        lambda t: "not-a-token",
    ],
)
def test_a_tampered_token_is_refused(tamper):
    with pytest.raises(LinkInvalid):
        read_token(tamper(make_token(7, 42)))


def test_tokens_are_salted_for_this_purpose_only():
    from django.core import signing

    other = signing.TimestampSigner(salt="something-else").sign_object({"m": 7, "i": 42})
    with pytest.raises(LinkInvalid):
        read_token(other)


@pytest.mark.django_db
def test_a_tampered_link_shows_a_friendly_400_page(gym):
    response = Client().get("/pay/eyJtIjo4fQ:1abc:forged/")
    assert response.status_code == 400
    text = response.content.decode()
    assert "This link does not work" in text and gym.phone in text
    assert response["Referrer-Policy"] == "same-origin"


@pytest.mark.django_db
def test_an_expired_link_shows_a_friendly_410_page(gym, time_machine):
    time_machine.move_to(local(2026, 4, 5, 10), tick=False)
    url = reverse("dunning:pay", args=[make_token(1, 1)])
    time_machine.move_to(local(2026, 5, 5, 10), tick=False)
    response = Client().get(url)
    assert response.status_code == 410
    assert "expired" in response.content.decode()


@pytest.mark.django_db
def test_a_link_for_someone_elses_invoice_is_refused(gym, failing_member):
    membership = failing_member()
    invoice = membership.member.invoices.first()
    url = reverse("dunning:pay", args=[make_token(membership.member_id + 1000, invoice.pk)])
    assert Client().get(url).status_code == 400


@pytest.mark.django_db(transaction=True)
def test_the_page_shows_what_is_owed_in_the_members_language(failing_member, time_machine):
    membership = failing_member("tok_decline_insufficient_funds", language="th")
    fail_renewal(time_machine)
    case = case_of(membership)
    message = DunningMessage.objects.get(case=case, channel="email")
    url = pay_url(case.member_id, case.invoice_id, message.pk).removeprefix("https://gym.example")
    response = Client().get(url)
    assert response.status_code == 200
    text = response.content.decode()
    assert "฿1,500.00" in text and case.invoice.number in text
    assert "ชำระ" in text  # Thai
    assert response["Content-Language"] == "th"
    assert "no-cache" in response["Cache-Control"] or "max-age=0" in response["Cache-Control"]
    assert "Stripe Elements" in text or "Elements" in text
    message.refresh_from_db()
    assert message.clicked_at is not None
    assert message.status == MessageStatus.CLICKED  # sent → clicked, as a provider says it
    opened = case.events.get(kind=EventKind.LINK_OPENED)
    assert opened.detail["channel"] == "email"


@pytest.mark.django_db(transaction=True)
def test_paying_with_the_card_on_file_after_the_bank_recovers(failing_member, time_machine):
    membership = failing_member("tok_succeed_after_1")
    fail_renewal(time_machine)
    case = case_of(membership)
    url = reverse("dunning:pay", args=[make_token(case.member_id, case.invoice_id)])
    client = Client()
    page = client.get(url).content.decode()
    assert "•••• " in page
    response = client.post(url, {"action": "pay_saved"})
    assert response.status_code == 200
    assert "Thank you" in response.content.decode()
    case.refresh_from_db()
    assert case.status == CaseStatus.RECOVERED


@pytest.mark.django_db(transaction=True)
def test_a_declined_card_on_the_page_says_so_plainly(failing_member, time_machine):
    membership = failing_member("tok_decline_insufficient_funds")
    fail_renewal(time_machine)
    case = case_of(membership)
    url = reverse("dunning:pay", args=[make_token(case.member_id, case.invoice_id)])
    client = Client()
    response = client.post(url, {"action": "pay_new", "card_token": "tok_decline_do_not_honor.x1"})
    text = response.content.decode()
    assert response.status_code == 200
    assert "declined" in text and "do_not_honor" not in text
    response = client.post(url, {"action": "pay_new", "card_token": "tok_no_such_behaviour"})
    assert "could not use that card" in response.content.decode()
    case.refresh_from_db()
    assert case.status == CaseStatus.OPEN


def answer(client: Client, url: str, attempt_id: int, reply: str) -> Any:
    """The member's answer on the sandbox bank's confirmation page."""
    return client.post(url, {"action": "authenticated", "attempt": attempt_id, "answer": reply})


def _asked_to_confirm(client: Client, url: str, token: str) -> int:
    """Pay on the page with a card whose bank asks for confirmation; the charge's id."""
    response = client.post(url, {"action": "pay_new", "card_token": token})
    assert response.status_code == 200
    text = response.content.decode()
    assert "Your bank asks you to confirm this payment" in text
    assert 'name="answer" value="approve"' in text  # the sandbox bank's page
    attempt = PaymentAttempt.objects.get(
        payment_method__token=token, trigger=AttemptTrigger.CUSTOMER
    )
    assert attempt.status == AttemptStatus.REQUIRES_ACTION
    assert f'name="attempt" value="{attempt.pk}"' in text
    return attempt.pk


@pytest.mark.django_db(transaction=True)
def test_a_payment_the_bank_asks_to_confirm_is_finished_on_the_page(failing_member, time_machine):
    membership = failing_member("tok_decline_insufficient_funds")
    fail_renewal(time_machine)
    case = case_of(membership)
    run_until(time_machine, local(2026, 4, 15, 12))  # day 10: access suspended
    membership.refresh_from_db()
    assert membership.status == MembershipStatus.SUSPENDED
    url = reverse("dunning:pay", args=[make_token(case.member_id, case.invoice_id)])
    client = Client()
    attempt_id = _asked_to_confirm(client, url, "tok_requires_action.threeds")
    case.refresh_from_db()
    assert case.status == CaseStatus.OPEN  # nothing was taken yet
    mail.outbox.clear()
    response = client.post(
        url, {"action": "authenticated", "attempt": attempt_id, "answer": "approve"}
    )
    assert "Thank you! Your payment went through" in response.content.decode()
    attempt = PaymentAttempt.objects.get(pk=attempt_id)
    assert attempt.status == AttemptStatus.SUCCEEDED
    assert get_gateway("sandbox").total_charged(attempt.gateway_reference) == attempt.amount
    case.refresh_from_db()
    assert (case.status, case.recovered_route) == (CaseStatus.RECOVERED, RecoveryRoute.MEMBER)
    membership.refresh_from_db()
    assert membership.status == MembershipStatus.ACTIVE  # the very next check grants
    assert any("Thank you" in m.subject or "ขอบคุณ" in m.subject for m in mail.outbox)
    # Answering again (a reload, a second click) changes nothing.
    again = client.post(
        url, {"action": "authenticated", "attempt": attempt_id, "answer": "approve"}
    )
    assert again.status_code == 200
    assert Payment.objects.filter(attempt_id=attempt_id).count() == 1


def _bank_answers_later(attempt_id: int, *, approve: bool) -> str:
    """The cardholder answers in the bank's app after all; the gateway's webhook follows."""
    attempt = PaymentAttempt.objects.get(pk=attempt_id)
    gateway = get_gateway("sandbox")
    gateway.authenticate(attempt.idempotency_key, approve=approve)
    payload = gateway.event_payload(gateway.payment_event(attempt.idempotency_key))
    return webhook_receive("sandbox", payload, gateway.sign_webhook(payload))


@pytest.mark.django_db(transaction=True)
def test_a_waiting_charge_is_stopped_before_the_invoice_is_charged_again(
    failing_member, time_machine
):
    membership = failing_member("tok_decline_insufficient_funds")
    fail_renewal(time_machine)
    case = case_of(membership)
    url = reverse("dunning:pay", args=[make_token(case.member_id, case.invoice_id)])
    waiting = _asked_to_confirm(Client(), url, "tok_requires_action.left")
    # The member leaves the confirmation and adds another card: dunning retries at once.
    payment_method_attach(membership.member, gateway="sandbox", token="tok_ok.instead")
    invoice = Invoice.objects.get(pk=case.invoice_id)
    assert invoice.status == InvoiceStatus.PAID
    stopped = PaymentAttempt.objects.get(pk=waiting)
    assert stopped.status == AttemptStatus.FAILED  # stopped at the bank first
    # The cardholder confirms the first charge later anyway: nothing more is taken.
    assert _bank_answers_later(waiting, approve=True) == "attempt_already_settled"
    assert get_gateway("sandbox").total_charged(stopped.gateway_reference) == 0
    assert [p.amount for p in Payment.objects.filter(invoice=invoice)] == [invoice.total]


@pytest.mark.django_db(transaction=True)
def test_a_charge_confirmed_before_it_could_be_stopped_is_the_payment(failing_member, time_machine):
    membership = failing_member("tok_decline_insufficient_funds")
    fail_renewal(time_machine)
    case = case_of(membership)
    url = reverse("dunning:pay", args=[make_token(case.member_id, case.invoice_id)])
    waiting = _asked_to_confirm(Client(), url, "tok_requires_action.first")
    attempt = PaymentAttempt.objects.get(pk=waiting)
    # Confirmed in the bank's app; the webhook has not arrived yet.
    get_gateway("sandbox").authenticate(attempt.idempotency_key, approve=True)
    payment_method_attach(membership.member, gateway="sandbox", token="tok_ok.second")
    invoice = Invoice.objects.get(pk=case.invoice_id)
    assert invoice.status == InvoiceStatus.PAID
    (payment,) = Payment.objects.filter(invoice=invoice)
    assert payment.attempt_id == waiting  # the confirmed charge, recorded
    assert not PaymentAttempt.objects.filter(payment_method__token="tok_ok.second").exists()
    assert get_gateway("sandbox").total_charged("tok_ok.second") == 0


@pytest.mark.django_db(transaction=True)
def test_money_for_a_voided_invoice_becomes_the_members_credit(failing_member, time_machine):
    membership = failing_member("tok_decline_insufficient_funds")
    fail_renewal(time_machine)
    case = case_of(membership)
    url = reverse("dunning:pay", args=[make_token(case.member_id, case.invoice_id)])
    waiting = _asked_to_confirm(Client(), url, "tok_requires_action.void")
    invoice = Invoice.objects.get(pk=case.invoice_id)
    invoice_void(invoice)
    assert _bank_answers_later(waiting, approve=True) == "attempt_succeeded"
    invoice.refresh_from_db()
    assert (invoice.status, invoice.amount_paid) == (InvoiceStatus.VOID, 0)
    (credit,) = LedgerEntry.objects.filter(invoice=invoice, kind=LedgerKind.CREDIT)
    assert credit.amount == -invoice.total  # the member's money, to use or refund


@pytest.mark.django_db(transaction=True)
def test_a_refused_confirmation_takes_nothing_and_only_this_pages_charge_can_be_confirmed(
    failing_member, time_machine
):
    membership = failing_member("tok_decline_insufficient_funds")
    fail_renewal(time_machine)
    case = case_of(membership)
    url = reverse("dunning:pay", args=[make_token(case.member_id, case.invoice_id)])
    client = Client()
    attempt_id = _asked_to_confirm(client, url, "tok_requires_action.refused")
    # Another member's waiting charge cannot be confirmed through this page.
    other = PaymentAttempt.objects.create(
        invoice=open_invoice_of_someone_else(),
        attempt_number=9,
        trigger=AttemptTrigger.CUSTOMER,
        gateway="sandbox",
        amount=100,
        currency="THB",
        idempotency_key="someone-else-9",
        status=AttemptStatus.REQUIRES_ACTION,
        created_at=local(2026, 4, 5, 12),
    )
    stolen = answer(client, url, other.pk, "approve")
    assert stolen.status_code == 200
    other.refresh_from_db()
    assert other.status == AttemptStatus.REQUIRES_ACTION
    for bad in ({"action": "authenticated"}, {"action": "authenticated", "attempt": "x"}):
        assert client.post(url, bad).status_code == 400
    response = client.post(
        url, {"action": "authenticated", "attempt": attempt_id, "answer": "refuse"}
    )
    assert "approve the payment" in response.content.decode()  # the customer-action wording
    attempt = PaymentAttempt.objects.get(pk=attempt_id)
    assert (attempt.status, attempt.decline_code) == (
        AttemptStatus.FAILED,
        "authentication_required",
    )
    assert get_gateway("sandbox").total_charged(attempt.gateway_reference) == 0
    case.refresh_from_db()
    assert case.status == CaseStatus.OPEN


@pytest.mark.django_db(transaction=True)
def test_a_card_number_typed_into_the_page_is_refused_and_never_shown(failing_member, time_machine):
    membership = failing_member("tok_decline_insufficient_funds")
    fail_renewal(time_machine)
    case = case_of(membership)
    url = reverse("dunning:pay", args=[make_token(case.member_id, case.invoice_id)])
    response = Client().post(url, {"action": "pay_new", "card_token": "4242 4242 4242 4242"})
    assert response.status_code == 400
    text = response.content.decode()
    assert "4242" not in text and "Never type a card number" in text
    assert not PaymentMethod.objects.filter(token__contains="4242").exists()


@pytest.mark.django_db(transaction=True)
def test_a_hard_declined_card_cannot_be_used_again_on_the_page(failing_member, time_machine):
    membership = failing_member("tok_decline_lost_card")
    fail_renewal(time_machine)
    case = case_of(membership)
    url = reverse("dunning:pay", args=[make_token(case.member_id, case.invoice_id)])
    client = Client()
    page = client.get(url).content.decode()
    assert "Add a new card and pay" in page and "Pay with the card on file" not in page
    response = client.post(url, {"action": "pay_saved"})
    assert "can no longer be used" in response.content.decode()
    response = client.post(url, {"action": "pay_new", "card_token": "tok_ok.fresh"})
    assert "Thank you" in response.content.decode()
    case.refresh_from_db()
    case.invoice.refresh_from_db()
    assert case.invoice.status == InvoiceStatus.PAID
    assert case.status == CaseStatus.RECOVERED
    # The page charged on-session; the card update did not also trigger a retry.
    assert not case.retries.exists()


@pytest.mark.django_db(transaction=True)
def test_the_link_in_an_email_opens_the_page(failing_member, time_machine):
    from django.core import mail

    membership = failing_member("tok_decline_insufficient_funds")
    fail_renewal(time_machine)
    (email,) = mail.outbox
    path = re.search(r"https://gym\.example(/pay/\S+/)", email.body).group(1)
    time_machine.move_to(local(2026, 4, 5, 10) + dt.timedelta(days=13), tick=False)
    assert Client().get(path).status_code == 200
    time_machine.move_to(local(2026, 4, 5, 10) + dt.timedelta(days=15), tick=False)
    assert Client().get(path).status_code == 410
    assert case_of(membership).status == CaseStatus.OPEN


@pytest.mark.django_db(transaction=True)
def test_a_balance_with_collections_is_shown_but_not_payable_online(failing_member, time_machine):
    from tests.dunning.helpers import run_until

    membership = failing_member("tok_decline_lost_card")
    fail_renewal(time_machine)
    run_until(time_machine, local(2026, 5, 6))
    case = case_of(membership)
    assert case.status == CaseStatus.COLLECTIONS
    url = reverse("dunning:pay", args=[make_token(case.member_id, case.invoice_id)])
    client = Client()
    text = client.get(url).content.decode()
    assert "can no longer be paid online" in text and "฿1,500.00" in text
    assert "up to date" not in text
    response = client.post(url, {"action": "pay_new", "card_token": "tok_ok.late"})
    assert "can no longer be paid online" in response.content.decode()
    assert not PaymentMethod.objects.filter(token="tok_ok.late").exists()


@pytest.mark.django_db(transaction=True)
def test_with_stripe_the_page_collects_the_card_in_stripe_elements(
    failing_member, time_machine, settings
):
    """Production: the page mounts Stripe's card form; the SetupIntent (and the payer's
    Stripe customer) are created only when the member submits a card, never on GET."""
    import billing.gateways as gateways
    from billing.gateways.stripe_gateway import StripeGateway
    from tests.billing.gateways.stripe_stub import API_KEY, WEBHOOK_SECRET, StubStripeHTTPClient

    membership = failing_member("tok_decline_insufficient_funds")
    fail_renewal(time_machine)
    case = case_of(membership)
    message = DunningMessage.objects.get(case=case, channel="email")
    url = pay_url(case.member_id, case.invoice_id, message.pk).removeprefix("https://gym.example")
    http = StubStripeHTTPClient().reply(
        200, {"id": "cus_123", "object": "customer", "email": "", "metadata": {}}
    )
    http.reply(
        200,
        {
            "id": "seti_123",
            "object": "setup_intent",
            "client_secret": "seti_123_secret_abc",
            "status": "requires_payment_method",
            "usage": "off_session",
        },
    )
    stripe_gateway = StripeGateway(
        API_KEY, WEBHOOK_SECRET, http_client=http, publishable_key="pk_test_abc"
    )
    settings.PAYMENT_GATEWAY = "stripe"
    gateways.clear_gateway_cache()
    gateways._instances["stripe"] = stripe_gateway
    client = Client(enforce_csrf_checks=True)
    try:
        response = client.get(url)
        assert http.requests == [], "opening the link (or a mail scanner) asks Stripe nothing"
        text = response.content.decode()
        assert response.status_code == 200
        assert "https://js.stripe.com/v3/" in text and "pk_test_abc" in text
        assert 'placeholder="tok_ok"' not in text and f"{url}card-setup/" in text
        csrf = client.cookies["csrftoken"].value
        refused = client.post(f"{url}card-setup/")
        assert refused.status_code == 403, "the card session needs the page's CSRF token"
        setup = client.post(f"{url}card-setup/", HTTP_X_CSRFTOKEN=csrf)
        tampered = client.post(f"{url[:-6]}xxxxx/card-setup/", HTTP_X_CSRFTOKEN=csrf)
    finally:
        gateways.clear_gateway_cache()
    assert setup.status_code == 200 and setup.json() == {"client_secret": "seti_123_secret_abc"}
    assert tampered.status_code == 400 and tampered.json()["code"] == "link_invalid"
    customer, request = http.requests
    assert customer.path == "/v1/customers"
    assert customer.headers.get("Idempotency-Key") == f"customer-stripe-{case.member_id}"
    assert customer.params["metadata[member_id]"] == str(case.member_id)
    assert request.path == "/v1/setup_intents"
    assert request.params["usage"] == "off_session"
    assert request.params["customer"] == "cus_123", "the saved card belongs to the payer"
    assert request.headers.get("Idempotency-Key", "").startswith(f"card-setup-{case.member_id}-")
    assert GatewayCustomer.objects.get(member_id=case.member_id, gateway="stripe").reference == (
        "cus_123"
    )


@pytest.mark.django_db(transaction=True)
def test_the_sandbox_has_no_card_session_to_start(failing_member, time_machine):
    membership = failing_member("tok_decline_insufficient_funds")
    fail_renewal(time_machine)
    case = case_of(membership)
    message = DunningMessage.objects.get(case=case, channel="email")
    url = pay_url(case.member_id, case.invoice_id, message.pk).removeprefix("https://gym.example")
    response = Client().post(f"{url}card-setup/")
    assert response.status_code == 503 and response.json()["code"] == "card_form_unavailable"
    assert Client().get(f"{url}card-setup/").status_code == 405
