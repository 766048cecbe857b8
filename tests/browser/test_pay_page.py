"""A member pays on the hosted pay page in Chromium, on a 390x844 phone, in English and
Thai: with the card on file, with a new card, and through the bank's confirmation
(3-D Secure, the sandbox bank's page).  Each ends on the amount paid and a receipt that
opens; the gym's phone number is a tap-to-call link.

These are the flows the CSRF defect broke: the page's ``no-referrer`` policy made
Chromium post with ``Origin: null``, which Django refuses.
"""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from billing.gateways import get_gateway
from billing.models import Invoice, InvoiceStatus, LineKind
from billing.services import invoices as inv
from billing.services.payments import default_payment_method
from dunning.links import make_token
from members.models import GymProfile
from tests.billing.factories import card
from tests.factories import MemberFactory

PAY_SAVED = {"en": "Pay ฿800.00 now", "th": "ชำระ ฿800.00 ตอนนี้"}
SAVE_AND_PAY = {"en": "Save this card and pay", "th": "บันทึกบัตรนี้และชำระเงิน"}
APPROVE = {"en": "Approve in my banking app", "th": "อนุมัติในแอปธนาคารของฉัน"}
PAID_NOW = {"en": "Paid now: ฿800.00", "th": "ชำระแล้วครั้งนี้: ฿800.00"}
THANKS = {"en": "Thank you!", "th": "ขอบคุณ"}
RECEIPT_FOR = {"en": "Receipt for invoice", "th": "ใบเสร็จรับเงินของใบแจ้งหนี้"}
PAID_IN_FULL = {"en": "Paid in full", "th": "ชำระครบแล้ว"}


@pytest.fixture
def member(server: str, lang: str):
    """A member who owes ฿800.00, whose page speaks ``lang``; the gym has a phone."""
    get_gateway("sandbox").reset()
    GymProfile.objects.create(name="Lumpini Fitness", phone="+66 2 123 4567")
    return MemberFactory(language=lang)


def owed(member) -> tuple[str, Invoice]:
    invoice = inv.invoice_create(
        member=member,
        currency="THB",
        reason="manual",
        specs=[inv.LineSpec(LineKind.OTHER, "Membership", 80_000, 700, inclusive=True)],
    )
    return f"/pay/{make_token(member.pk, invoice.pk)}/", invoice


def paid_with_a_receipt(phone: Page, lang: str, invoice: Invoice) -> None:
    """The page thanks the member with the amount; its receipt opens and says paid."""
    outcome = phone.locator("#pay-outcome")
    expect(outcome).to_contain_text(THANKS[lang])
    expect(phone.locator("#paid-amount")).to_have_text(PAID_NOW[lang])
    phone.get_by_role("link", name=f"{RECEIPT_FOR[lang]} {invoice.number}").click()
    receipt = phone.locator("#receipt")
    expect(receipt).to_contain_text(invoice.number or "")
    expect(receipt).to_contain_text("฿800.00")
    expect(receipt).to_contain_text(PAID_IN_FULL[lang])
    invoice.refresh_from_db()
    assert invoice.status == InvoiceStatus.PAID


def test_pay_with_the_card_on_file(phone: Page, lang: str, member) -> None:
    card(member)
    path, invoice = owed(member)
    phone.goto(path)
    expect(phone.locator("html")).to_have_attribute("lang", lang)
    expect(phone.locator("#gym-phone")).to_have_attribute("href", "tel:+6621234567")

    phone.get_by_role("button", name=PAY_SAVED[lang]).click()

    paid_with_a_receipt(phone, lang, invoice)


def test_pay_with_a_new_card(phone: Page, lang: str, member) -> None:
    on_file = card(member, "tok_decline_insufficient_funds")
    path, invoice = owed(member)
    phone.goto(path)

    phone.locator("#card_token").fill(f"tok_ok.m{member.pk}-new")
    phone.get_by_role("button", name=SAVE_AND_PAY[lang]).click()

    paid_with_a_receipt(phone, lang, invoice)
    new = default_payment_method(member.pk)
    assert new is not None and new != on_file  # the card that paid is the card on file now


def test_pay_through_the_banks_confirmation(phone: Page, lang: str, member) -> None:
    path, invoice = owed(member)
    phone.goto(path)

    phone.locator("#card_token").fill(f"tok_requires_action.m{member.pk}")
    phone.get_by_role("button", name=SAVE_AND_PAY[lang]).click()
    expect(phone.locator("#confirm-payment")).to_be_visible()
    invoice.refresh_from_db()
    assert invoice.status == InvoiceStatus.OPEN  # nothing taken until the bank says so
    phone.get_by_role("button", name=APPROVE[lang]).click()

    paid_with_a_receipt(phone, lang, invoice)
