"""The dunning case page: the overdue alert with its take-payment action, and the
timeline as a readable list, no wider than the desk's screen."""

from __future__ import annotations

from typing import Any

from playwright.sync_api import Page, expect

from dunning.models import DunningCase
from members import roles

from .desk import WORDS, no_wider_than_the_desk, suspended_for_an_unpaid_charge


def test_the_dunning_case_page(
    desk: Page, lang: str, server: str, login: Any, make_staff: Any
) -> None:
    member = suspended_for_an_unpaid_charge().member
    case = DunningCase.objects.get(member=member)
    login(desk, make_staff(roles.FRONT_DESK))
    words = WORDS[lang]

    desk.goto(f"/admin/dunning/dunningcase/{case.pk}/change/")

    expect(desk.locator("#overdue-alert")).to_contain_text("฿800.00")
    timeline = desk.locator("#case-timeline")
    expect(timeline).to_contain_text(words["timeline"])
    entries = timeline.locator("li")
    assert entries.count() >= 2
    assert "{" not in timeline.inner_text()  # no raw data
    no_wider_than_the_desk(desk)
    desk.locator("#overdue-alert").get_by_role("link", name=words["take_payment"]).click()
    expect(desk.locator("#total-due")).to_have_text("฿800.00")
