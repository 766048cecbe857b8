"""The check-in feed shows a check the moment a turnstile makes it, without a reload, in
the desk's words and in one time format."""

from __future__ import annotations

import re
from typing import Any

from playwright.sync_api import Page, expect

from members import roles
from tests.billing.factories import signed_up

from .desk import gate, no_wider_than_the_desk, suspended_for_an_unpaid_charge, with_card


def test_the_feed_receives_a_live_check(
    desk: Page, lang: str, server: str, login: Any, make_staff: Any
) -> None:
    site = gate()
    regular = signed_up().member
    regular_uid = with_card(regular, "04AA000001")
    overdue = suspended_for_an_unpaid_charge().member
    overdue_uid = with_card(overdue, "04AA000002")
    login(desk, make_staff(roles.FRONT_DESK))

    desk.goto("/admin/access_control/accessevent/feed/")
    rows = desk.locator("#access-feed-rows tr[data-id]")
    expect(rows).to_have_count(0)

    site.check(desk, server, regular_uid)  # a turnstile, while the feed is open
    expect(rows).to_have_count(1, timeout=10_000)
    expect(rows.first).to_contain_text(regular.full_name)
    site.check(desk, server, overdue_uid)
    expect(rows).to_have_count(2, timeout=10_000)
    denied = rows.first
    expect(denied).to_have_attribute("data-reason", "membership_suspended")
    expect(denied.locator(".feed-pay")).to_be_visible()  # take payment, from the feed
    expect(denied).not_to_contain_text("front desk")  # not the member's message

    times = rows.locator("td:first-child strong").all_inner_texts()
    assert all(re.fullmatch(r"\d\d:\d\d:\d\d", t) for t in times), times
    status = desk.locator("#access-feed-status")
    expect(status).to_have_text(re.compile(r"\d\d:\d\d:\d\d$"), timeout=10_000)
    no_wider_than_the_desk(desk)
