"""A member pays what they owe by PromptPay on the hosted pay page, on a phone, in the
sandbox bank: in English and in Thai.  (The page's form posts from Chromium since its
referrer policy became ``same-origin``; under ``no-referrer`` Django refused it.)
"""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import Page, expect

from billing.gateways import get_gateway
from billing.models import InvoiceStatus, LineKind, Payment, PaymentSource
from billing.services import invoices as inv
from dunning.links import make_token
from tests.factories import MemberFactory

PAY_BY_PROMPTPAY = {"en": "Pay ฿800.00 by PromptPay", "th": "ชำระ ฿800.00 ผ่านพร้อมเพย์"}
THANKS = {
    "en": "We received your PromptPay payment of ฿800.00",
    "th": "เราได้รับเงิน ฿800.00 ที่ท่านชำระผ่านพร้อมเพย์แล้ว",
}
RECEIPT = {"en": "View your receipt", "th": "ดูใบเสร็จรับเงิน"}
TOTAL_RECEIVED = {"en": "Total received", "th": "รวมที่ได้รับ"}


@pytest.fixture
def owed_link(server: str, settings: Any, lang: str) -> tuple[str, Any]:
    """The signed pay-page path of an ฿800.00 invoice a member owes (nothing stored yet)."""
    settings.PROMPTPAY_ROUTE = "auto"
    settings.PROMPTPAY_ID = ""
    get_gateway("sandbox").reset()
    member = MemberFactory(language=lang)
    invoice = inv.invoice_create(
        member=member,
        currency="THB",
        reason="manual",
        specs=[inv.LineSpec(LineKind.OTHER, "Membership", 80_000, 700, inclusive=True)],
    )
    return f"/pay/{make_token(member.pk, invoice.pk)}/", invoice


def test_pay_by_promptpay_in_the_sandbox_bank(phone: Page, lang: str, owed_link: Any) -> None:
    path, invoice = owed_link
    phone.goto(path)
    expect(phone.locator("html")).to_have_attribute("lang", lang)

    phone.get_by_role("button", name=PAY_BY_PROMPTPAY[lang]).click()
    qr = phone.locator("svg.qr-code")
    expect(qr).to_be_visible()
    expect(phone.locator("#promptpay-amount")).to_have_text("฿800.00")
    box = qr.bounding_box()
    assert box is not None and 200 <= box["width"] <= 390  # big enough to scan, fits the phone

    # The payer's banking app (the sandbox's) opens in a new tab: it reads the QR, they pay.
    with phone.context.expect_page() as opened:
        phone.locator("#promptpay-sandbox-bank").click()
    bank = opened.value
    expect(bank.locator("#bank-amount")).to_have_text("฿800.00")
    bank.locator("#bank-pay").click()
    expect(bank.locator("#bank-result")).to_be_visible()

    # Back on the pay page: its poll sees the payment and the page thanks the member.
    expect(phone.locator("#promptpay-paid")).to_contain_text(THANKS[lang], timeout=15_000)
    phone.get_by_role("link", name=RECEIPT[lang]).click()
    expect(phone.locator("#promptpay-receipt-page")).to_contain_text(TOTAL_RECEIVED[lang])
    expect(phone.locator("#promptpay-receipt-page")).to_contain_text("฿800.00")

    invoice.refresh_from_db()
    assert invoice.status == InvoiceStatus.PAID
    assert Payment.objects.filter(invoice=invoice, source=PaymentSource.PROMPTPAY).count() == 1
