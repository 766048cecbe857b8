"""The member's own portal pages on a phone, in English and Thai: the QR pass changes by
itself, the profile saves, privacy requests are recorded; each page passes axe."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from members import services
from members.models import GymProfile, Member, PrivacyRequest
from tests.browser.axe import assert_accessible
from tests.factories import MemberFactory

SAVED = {"en": "Your details are saved.", "th": "บันทึกข้อมูลของคุณแล้ว"}
READY = {"en": "Your copy is ready", "th": "สำเนาข้อมูลของคุณพร้อมแล้ว"}


@pytest.fixture
def member(server: str, lang: str) -> Member:
    GymProfile.objects.create(name="Lumpini Fitness", phone="+66 2 123 4567")
    member = MemberFactory(first_name="Ploy", language=lang)
    services.member_login_ensure(member, email_verified=True)
    member.refresh_from_db()
    return member


def test_the_qr_pass_changes_on_its_own(phone: Page, lang: str, member, login, settings):
    settings.ACCESS_QR_STEP_SECONDS = 2  # the page follows the server's step
    login(phone, member.user)
    phone.goto("/portal/pass/")
    image = phone.locator("#qr-image")
    expect(image).to_be_visible()
    first = image.get_attribute("src")
    assert first and first.startswith("data:image/svg+xml")
    expect(phone.locator("#qr-clock")).not_to_be_empty()
    assert_accessible(phone)
    phone.wait_for_function(
        "first => document.getElementById('qr-image').getAttribute('src') !== first",
        arg=first,
        timeout=8_000,
    )
    assert phone.locator("link[rel=manifest]").count() == 1
    manifest = phone.request.get("/portal/pass/manifest.webmanifest").json()
    assert manifest["start_url"] == "/portal/pass/"


def test_a_member_edits_their_profile(phone: Page, lang: str, member, login):
    login(phone, member.user)
    phone.goto("/portal/profile/")
    assert_accessible(phone)
    phone.locator("#id_phone").fill("081 234 5678")
    phone.locator("#id_emergency_contact_name").fill("Somchai")
    phone.locator("#id_tax_name").fill("Ploy Co., Ltd.")
    phone.locator("#id_tax_id").fill("0-1055-51234-56-7")
    phone.locator("#id_marketing_email").check()
    phone.locator("#profile-form button[type=submit]").click()
    expect(phone.locator(".messages")).to_contain_text(SAVED[lang])
    assert_accessible(phone)
    member.refresh_from_db()
    assert member.phone == "+66812345678" and member.tax_id == "0105551234567"
    assert member.emergency_contact_name == "Somchai" and member.marketing_email


def test_a_member_asks_for_a_copy_of_their_data(phone: Page, lang: str, member, login):
    login(phone, member.user)
    phone.goto("/portal/privacy/")
    assert_accessible(phone)
    phone.locator("#export-form button[type=submit]").click()
    expect(phone.locator(".messages")).to_contain_text(READY[lang])
    expect(phone.locator("#privacy-requests li")).to_have_count(1)
    assert PrivacyRequest.objects.filter(member=member, kind="export").count() == 1
    assert_accessible(phone)


def test_the_home_page_and_language_switch(phone: Page, lang: str, member, login):
    login(phone, member.user)
    phone.goto("/portal/")
    assert_accessible(phone)
    other = "th" if lang == "en" else "en"
    phone.locator(f".lang button[value={other}]").click()
    expect(phone.locator("html")).to_have_attribute("lang", other)
    member.refresh_from_db()
    assert member.language == other
