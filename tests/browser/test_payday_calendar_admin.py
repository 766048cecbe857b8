"""The payday calendar in the admin, in English and Thai: a manager opens the gym's calendar,
reads the paydays it gives for the next 60 days, changes it (members paid on the 10th, no
civil-service paydays) and sees the paydays move; a bad list is refused with its message."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from django.utils import translation
from playwright.sync_api import Page, expect

from config import clock
from config.dates import format_date
from dunning.models import PaydayCalendar
from dunning.paydays import paydays_between
from dunning.selectors import payday_rules_of
from members import roles

from .desk import no_wider_than_the_desk

WORDS = {
    "en": {
        "coming": "paydays in the next 60 days",
        "days": "fixed paydays (days of the month)",
        "civil": "civil-service paydays",
        "bad_days": "Use a list of days from 1 to 31, e.g. [25].",
    },
    "th": {
        "coming": "วันเงินเดือนออกใน 60 วันข้างหน้า",
        "days": "วันเงินเดือนออกประจำ (วันที่ของเดือน)",
        "civil": "วันเงินเดือนข้าราชการออก",
        "bad_days": "ใช้รายการวันที่ 1 ถึง 31 เช่น [25]",
    },
}


def label(text: str) -> re.Pattern[str]:
    """A field's label as the admin writes it (its first letter capitalised)."""
    return re.compile(re.escape(text), re.IGNORECASE)


def coming_paydays(calendar: PaydayCalendar, lang: str) -> list[str]:
    """The next 60 days' paydays as the page writes them, in ``lang``."""
    today = clock.today()
    with translation.override(lang):
        return [
            format_date(day, "short")
            for day in paydays_between(
                today, today + dt.timedelta(days=60), payday_rules_of(calendar)
            )
        ]


def test_a_manager_views_and_edits_the_payday_calendar(
    desk: Page, lang: str, login: Any, make_staff: Any
) -> None:
    calendar = PaydayCalendar.objects.create()
    words = WORDS[lang]
    login(desk, make_staff(roles.MANAGER))

    desk.goto("/admin/dunning/paydaycalendar/")
    desk.locator(f"#result_list tbody a[href*='/{calendar.pk}/change/']").click()

    expect(desk.locator(".field-days_of_month label")).to_contain_text(label(words["days"]))
    expect(desk.locator(".field-civil_service label")).to_contain_text(label(words["civil"]))
    expect(desk.locator(".field-coming_paydays label")).to_contain_text(label(words["coming"]))
    before = coming_paydays(calendar, lang)
    expect(desk.locator(".field-coming_paydays .readonly")).to_have_text(", ".join(before))
    no_wider_than_the_desk(desk)

    # A list that is not days of the month is refused, nothing saved.
    desk.locator("textarea[name=days_of_month], input[name=days_of_month]").fill("[25, 40]")
    desk.locator("input[name=_continue]").click()
    expect(desk.locator(".errorlist")).to_contain_text(words["bad_days"])
    calendar.refresh_from_db()
    assert calendar.days_of_month == [25]

    # Members paid on the 10th and the 25th; no civil-service paydays.
    desk.locator("textarea[name=days_of_month], input[name=days_of_month]").fill("[10, 25]")
    desk.locator("input[name=civil_service]").uncheck()
    desk.locator("input[name=_continue]").click()
    expect(desk.locator(".messagelist .success")).to_have_count(1)

    calendar.refresh_from_db()
    assert (calendar.days_of_month, calendar.civil_service) == ([10, 25], False)
    after = coming_paydays(calendar, lang)
    assert after != before
    expect(desk.locator(".field-coming_paydays .readonly")).to_have_text(", ".join(after))
    expect(desk.locator("input[name=civil_service]")).not_to_be_checked()
    no_wider_than_the_desk(desk)
