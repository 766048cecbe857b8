"""A manager's first sign-in sets up the authenticator app (enrolment is forced), then
every sign-in asks for its code: in a real browser, in English and in Thai."""

from __future__ import annotations

from typing import Any

from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice
from playwright.sync_api import Page, expect

from members import roles

SIGN_IN = {"en": "Log in", "th": "เข้าสู่ระบบ"}


def code_for(user: Any) -> str:
    device = TOTPDevice.objects.filter(user=user).latest("pk")
    return f"{totp(device.bin_key, device.step, device.t0, device.digits, device.drift):06d}"


def sign_in_with_password(page: Page, lang: str) -> None:
    page.goto("/admin/")
    page.fill("#id_username", "boss")
    page.fill("#id_password", "pw-for-tests-only")
    page.get_by_role("button", name=SIGN_IN[lang]).click()


def test_a_manager_sets_up_the_second_factor_then_signs_in_with_it(
    desk: Page, open_page: Any, lang: str, server: str, make_staff: Any
) -> None:
    manager = make_staff(roles.MANAGER, username="boss")

    sign_in_with_password(desk, lang)
    # Straight to setting it up: nothing of the admin before.
    expect(desk).to_have_url(f"{server}/admin/second-factor/setup/?next=%2Fadmin%2F")
    expect(desk.locator("html")).to_have_attribute("lang", lang)
    expect(desk.locator("#second-factor-qr svg")).to_be_visible()
    expect(desk.locator("#second-factor-secret")).not_to_be_empty()
    desk.fill("#id_code", code_for(manager))
    desk.locator("#second-factor-form [type=submit]").click()
    codes = desk.locator("#recovery-codes li")
    expect(codes).to_have_count(10)
    desk.locator("#second-factor-continue").click()
    expect(desk).to_have_url(f"{server}/admin/")
    expect(desk.locator("#user-tools")).to_contain_text("boss")

    # Another day, another computer: the password, then the code.
    TOTPDevice.objects.filter(user=manager).update(last_t=-1)
    later = open_page(lang)
    sign_in_with_password(later, lang)
    expect(later).to_have_url(f"{server}/admin/second-factor/?next=%2Fadmin%2F")
    later.fill("#id_code", "000000")
    later.locator("#second-factor-form [type=submit]").click()
    expect(later.locator(".errornote")).to_be_visible()
    TOTPDevice.objects.filter(user=manager).update(throttling_failure_count=0)
    later.fill("#id_code", code_for(manager))
    later.locator("#second-factor-form [type=submit]").click()
    expect(later).to_have_url(f"{server}/admin/")
