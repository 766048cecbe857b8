"""The owner's dashboard in Chromium, in English and Thai, with the network cut off past
the live server: the charts draw from our own Chart.js, a figure opens the members
behind it, and a table downloads as CSV."""

from __future__ import annotations

import csv
import datetime as dt
import io
from typing import Any

import time_machine
from playwright.sync_api import Page, expect

from billing.reports.movements import month_start, previous_month
from billing.services import memberships as ms
from billing.services.snapshots import mrr_months_write
from config import clock
from members import roles
from tests.billing.factories import PlanFactory, signed_up
from tests.factories import MemberFactory

MEMBERS_PAGE = {"en": "2 members", "th": "สมาชิก 2 คน"}
DOWNLOAD = {"en": "Download CSV", "th": "ดาวน์โหลด CSV"}


def a_gym_with_history() -> tuple[dt.date, list[Any]]:
    """Two members joined on the 10th two months ago (฿1,070.00 a month with VAT, so
    ฿1,000.00 of MRR each); one left last month.  The closed months are written."""
    joined_month = previous_month(previous_month(month_start(clock.today())))
    joined_on = joined_month.replace(day=10)
    with time_machine.travel(dt.datetime.combine(joined_on, dt.time(3), tzinfo=dt.UTC), tick=False):
        plan = PlanFactory(price=107_000)
        joined = [signed_up(member=MemberFactory(), plan=plan) for _ in range(2)]
    with time_machine.travel(
        dt.datetime.combine(previous_month(month_start(clock.today())).replace(day=5),
                            dt.time(3), tzinfo=dt.UTC),
        tick=False,
    ):  # fmt: skip
        ms.membership_cancel(joined[1], at_period_end=False)
    mrr_months_write()
    return joined_month, joined


def test_the_dashboard_draws_its_charts_opens_members_and_downloads_csv(
    desk: Page, lang: str, server: str, login: Any, make_staff: Any
) -> None:
    joined_month, joined = a_gym_with_history()
    login(desk, make_staff(roles.OWNER))
    desk.goto("/admin/reports/")
    for chart in ("mrr", "churn", "revenue", "arrears", "classes", "tenders"):
        expect(desk.locator(f"#chart-{chart}")).to_have_attribute("data-drawn", "true")
    assert desk.evaluate("typeof Chart") == "function"
    assert (
        desk.evaluate("Chart.getChart(document.getElementById('chart-mrr')).data.labels.length")
        >= 3
    )

    # The joining month's "New" figure opens the two members behind it.
    mrr_table = desk.locator("#table-mrr")
    expect(mrr_table).to_contain_text("฿2,000.00")
    mrr_table.locator("tbody tr").first.get_by_role("link", name="฿2,000.00").click()
    expect(desk.locator("#content-main")).to_contain_text(MEMBERS_PAGE[lang])
    for membership in joined:
        expect(desk.get_by_role("link", name=str(membership.member))).to_be_visible()

    desk.go_back()
    with desk.expect_download() as download:
        desk.locator("#table-mrr").get_by_role("link", name=DOWNLOAD[lang]).click()
    path = download.value.path()
    with open(path, encoding="utf-8-sig") as downloaded:
        rows = list(csv.reader(io.StringIO(downloaded.read())))
    assert rows[1][0] == f"{joined_month:%Y-%m}" and rows[1][2] == "2000.00"


def test_the_front_desk_cannot_open_the_dashboard(
    desk: Page, lang: str, server: str, login: Any, make_staff: Any
) -> None:
    login(desk, make_staff(roles.FRONT_DESK))
    response = desk.goto("/admin/reports/")
    assert response is not None and response.status == 403
    desk.goto("/admin/")
    expect(desk.locator("#user-tools")).not_to_contain_text({"en": "Reports", "th": "รายงาน"}[lang])


COHORT_MEMBERS = {"en": "1 member", "th": "สมาชิก 1 คน"}


def test_a_cohort_and_members_at_risk_open_the_right_members(
    desk: Page, lang: str, server: str, login: Any, make_staff: Any
) -> None:
    _joined_month, joined = a_gym_with_history()
    stays, left = (m.member for m in joined)
    login(desk, make_staff(roles.OWNER))
    desk.goto("/admin/reports/")
    # The cohort that joined two months ago: both members; at the end of the month after,
    # only the one who stayed.
    row = desk.locator("#table-cohorts tbody tr").first
    row.locator("td").nth(1).get_by_role("link").click()
    expect(desk.locator("#content-main")).to_contain_text(MEMBERS_PAGE[lang])
    for member in (stays, left):
        expect(desk.get_by_role("link", name=str(member))).to_be_visible()
    desk.go_back()
    desk.locator("#table-cohorts tbody tr").first.locator("td").nth(3).get_by_role("link").click()
    expect(desk.locator("#content-main")).to_contain_text(COHORT_MEMBERS[lang])
    expect(desk.get_by_role("link", name=str(stays))).to_be_visible()
    expect(desk.get_by_role("link", name=str(left))).to_have_count(0)
    # The one paying member never came in: the "never came" figure opens them.
    desk.goto("/admin/reports/")
    desk.locator("#at-risk-never").click()
    expect(desk.locator("#content-main")).to_contain_text(COHORT_MEMBERS[lang])
    expect(desk.get_by_role("link", name=str(stays))).to_be_visible()


def test_the_dashboard_on_a_phone_draws_its_charts_and_its_tables_scroll(
    phone: Page, lang: str, server: str, login: Any, make_staff: Any
) -> None:
    a_gym_with_history()
    login(phone, make_staff(roles.OWNER))
    phone.goto("/admin/reports/")
    for chart in ("mrr", "churn", "revenue", "arrears", "classes", "tenders"):
        canvas = phone.locator(f"#chart-{chart}")
        expect(canvas).to_have_attribute("data-drawn", "true")
        box = canvas.bounding_box()
        assert box is not None and box["width"] > 200 and box["x"] + box["width"] <= 390
    # The page itself does not scroll sideways; a wide table scrolls inside its own box.
    assert phone.evaluate("document.documentElement.scrollWidth") <= 390
    scroller = phone.locator("#table-mrr .report-scroll")
    assert scroller.evaluate("e => e.scrollWidth > e.clientWidth")
    scroller.evaluate("e => { e.scrollLeft = e.scrollWidth; }")
    assert scroller.evaluate("e => e.scrollLeft") > 0
    # A figure in a table is still a link a thumb can follow.
    link = phone.locator("#table-mrr tbody tr").first.get_by_role("link", name="฿2,000.00")
    link.scroll_into_view_if_needed()
    link.tap()
    expect(phone.locator("#content-main")).to_contain_text(MEMBERS_PAGE[lang])
