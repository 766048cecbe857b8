"""Joining online on a 390x844 phone, in English and Thai: choose a plan with every fee
shown, give details, sign the agreement, pay by card (the sandbox's card form) or by
PromptPay (the sandbox bank), and land on the QR pass, signed in.  axe-core finds no
serious or critical problem on any step."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import Page, expect

from billing.gateways import get_gateway
from members.models import GymProfile, Lead, Member
from tests.billing.factories import PlanFactory
from tests.browser.axe import assert_accessible
from tests.factories import AgreementVersionFactory

JOIN = {"en": "Join with Monthly", "th": "สมัครแพ็กเกจ รายเดือน"}
CONTINUE = {"en": "Continue to the agreement", "th": "ไปที่ข้อตกลง"}
SIGN = {"en": "Sign and continue to payment", "th": "ลงนามและไปที่การชำระเงิน"}
PAY_CARD = {"en": "Pay and join", "th": "ชำระเงินและสมัคร"}
SHOW_QR = {"en": "Show the PromptPay QR code", "th": "แสดงคิวอาร์โค้ดพร้อมเพย์"}
WELCOME = {"en": "Welcome! You are a member now.", "th": "ยินดีต้อนรับ! ท่านเป็นสมาชิกแล้ว"}
CONSENT = {
    "en": "I have read the agreement above and accept it, with the fees shown.",
    "th": "ข้าพเจ้าได้อ่านข้อตกลงข้างต้นและยอมรับ รวมถึงค่าใช้จ่ายที่แสดงไว้",
}
TERMS = {"en": "Pay on time.", "th": "ชำระตรงเวลา"}


@pytest.fixture
def gym(server: str, settings: Any, lang: str) -> Any:
    settings.PROMPTPAY_ROUTE = "gateway"
    settings.PROMPTPAY_ID = ""
    get_gateway("sandbox").reset()
    GymProfile.objects.create(name="Lumpini Fitness", phone="+66 2 123 4567")
    AgreementVersionFactory(is_current=True, body_en="Pay on time.", body_th="ชำระตรงเวลา")
    return PlanFactory(
        code="monthly",
        name="Monthly",
        name_th="รายเดือน",
        price=150_000,
        joining_fee=50_000,
        minimum_term_periods=6,
        cancellation_notice_days=30,
        cancellation_fee=20_000,
        early_termination_fee=300_000,
        freezes_per_year=2,
        freeze_fee=10_000,
    )


def choose_and_sign(phone: Page, lang: str) -> None:
    phone.goto("/join/")
    expect(phone.locator("html")).to_have_attribute("lang", lang)
    fees = phone.locator("#fees-monthly")
    for amount in ("฿1,500.00", "฿500.00", "฿200.00", "฿3,000.00", "฿100.00"):
        expect(fees).to_contain_text(amount)
    expect(phone.locator(".join-today")).to_contain_text("฿2,000.00")
    assert_accessible(phone)
    phone.get_by_role("link", name=JOIN[lang]).click()

    phone.locator("#id_first_name").fill("Nok")
    phone.locator("#id_last_name").fill("Srisuk")
    phone.locator("#id_email").fill("nok@example.com")
    phone.locator("#id_phone").fill("081 234 5678")
    phone.locator("#id_date_of_birth").fill("1995-02-03")
    phone.locator("#id_email").fill("not an email")
    phone.get_by_role("button", name=CONTINUE[lang]).click()
    expect(phone.locator(".errorlist").first).to_be_visible()  # a clear error, nothing saved
    assert not Lead.objects.exists()
    assert_accessible(phone)
    phone.locator("#id_email").fill("nok@example.com")
    phone.get_by_role("button", name=CONTINUE[lang]).click()

    expect(phone.locator(".agreement-text")).to_contain_text(TERMS[lang])
    assert_accessible(phone)
    phone.locator("#signer_name").fill("Nok Srisuk")
    phone.get_by_label(CONSENT[lang]).check()
    phone.get_by_role("button", name=SIGN[lang]).click()
    expect(phone.locator("#join-total")).to_have_text("฿2,000.00")
    assert_accessible(phone)


def on_the_pass(phone: Page, lang: str) -> None:
    expect(phone.locator(".messages")).to_contain_text(WELCOME[lang])
    expect(phone.locator("#qr-pass")).to_be_visible()
    assert_accessible(phone)
    member = Member.objects.get(email="nok@example.com")
    assert member.status == "active" and member.user is not None
    assert Lead.objects.get().status == "won"


def test_join_by_card(phone: Page, lang: str, gym: Any) -> None:
    choose_and_sign(phone, lang)
    phone.locator("#card_token").fill("tok_ok")
    phone.get_by_role("button", name=PAY_CARD[lang]).click()
    on_the_pass(phone, lang)


def test_join_by_promptpay_in_the_sandbox_bank(phone: Page, lang: str, gym: Any) -> None:
    choose_and_sign(phone, lang)
    phone.get_by_role("button", name=SHOW_QR[lang]).click()
    expect(phone.locator("svg.qr-code")).to_be_visible()
    expect(phone.locator("#promptpay-amount")).to_have_text("฿2,000.00")
    assert_accessible(phone)
    with phone.context.expect_page() as opened:
        phone.locator("#promptpay-sandbox-bank").click()
    bank = opened.value
    expect(bank.locator("#bank-amount")).to_have_text("฿2,000.00")
    bank.locator("#bank-pay").click()
    expect(bank.locator("#bank-result")).to_be_visible()
    # The join's page sees the payment by itself and lands on the pass.
    on_the_pass(phone, lang)
