"""The owner's dashboard: owner only, in English and Thai, drill-downs, CSV, bad input,
cached figures equal fresh ones, and statements per figure constant in the members."""

from __future__ import annotations

import csv
import datetime as dt
import io

import pytest
import time_machine
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from access_control.models import AccessEvent
from billing.models import Location, Zone
from billing.services import memberships as ms
from billing.services.snapshots import mrr_months_write
from config.admin.report_figures import ReportFilter, dashboard_figures, figure_functions
from members.roles import FRONT_DESK, MANAGER, OWNER
from tests.billing.factories import PlanFactory, signed_up
from tests.factories import MemberFactory

pytestmark = pytest.mark.django_db(transaction=True)
BANGKOK = dt.timezone(dt.timedelta(hours=7))


def at(day: dt.date, hour: int = 10) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(hour), tzinfo=BANGKOK)


def build_gym(traveller, members: int = 2) -> dict:
    """From January to 15 March 2027: ``members`` on a ฿1,070.00 plan (฿1,000.00 net) from
    10 January, one of them cancelled 5 February; one sign-up left unpaid since 10
    January (64 days overdue on 15 March); one entry on Sunday 14 March at 18:30."""
    traveller.move_to(at(dt.date(2027, 1, 10)))
    plan = PlanFactory(price=107_000)
    joined = [signed_up(plan=plan) for _ in range(members)]
    debtor = signed_up(plan=plan, token="tok_decline_insufficient_funds")
    traveller.move_to(at(dt.date(2027, 2, 5)))
    ms.membership_cancel(joined[-1], at_period_end=False)
    traveller.move_to(at(dt.date(2027, 3, 15)))
    mrr_months_write()
    location = Location.objects.create(name="Sukhumvit", time_zone="Asia/Bangkok")
    zone = Zone.objects.create(location=location, code="gym-floor", name="Gym floor")
    AccessEvent.objects.create(
        zone=zone,
        member=joined[0].member,
        decision="granted",
        reason="ok",
        direction="in",
        occurred_at=at(dt.date(2027, 3, 14), 18) + dt.timedelta(minutes=30),
        source="manual",
    )
    return {"joined": joined, "debtor": debtor, "location": location, "zone": zone}


@pytest.fixture
def traveller():
    with time_machine.travel(at(dt.date(2027, 1, 1)), tick=False) as t:
        yield t


@pytest.fixture
def as_role(make_staff):
    made = []

    def client_for(role: str, language: str = "en") -> Client:
        made.append(role)
        client = Client(HTTP_ACCEPT_LANGUAGE=language)
        client.force_login(make_staff(role, username=f"staff-{len(made)}"))
        return client

    return client_for


RANGE = {"start": "2027-01-01", "end": "2027-03-15"}


def test_the_owner_sees_the_figures_and_nobody_else_does(traveller, as_role):
    gym = build_gym(traveller)
    page = as_role(OWNER).get("/admin/reports/", RANGE)
    assert page.status_code == 200
    html = page.content.decode()
    # January: two new at ฿1,000.00 each; February: one churned voluntarily.
    mrr = page.context["tables"]["mrr"]
    assert [row[0].csv for row in mrr.rows] == ["2027-01", "2027-02", "2027-03"]
    assert mrr.rows[0][2].text == "฿2,000.00"  # new
    assert mrr.rows[1][6].text == "฿1,000.00"  # churned, voluntary
    assert mrr.rows[1][8].text == "฿1,000.00"  # MRR at the end
    assert "chart-mrr" in html and "vendor/chart.js/chart.umd.js" in html
    assert 'id="report-charts"' in html  # json_script
    arrears = page.context["figures"]["arrears"]
    assert arrears.total.buckets["d61_90"] == gym["debtor"].plan.price
    heat = page.context["figures"]["heatmap"]
    assert heat.counts[6][18] == 1 and heat.total == 1  # Sunday, 18:00–18:59
    for role in (FRONT_DESK, MANAGER):
        assert as_role(role).get("/admin/reports/", RANGE).status_code == 403
        assert as_role(role).get("/admin/reports/mrr.csv", RANGE).status_code == 403
        assert as_role(role).get("/admin/reports/members/", {"figure": "new"}).status_code == 403


def test_the_dashboard_in_thai_has_the_buddhist_year_and_baht(traveller, as_role):
    build_gym(traveller)
    html = as_role(OWNER, "th").get("/admin/reports/", RANGE).content.decode()
    assert 'lang="th"' in html
    assert "มกราคม 2570" in html  # January 2027
    assert "฿2,000.00" in html
    assert "ดาวน์โหลด CSV" in html


def test_every_table_downloads_as_csv(traveller, as_role):
    gym = build_gym(traveller)
    owner = as_role(OWNER)
    page = owner.get("/admin/reports/", RANGE)
    for key in page.context["tables"]:
        response = owner.get(f"/admin/reports/{key}.csv", RANGE)
        assert response.status_code == 200, key
        assert response["Content-Type"].startswith("text/csv")
        rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
        assert rows[0] == page.context["tables"][key].columns
    rows = list(
        csv.reader(
            io.StringIO(owner.get("/admin/reports/mrr.csv", RANGE).content.decode("utf-8-sig"))
        )
    )
    assert rows[1][:3] == ["2027-01", "0.00", "2000.00"]
    arrears = owner.get("/admin/reports/arrears.csv", RANGE).content.decode("utf-8-sig")
    assert str(gym["debtor"].member.first_name) in arrears


def test_a_figure_opens_the_members_behind_it(traveller, as_role):
    gym = build_gym(traveller)
    owner = as_role(OWNER)
    page = owner.get("/admin/reports/", RANGE)
    link = page.context["tables"]["mrr"].rows[1][6].link  # February, churned voluntarily
    members = owner.get(link)
    assert members.status_code == 200
    assert [line["member"] for line in members.context["lines"]] == [gym["joined"][-1].member]
    new = owner.get("/admin/reports/members/", {"figure": "new", "month": "2027-01"})
    assert {line["member"] for line in new.context["lines"]} == {m.member for m in gym["joined"]}
    owing = owner.get("/admin/reports/members/", {"figure": "arrears", "bucket": "d61_90"})
    assert [line["member"] for line in owing.context["lines"]] == [gym["debtor"].member]


@pytest.mark.parametrize(
    "query",
    [
        {"start": "2027-03-01", "end": "2027-01-01"},
        {"start": "1999-01-01", "end": "2027-01-01"},
        {"start": "2020-01-01", "end": "2027-01-01"},
        {"start": "yesterday", "end": "2027-01-01"},
        {"start": "2027-01-01\x00", "end": "2027-01-01"},
        {**RANGE, "location": "999999"},
    ],
)
def test_bad_filters_are_refused_with_a_message_never_a_500(traveller, as_role, query):
    build_gym(traveller)
    owner = as_role(OWNER)
    page = owner.get("/admin/reports/", query)
    assert page.status_code == 200 and page.context["form"].errors
    assert owner.get("/admin/reports/mrr.csv", query).status_code == 400


def test_bad_drill_downs_and_tables_are_404(traveller, as_role):
    build_gym(traveller)
    owner = as_role(OWNER)
    assert owner.get("/admin/reports/nothing.csv", RANGE).status_code == 404
    for query in (
        {"figure": "new", "month": "2027-13"},
        {"figure": "new", "month": "2099-01"},
        {"figure": "new"},
        {"figure": "everything"},
        {"figure": "arrears", "bucket": "forever"},
    ):
        assert owner.get("/admin/reports/members/", query).status_code == 404, query


def test_cached_figures_equal_figures_computed_afresh(traveller):
    gym = build_gym(traveller)
    report = ReportFilter(dt.date(2027, 1, 1), dt.date(2027, 3, 15), gym["location"].pk)
    first = dashboard_figures(report)
    with CaptureQueriesContext(connection) as warm:
        cached = dashboard_figures(report)
    assert cached == first == dashboard_figures(report, fresh=True)
    # Warm, the whole dashboard asks the database only for the location and which
    # months are written.
    assert len(warm.captured_queries) == 2


def _statements_per_figure(report: ReportFilter) -> dict[str, int]:
    counts = {}
    for name, compute in figure_functions(report).items():
        with CaptureQueriesContext(connection) as queries:
            compute()
        counts[name] = len(queries.captured_queries)
    return counts


def test_statements_per_figure_do_not_grow_with_the_members(traveller):
    gym = build_gym(traveller, members=2)
    plan = gym["joined"][0].plan
    signed_up(member=MemberFactory(), plan=plan)  # this month has an arrival either way
    report = ReportFilter(dt.date(2027, 1, 1), dt.date(2027, 3, 15), gym["location"].pk)
    few = _statements_per_figure(report)
    for _ in range(8):
        signed_up(member=MemberFactory(), plan=plan)
    assert _statements_per_figure(report) == few
