"""The member profile and "Today at the gym", as the desk sees them at 1366 px."""

from __future__ import annotations

from typing import Any

from playwright.sync_api import Page, expect

from members import roles, services
from tests.billing.factories import signed_up

from .desk import WORDS, gate, no_wider_than_the_desk, suspended_for_an_unpaid_charge


def test_the_member_profile(desk: Page, lang: str, login: Any, make_staff: Any) -> None:
    membership = suspended_for_an_unpaid_charge()
    member = membership.member
    services.note_add(member=member, body="STOP: check ID", is_alert=True)
    login(desk, make_staff(roles.FRONT_DESK))
    words = WORDS[lang]

    desk.goto(f"/admin/members/member/{member.pk}/change/")

    alert = desk.locator(".gym-alert").first
    expect(alert).to_be_visible()
    card = desk.locator("#member-card")
    alert_box, card_box = alert.bounding_box(), card.bounding_box()
    assert alert_box is not None and card_box is not None
    assert alert_box["y"] < card_box["y"]  # alerts on top
    background = alert.evaluate("node => getComputedStyle(node).backgroundColor")
    assert background == "rgb(207, 34, 46)", background  # red: it stops the eye
    expect(card).to_contain_text(str(member.member_number))
    expect(card).to_contain_text("฿800.00")
    expect(desk.locator("#member-records")).to_contain_text(
        f"{words['memberships_of']} {member.full_name}"
    )
    heading = desk.locator("#member-name").bounding_box()
    actions = desk.locator("#member-actions").bounding_box()
    assert heading is not None and actions is not None
    assert heading["y"] + heading["height"] <= actions["y"]  # the buttons never cover the name
    no_wider_than_the_desk(desk)


def test_today_at_the_gym(desk: Page, lang: str, login: Any, make_staff: Any) -> None:
    site = gate()
    from access_control.services import manual_check_in

    member = signed_up().member
    manual_check_in(member, site.zone, None)
    login(desk, make_staff(roles.FRONT_DESK))

    desk.goto("/admin/")

    expect(desk.locator("#today-search input[type=search]")).to_be_focused()
    check_ins = desk.locator("[data-section=check-ins]")
    expect(check_ins).to_contain_text(WORDS[lang]["today"])
    expect(check_ins.locator(".gym-figure")).to_have_text("1")
    expect(desk.locator("[data-section=failed-payments]")).to_be_visible()
    no_wider_than_the_desk(desk)
