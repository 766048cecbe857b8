"""The desk checks a member in from the member's page; the gate's rules decide."""

from __future__ import annotations

from typing import Any

from playwright.sync_api import Page, expect

from members import roles
from tests.billing.factories import signed_up

from .desk import WORDS, gate


def test_check_in_from_the_member_page(desk: Page, lang: str, login: Any, make_staff: Any) -> None:
    site = gate()
    member = signed_up().member
    login(desk, make_staff(roles.FRONT_DESK))
    words = WORDS[lang]

    desk.goto(f"/admin/members/member/{member.pk}/change/")
    desk.locator("#member-actions").get_by_role("link", name=words["check_in"], exact=True).click()
    desk.select_option("#id_zone", str(site.zone.pk))
    desk.locator("#check-in-form input[type=submit]").click()

    result = desk.locator("#check-in-result")
    expect(result).to_have_attribute("data-reason", "granted")
    expect(result).to_contain_text(member.full_name)
    expect(result.locator("h2")).to_contain_text(words["granted"])
