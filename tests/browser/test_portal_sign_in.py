"""A member signs in to the portal on their phone with a code sent by email, in English
and Thai, and lands on their home page; every page on the way passes axe."""

from __future__ import annotations

import re

import pytest
from django.core import mail
from playwright.sync_api import Page, expect

from members import services
from members.models import GymProfile
from tests.browser.axe import assert_accessible
from tests.factories import MemberFactory

SIGN_IN = {"en": "Sign in to your membership", "th": "เข้าสู่ระบบสมาชิก"}
HELLO = {"en": "Hello, Ploy", "th": "สวัสดี Ploy"}
MEMBERSHIP = {"en": "Your membership", "th": "สมาชิกภาพของคุณ"}


@pytest.fixture
def member(server: str, lang: str):
    GymProfile.objects.create(name="Lumpini Fitness", phone="+66 2 123 4567")
    member = MemberFactory(first_name="Ploy", language=lang)
    services.member_login_ensure(member, email_verified=True)
    return member


def _code(body: str) -> str:
    match = re.search(r"^\s*([A-Z0-9]{4}-[A-Z0-9]{4})\s*$", body, re.MULTILINE)
    assert match, body
    return match.group(1)


def test_a_member_signs_in_with_a_code_from_their_email(phone: Page, lang: str, member):
    mail.outbox.clear()
    phone.goto("/portal/")
    expect(phone.get_by_role("heading", level=1)).to_have_text(SIGN_IN[lang])
    assert_accessible(phone)

    phone.locator("a[href*='/portal/account/login/code/']").click()
    phone.locator("#id_email").fill(member.email)
    assert_accessible(phone)
    phone.locator("main form button[type=submit]").first.click()

    expect(phone.locator("#id_code")).to_be_visible()
    assert_accessible(phone)
    assert len(mail.outbox) == 1 and mail.outbox[0].to == [member.email]
    phone.locator("#id_code").fill(_code(mail.outbox[0].body))
    phone.locator("main form button[type=submit]").first.click()

    expect(phone.get_by_role("heading", level=1)).to_have_text(HELLO[lang])
    expect(phone.locator("#card-membership h2")).to_have_text(MEMBERSHIP[lang])
    assert phone.evaluate("document.documentElement.lang") == lang
    assert_accessible(phone)


def test_a_wrong_code_is_refused(phone: Page, lang: str, member):
    mail.outbox.clear()
    phone.goto("/portal/account/login/code/")
    phone.locator("#id_email").fill(member.email)
    phone.locator("main form button[type=submit]").first.click()
    phone.locator("#id_code").fill("AAAA-AAAA")
    phone.locator("main form button[type=submit]").first.click()
    expect(phone.locator("#id_code")).to_be_visible()
    expect(phone.locator("main .errorlist")).to_be_visible()
    assert "/portal/account/" in phone.url
