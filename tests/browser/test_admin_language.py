"""The language switch in the admin header, in a real browser: the desk changes language
in one click, and the choice follows the staff member to another computer."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from playwright.sync_api import Page, expect

from members import roles
from tests.browser.conftest import DESK_VIEWPORT

OTHER = {"en": "th", "th": "en"}
HEADER = {"en": "Gym front desk", "th": "เคาน์เตอร์ต้อนรับยิม"}
SWITCH = {"en": "English", "th": "ไทย"}


def test_the_desk_switches_language_and_keeps_it(
    desk: Page,
    lang: str,
    login: Callable[[Page, Any], None],
    open_page: Callable[..., Page],
    make_staff: Any,
) -> None:
    user = make_staff(roles.FRONT_DESK, username="switcher")
    other = OTHER[lang]
    login(desk, user)
    desk.goto("/admin/billing/invoice/")
    expect(desk.locator("html")).to_have_attribute("lang", lang)
    expect(desk.locator("#site-name")).to_have_text(HEADER[lang])

    desk.locator(f'.language-switch button[value="{other}"]').click()

    expect(desk).to_have_url(f"{desk.url.split('/admin/')[0]}/admin/billing/invoice/")
    expect(desk.locator("html")).to_have_attribute("lang", other)
    expect(desk.locator("#site-name")).to_have_text(HEADER[other])
    expect(desk.locator(f'.language-switch button[value="{other}"]')).to_be_disabled()
    expect(desk.locator(f'.language-switch button[value="{lang}"]')).to_contain_text(SWITCH[lang])

    # Another computer, whose browser asks for the first language: the choice follows.
    elsewhere = open_page(lang, viewport=DESK_VIEWPORT)
    login(elsewhere, user)
    elsewhere.goto("/admin/")
    expect(elsewhere.locator("html")).to_have_attribute("lang", other)
    expect(elsewhere.locator("#site-name")).to_have_text(HEADER[other])
