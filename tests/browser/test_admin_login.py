"""Staff sign in to the admin in a real browser, in English and in Thai."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import Page, expect

from members import roles

SIGN_IN = {"en": "Log in", "th": "เข้าสู่ระบบ"}


@pytest.mark.parametrize("role", [roles.FRONT_DESK])
def test_staff_signs_in_with_the_form(
    desk: Page, lang: str, server: str, make_staff: Any, role: str
) -> None:
    make_staff(role, username="desk-browser")

    desk.goto("/admin/")

    expect(desk.locator("html")).to_have_attribute("lang", lang)
    desk.fill("#id_username", "desk-browser")
    desk.fill("#id_password", "pw-for-tests-only")
    desk.get_by_role("button", name=SIGN_IN[lang]).click()
    expect(desk).to_have_url(f"{server}/admin/")
    expect(desk.locator("#user-tools")).to_contain_text("desk-browser")


def test_a_wrong_password_is_refused(desk: Page, lang: str, server: str, make_staff: Any) -> None:
    make_staff(roles.FRONT_DESK, username="desk-browser")

    desk.goto("/admin/login/")
    desk.fill("#id_username", "desk-browser")
    desk.fill("#id_password", "not-the-password")
    desk.get_by_role("button", name=SIGN_IN[lang]).click()

    expect(desk.locator(".errornote")).to_be_visible()
    expect(desk).to_have_url(f"{server}/admin/login/")
