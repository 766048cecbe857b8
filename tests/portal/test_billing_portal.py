"""Billing's portal pages: invoices and their tax invoices, paying, the card, and the
membership's freeze, cancel and plan change, each shown with its price before the member
confirms and made by the desk's own services.  Another member's ids answer 404."""

from __future__ import annotations

import datetime as dt
import io
import re

import pytest
import time_machine
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from pypdf import PdfReader

from billing.gateways import get_gateway
from billing.models import (
    Invoice,
    InvoiceStatus,
    LineKind,
    MembershipEvent,
    MembershipStatus,
    PaymentMethod,
    PromptPayRequest,
    PromptPayStatus,
)
from billing.money import format_amount
from billing.services import invoices as inv
from billing.services import memberships as ms
from billing.services.payments import (
    default_payment_method,
    invoice_charge,
    payment_method_attach,
)
from billing.services.promptpay import promptpay_request_create
from members.models import GymProfile, Household
from tests.billing.factories import PlanFactory, card, signed_up

pytestmark = pytest.mark.django_db(transaction=True)
S = MembershipStatus
NOW = dt.datetime(2027, 3, 10, 3, 0, tzinfo=dt.UTC)  # 10:00 in Bangkok


@pytest.fixture(autouse=True)
def _world():
    get_gateway("sandbox").reset()
    GymProfile.objects.create(name="Lumpini Fitness", tax_id="0105561234567")
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


def client_for(member) -> Client:
    client = Client()
    client.force_login(member.user)
    return client


def owed(member, amount=80_000) -> Invoice:
    return inv.invoice_create(
        member=member,
        currency="THB",
        reason="manual",
        specs=[inv.LineSpec(LineKind.OTHER, "Personal training", amount, 700, True)],
    )


def member_with_plan(make_portal_member, **plan_fields):
    member = make_portal_member()
    return signed_up(member=member, plan=PlanFactory(**plan_fields))


# --- Invoices and receipts ------------------------------------------------------------


def test_the_history_lists_the_members_invoices_and_each_opens_and_downloads(
    make_portal_member,
):
    member = make_portal_member()
    mine = owed(member)
    other = owed(make_portal_member())
    client = client_for(member)
    page = client.get("/portal/billing/invoices/").content.decode()
    assert mine.number in page and other.number not in page
    assert "฿800.00" in page

    detail = client.get(f"/portal/billing/invoices/{mine.pk}/").content.decode()
    assert mine.number in detail and "Personal training" in detail

    pdf = client.get(f"/portal/billing/invoices/{mine.pk}/tax-invoice.pdf")
    assert pdf.status_code == 200 and pdf["Content-Type"] == "application/pdf"
    text = "".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf.content)).pages)
    assert mine.number in text and "Tax Invoice" in text


def test_a_payer_sees_their_dependants_invoices(make_portal_member):
    payer = make_portal_member()
    household = Household.objects.create(name="Somboon", payer=payer)
    child = make_portal_member(household=household)
    childs = owed(child)
    page = client_for(payer).get("/portal/billing/invoices/").content.decode()
    assert childs.number in page
    assert client_for(payer).get(f"/portal/billing/invoices/{childs.pk}/").status_code == 200
    # ... but the dependant does not see the payer's.
    payers = owed(payer)
    assert client_for(child).get(f"/portal/billing/invoices/{payers.pk}/").status_code == 404


def test_every_url_with_another_members_ids_answers_404(make_portal_member):
    me = make_portal_member()
    stranger = signed_up(member=make_portal_member(), plan=PlanFactory(freezes_per_year=2))
    theirs = owed(stranger.member)
    pp = promptpay_request_create(invoices=[theirs], member=stranger.member, channel="portal")
    client = client_for(me)
    gets = [
        f"/portal/billing/invoices/{theirs.pk}/",
        f"/portal/billing/invoices/{theirs.pk}/tax-invoice.pdf",
        f"/portal/billing/pay/promptpay/{pp.pk}/",
        f"/portal/billing/pay/promptpay/{pp.pk}/status/",
        f"/portal/billing/membership/{stranger.pk}/freeze/",
        f"/portal/billing/membership/{stranger.pk}/unfreeze/",
        f"/portal/billing/membership/{stranger.pk}/cancel/",
        f"/portal/billing/membership/{stranger.pk}/change-plan/",
        "/portal/billing/invoices/999999999/",
    ]
    for url in gets:
        assert client.get(url).status_code == 404, url
        if "status" not in url and "invoices" not in url:
            assert client.post(url, {"step": "confirm"}).status_code == 404, url
    stranger.refresh_from_db()
    assert stranger.status == S.ACTIVE and not stranger.cancel_at


def test_staff_and_strangers_never_see_a_members_invoice(make_portal_member, make_staff):
    from members import roles

    invoice = owed(make_portal_member())
    url = f"/portal/billing/invoices/{invoice.pk}/tax-invoice.pdf"
    assert Client().get(url).status_code == 302  # to the sign-in page
    staff = Client()
    staff.force_login(make_staff(roles.FRONT_DESK))
    assert staff.get(url).status_code == 404


def _queries(client: Client, url: str) -> int:
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url)
    assert response.status_code == 200, url
    return len(queries)


def test_pages_ask_the_same_number_of_queries_after_five_years_of_invoices(make_portal_member):
    member = make_portal_member()
    membership = signed_up(member=member, plan=PlanFactory(freezes_per_year=2))
    for _ in range(2):
        owed(member)
    client = client_for(member)
    latest = Invoice.objects.filter(member=member).latest("pk")
    pages = [
        "/portal/billing/invoices/",
        f"/portal/billing/invoices/{latest.pk}/",
        "/portal/billing/pay/",
        "/portal/billing/membership/",
        "/portal/billing/card/",
        f"/portal/billing/membership/{membership.pk}/cancel/",
        "/portal/",
    ]
    before = {url: _queries(client, url) for url in pages}
    for month in range(60):  # five years of monthly invoices, most paid
        invoice = owed(member, amount=150_000)
        invoice.issued_at = NOW - dt.timedelta(days=30 * (60 - month))
        invoice.save(update_fields=["issued_at"])
        if month % 6:
            inv.payment_record(invoice, amount=invoice.amount_due, source="cash")
    after = {url: _queries(client, url) for url in pages}
    assert after == before


# --- Paying ---------------------------------------------------------------------------


def test_paying_an_overdue_invoice_with_the_card_on_file_restores_the_membership(
    make_portal_member,
):
    membership = member_with_plan(make_portal_member)
    member = membership.member
    declining = payment_method_attach(
        member,
        gateway="sandbox",
        token=f"tok_decline_insufficient_funds.m{member.pk}",
        make_default=False,
    )
    invoice = owed(member)
    Invoice.objects.filter(pk=invoice.pk).update(membership=membership)
    ms.membership_payment_failed(membership.pk, invoice_charge(invoice, method=declining))
    membership.refresh_from_db()
    ms.membership_suspend(membership)
    membership.refresh_from_db()
    assert membership.status == S.SUSPENDED
    client = client_for(member)
    page = client.get("/portal/billing/pay/").content.decode()
    assert "฿800.00" in page
    response = client.post("/portal/billing/pay/", {"action": "pay_saved"})
    assert response.status_code == 200
    assert "Paid now: ฿800.00" in response.content.decode()
    invoice.refresh_from_db()
    membership.refresh_from_db()
    assert invoice.status == InvoiceStatus.PAID
    assert membership.status == S.ACTIVE


def test_a_new_card_through_the_banks_confirmation_pays_and_becomes_the_default(
    make_portal_member,
):
    member = make_portal_member()
    old = card(member, "tok_ok")
    invoice = owed(member)
    client = client_for(member)
    asked = client.post(
        "/portal/billing/pay/", {"action": "pay_new", "card_token": "tok_requires_action"}
    )
    body = asked.content.decode()
    assert 'name="action" value="authenticated"' in body
    attempt_id = invoice.attempts.get().pk
    done = client.post(
        "/portal/billing/pay/",
        {"action": "authenticated", "attempt": attempt_id, "answer": "approve"},
    )
    assert "Paid now: ฿800.00" in done.content.decode()
    invoice.refresh_from_db()
    assert invoice.status == InvoiceStatus.PAID
    new_default = default_payment_method(member.pk)
    assert new_default is not None and new_default.pk != old.pk


def test_a_card_number_is_never_accepted(make_portal_member):
    member = make_portal_member()
    owed(member)
    client = client_for(member)
    response = client.post(
        "/portal/billing/pay/", {"action": "pay_new", "card_token": "4242424242424242"}
    )
    assert "We could not use that card" in response.content.decode()
    assert not PaymentMethod.objects.filter(member=member).exists()
    assert (
        client.post("/portal/billing/card/", {"card_token": "4242 4242 4242 4242"}).status_code
        == 400
    )
    assert not PaymentMethod.objects.filter(member=member).exists()


def test_paying_by_promptpay_in_the_sandbox(make_portal_member, _world):
    member = make_portal_member()
    invoice = owed(member)
    client = client_for(member)
    started = client.post("/portal/billing/pay/", {"action": "pay_promptpay"})
    assert started.status_code == 303
    pp = PromptPayRequest.objects.get(member=member)
    assert started["Location"] == f"/portal/billing/pay/promptpay/{pp.pk}/"
    assert pp.channel == "portal" and pp.amount == 80_000
    waiting = client.get(started["Location"]).content.decode()
    assert "฿800.00" in waiting and "<svg" in waiting
    get_gateway("sandbox").promptpay_pay(pp.gateway_reference)
    _world.shift(20)  # the page asks the gateway at most every 15 s
    assert client.get(f"/portal/billing/pay/promptpay/{pp.pk}/status/").json()["status"] == "paid"
    thanks = client.get(started["Location"]).content.decode()
    assert "We received your PromptPay payment of ฿800.00" in thanks
    pp.refresh_from_db()
    invoice.refresh_from_db()
    assert pp.status == PromptPayStatus.PAID and invoice.status == InvoiceStatus.PAID


def test_the_card_page_replaces_the_default_card(make_portal_member):
    member = make_portal_member()
    old = card(member, "tok_ok")
    client = client_for(member)
    assert old.last4 in client.get("/portal/billing/card/").content.decode()
    response = client.post("/portal/billing/card/", {"card_token": "tok_mastercard_ok"})
    assert response.status_code == 303
    new = default_payment_method(member.pk)
    assert new is not None and new.pk != old.pk and new.brand == "mastercard"


# --- The membership -------------------------------------------------------------------


def test_a_freeze_shows_its_fee_then_freezes_with_the_same_fee(make_portal_member):
    membership = member_with_plan(
        make_portal_member, freezes_per_year=2, freeze_min_days=7, freeze_fee=30_000
    )
    card(membership.member, "tok_ok")
    client = client_for(membership.member)
    url = f"/portal/billing/membership/{membership.pk}/freeze/"
    dates = {"starts_on": "2027-03-15", "ends_on": "2027-03-29"}
    preview = client.post(url, {**dates, "step": "preview"}).content.decode()
    assert "฿300.00" in preview and 'value="confirm"' in preview
    membership.refresh_from_db()
    assert membership.frozen_from is None  # nothing changed yet
    assert client.post(url, {**dates, "step": "confirm"}).status_code == 303
    membership.refresh_from_db()
    assert membership.frozen_from == dt.date(2027, 3, 15)
    fee = Invoice.objects.filter(member=membership.member, billing_reason="fee").get()
    assert fee.total == 30_000


def test_a_freeze_outside_the_plans_rules_is_refused_with_the_reason(make_portal_member):
    membership = member_with_plan(make_portal_member, freezes_per_year=1, freeze_min_days=7)
    client = client_for(membership.member)
    url = f"/portal/billing/membership/{membership.pk}/freeze/"
    response = client.post(url, {"starts_on": "2027-03-15", "ends_on": "2027-03-17"})
    assert response.status_code == 400
    assert "at least 7 days" in response.content.decode()
    junk = client.post(url, {"starts_on": "soon", "ends_on": "\x00"})
    assert junk.status_code == 400


def test_cancel_asks_why_shows_the_fee_and_honours_notice_and_minimum_term(make_portal_member):
    membership = member_with_plan(
        make_portal_member,
        cancellation_fee=50_000,
        cancellation_notice_days=30,
        minimum_term_periods=6,
    )
    card(membership.member, "tok_ok")
    client = client_for(membership.member)
    url = f"/portal/billing/membership/{membership.pk}/cancel/"
    assert client.post(url, {"step": "preview"}).status_code == 400  # no reason given
    preview = client.post(url, {"reason": "moving", "step": "preview"}).content.decode()
    assert "฿500.00" in preview
    assert client.post(url, {"reason": "moving", "step": "confirm"}).status_code == 303
    membership.refresh_from_db()
    assert membership.cancel_at is not None
    assert membership.cancel_at >= membership.minimum_term_ends_on
    assert membership.cancel_reason == "moving"
    event = MembershipEvent.objects.get(membership=membership, kind="cancel_scheduled")
    assert event.detail["reason"] == "moving" and event.detail["channel"] == "portal"
    fee = Invoice.objects.filter(member=membership.member, billing_reason="fee").get()
    assert fee.total == 50_000


def test_an_upgrade_charges_what_was_shown_and_a_downgrade_waits(make_portal_member):
    membership = member_with_plan(make_portal_member, price=150_000, code="basic")
    card(membership.member, "tok_ok")
    premium = PlanFactory(price=300_000, code="premium")
    cheap = PlanFactory(price=100_000, code="cheap")
    client = client_for(membership.member)
    url = f"/portal/billing/membership/{membership.pk}/change-plan/"
    listing = client.get(url).content.decode()
    assert premium.name in listing and cheap.name in listing
    preview = client.post(url, {"plan": premium.pk, "step": "preview"}).content.decode()
    shown = re.search(r'id="plan-charge">(฿[\d,.]+)<', preview).group(1)
    assert client.post(url, {"plan": premium.pk, "step": "confirm"}).status_code == 303
    proration = Invoice.objects.get(member=membership.member, billing_reason="proration")
    assert format_amount(proration.total, "THB") == shown
    membership.refresh_from_db()
    assert membership.plan_id == premium.pk

    assert client.post(url, {"plan": cheap.pk, "step": "confirm"}).status_code == 303
    membership.refresh_from_db()
    assert membership.plan_id == premium.pk and membership.pending_plan_id == cheap.pk
    assert client.post(url, {"plan": "not-a-plan", "step": "confirm"}).status_code == 400
