"""A member pays and manages their membership in the portal, on a 390x844 phone, in
English and Thai: pays an overdue invoice with a new card and the gate lets them in at the
very next check; pays by PromptPay in the sandbox bank; freezes; cancels with the fee shown
first; downloads a tax invoice PDF.  Every page passes axe (no serious or critical
violation)."""

from __future__ import annotations

import datetime as dt
import io
from collections.abc import Callable
from typing import Any

import pytest
from playwright.sync_api import Page, expect
from pypdf import PdfReader

from billing.gateways import get_gateway
from billing.models import Invoice, InvoiceStatus, LineKind, MembershipStatus
from billing.services import invoices as inv
from config import clock
from members import services as member_services
from members.models import GymProfile
from tests.billing.factories import PlanFactory, card, signed_up
from tests.browser.axe import assert_accessible
from tests.browser.desk import gate, suspended_for_an_unpaid_charge, with_card
from tests.factories import MemberFactory

PAID_NOW = {"en": "Paid now: ฿800.00", "th": "ชำระแล้วครั้งนี้: ฿800.00"}
THANKS = {"en": "Thank you!", "th": "ขอบคุณ"}


@pytest.fixture
def portal_member(server: str, lang: str) -> Any:
    get_gateway("sandbox").reset()
    GymProfile.objects.create(
        name="Lumpini Fitness", phone="+66 2 123 4567", tax_id="0105561234567"
    )
    member = MemberFactory(first_name="Ploy", language=lang)
    member_services.member_login_ensure(member, email_verified=True)
    member.refresh_from_db()
    return member


def owes(member: Any) -> Invoice:
    return inv.invoice_create(
        member=member,
        currency="THB",
        reason="manual",
        specs=[inv.LineSpec(LineKind.OTHER, "Personal training", 80_000, 700, True)],
    )


def test_paying_an_overdue_invoice_by_card_opens_the_gate_at_the_next_check(
    phone: Page, lang: str, login: Callable[[Page, Any], None], server: str
) -> None:
    get_gateway("sandbox").reset()
    GymProfile.objects.create(name="Lumpini Fitness")
    member = MemberFactory(first_name="Ploy", language=lang)
    member_services.member_login_ensure(member, email_verified=True)
    membership = suspended_for_an_unpaid_charge(member=member)
    assert membership.status == MembershipStatus.SUSPENDED
    turnstile = gate()
    uid = with_card(membership.member, "04A1B2C3")
    assert turnstile.check(phone, server, uid)["granted"] is False

    member.refresh_from_db()
    login(phone, member.user)
    phone.goto("/portal/billing/pay/")
    expect(phone.locator("html")).to_have_attribute("lang", lang)
    expect(phone.locator("#pay-total")).to_have_text("฿800.00")
    assert_accessible(phone)
    phone.locator("#card_token").fill("tok_visa_ok")
    phone.locator("#pay-new").click()

    expect(phone.locator("#pay-outcome")).to_contain_text(THANKS[lang])
    expect(phone.locator("#paid-amount")).to_have_text(PAID_NOW[lang])
    assert_accessible(phone)
    assert turnstile.check(phone, server, uid)["granted"] is True
    membership.refresh_from_db()
    assert membership.status == MembershipStatus.ACTIVE


def test_paying_by_promptpay_in_the_sandbox_bank(
    phone: Page, lang: str, login: Callable[[Page, Any], None], portal_member: Any
) -> None:
    invoice = owes(portal_member)
    login(phone, portal_member.user)
    phone.goto("/portal/billing/pay/")
    phone.locator("#promptpay-start").click()
    expect(phone.locator("svg.qr-code")).to_be_visible()
    expect(phone.locator("#promptpay-amount")).to_have_text("฿800.00")
    assert_accessible(phone)

    with phone.context.expect_page() as opened:
        phone.locator("#promptpay-sandbox-bank").click()
    bank = opened.value
    bank.locator("#bank-pay").click()
    expect(bank.locator("#bank-result")).to_be_visible()

    expect(phone.locator("#promptpay-paid")).to_contain_text("฿800.00", timeout=15_000)
    assert_accessible(phone)
    invoice.refresh_from_db()
    assert invoice.status == InvoiceStatus.PAID


def test_freezing_shows_the_fee_then_freezes(
    phone: Page, lang: str, login: Callable[[Page, Any], None], portal_member: Any
) -> None:
    plan = PlanFactory(freezes_per_year=2, freeze_min_days=7, freeze_fee=30_000)
    membership = signed_up(member=portal_member, plan=plan)
    login(phone, portal_member.user)
    phone.goto("/portal/billing/membership/")
    assert_accessible(phone)
    phone.locator("#freeze-link").click()
    assert_accessible(phone)
    starts = clock.today() + dt.timedelta(days=1)
    phone.locator("#id_starts_on").fill(starts.isoformat())
    phone.locator("#id_ends_on").fill((starts + dt.timedelta(days=14)).isoformat())
    phone.locator("#freeze-preview").click()
    expect(phone.locator("#freeze-fee")).to_have_text("฿300.00")
    assert_accessible(phone)
    phone.locator("#freeze-confirm").click()

    expect(phone.locator("#membership-frozen")).to_be_visible()
    assert_accessible(phone)
    membership.refresh_from_db()
    assert membership.frozen_from == starts


def test_cancelling_asks_why_and_shows_the_fee_first(
    phone: Page, lang: str, login: Callable[[Page, Any], None], portal_member: Any
) -> None:
    plan = PlanFactory(cancellation_fee=50_000, cancellation_notice_days=30)
    membership = signed_up(member=portal_member, plan=plan)
    login(phone, portal_member.user)
    phone.goto("/portal/billing/membership/")
    phone.locator("#cancel-link").click()
    assert_accessible(phone)
    phone.locator("input[name=reason][value=moving]").check()
    phone.locator("#cancel-preview").click()
    expect(phone.locator("#cancel-fee")).to_have_text("฿500.00")
    assert_accessible(phone)
    phone.locator("#cancel-confirm").click()

    expect(phone.locator("#membership-ends")).to_be_visible()
    membership.refresh_from_db()
    assert membership.cancel_at is not None and membership.cancel_reason == "moving"
    assert Invoice.objects.filter(member=portal_member, billing_reason="fee").get().total == 50_000


def test_downloading_a_tax_invoice_pdf(
    phone: Page, lang: str, login: Callable[[Page, Any], None], portal_member: Any
) -> None:
    invoice = owes(portal_member)
    card(portal_member, "tok_ok")
    login(phone, portal_member.user)
    phone.goto("/portal/billing/invoices/")
    assert_accessible(phone)
    phone.get_by_role("link", name=invoice.number or "", exact=True).click()
    assert_accessible(phone)
    with phone.expect_download() as downloading:
        phone.locator("#download-pdf").click()
    download = downloading.value
    assert download.suggested_filename == f"tax-invoice-{invoice.number}.pdf"
    path = download.path()
    text = "".join(page.extract_text() for page in PdfReader(io.BytesIO(path.read_bytes())).pages)
    assert "Tax Invoice" in text and (invoice.number or "") in text
