"""The desk finds a member from the home page: the search box has the focus on load, a
member number goes straight to that member, and the list puts the exact number first."""

from __future__ import annotations

from typing import Any

from playwright.sync_api import Page, expect

from members import roles
from members.models import Member, Sequence
from members.services import MEMBER_NUMBER_SEQUENCE
from tests.factories import MemberFactory

from .desk import no_wider_than_the_desk


def numbered(number: int, **fields: Any) -> Member:
    Sequence.objects.update_or_create(
        name=MEMBER_NUMBER_SEQUENCE, defaults={"last_value": number - 1}
    )
    return MemberFactory(**fields)


def test_search_from_today_finds_the_member_by_number(
    desk: Page, lang: str, server: str, login: Any, make_staff: Any
) -> None:
    junior = numbered(1202, email="junior.1002@kids.example.com")
    wanted = numbered(1002, first_name="Malee")
    login(desk, make_staff(roles.FRONT_DESK))

    desk.goto("/admin/")
    search = desk.locator("#today-search input[type=search]")
    expect(search).to_be_focused()
    desk.keyboard.type("1002")
    desk.keyboard.press("Enter")

    expect(desk).to_have_url(
        f"{desk.url.split('/admin')[0]}/admin/members/member/{wanted.pk}/change/"
    )
    expect(desk.locator("#member-name")).to_have_text(wanted.full_name)

    desk.goto("/admin/members/member/?q=1002")
    rows = desk.locator("#result_list tbody tr")
    expect(rows).to_have_count(2)
    expect(rows.first).to_contain_text(wanted.full_name)
    expect(rows.nth(1)).to_contain_text(junior.full_name)
    expect(rows.first.locator(".gym-badge")).to_be_visible()  # the status, beside the name
    no_wider_than_the_desk(desk)
    expect(desk.locator("html")).to_have_attribute("lang", lang)
