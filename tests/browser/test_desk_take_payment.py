"""An overdue member pays at the desk and the gate lets them in at once: the real access
API, asked with a device key, before and after."""

from __future__ import annotations

from typing import Any

from playwright.sync_api import Page, expect

from members import roles

from .desk import WORDS, gate, no_wider_than_the_desk, suspended_for_an_unpaid_charge, with_card


def test_take_a_payment_and_the_gate_admits_at_once(
    desk: Page, lang: str, server: str, login: Any, make_staff: Any
) -> None:
    site = gate()
    membership = suspended_for_an_unpaid_charge()
    member = membership.member
    uid = with_card(member, "04C0FFEE01")
    assert site.check(desk, server, uid)["reason"] == "membership_suspended"
    login(desk, make_staff(roles.FRONT_DESK))
    words = WORDS[lang]

    desk.goto(f"/admin/members/member/{member.pk}/change/")
    expect(desk.locator("#member-card .gym-badge")).to_have_text(words["suspended"])
    desk.locator("#member-actions").get_by_role("link", name=words["take_payment"]).click()
    expect(desk.locator("#total-due")).to_have_text("฿800.00")
    no_wider_than_the_desk(desk)
    desk.check("input[name=route][value=cash]")
    desk.locator("#take-payment-form input[type=submit]").click()

    expect(desk).to_have_url(f"{server}/admin/members/member/{member.pk}/change/")
    expect(desk.locator(".messagelist")).to_contain_text("฿800.00")
    expect(desk.locator("#member-card .gym-badge")).to_have_text(words["active"])
    answer = site.check(desk, server, uid)
    assert (answer["granted"], answer["reason"]) == (True, "granted")
