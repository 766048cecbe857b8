"""The owner's dashboard: owner only, in English and Thai, drill-downs, CSV, bad input,
cached figures equal fresh ones, and statements per figure constant in the members."""

from __future__ import annotations

import csv
import datetime as dt
import importlib
import io

import pytest
import time_machine
from django.apps import apps
from django.core.cache import cache
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django_celery_beat.models import PeriodicTask

from access_control.models import AccessEvent
from access_control.presence import presence_record
from access_control.reports import members_at_risk
from billing.models import Location, Zone
from billing.services import memberships as ms
from billing.services.snapshots import mrr_months_write
from config.admin.report_figures import (
    ReportFilter,
    dashboard_figures,
    default_filter,
    figure_functions,
    figure_inputs,
)
from config.celery import app
from config.tasks import reports_warm
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


def _seen(member, zone, when: dt.datetime) -> None:
    """A granted entry, recorded as the access service records one (event and presence)."""
    event = AccessEvent.objects.create(
        zone=zone,
        member=member,
        decision="granted",
        reason="ok",
        direction="in",
        occurred_at=when,
        source="manual",
    )
    presence_record([event])


def _members(owner: Client, link: str) -> list:
    page = owner.get(link)
    assert page.status_code == 200, link
    return [line["member"] for line in page.context["lines"]]


def test_cohorts_revenue_at_risk_and_paying_open_their_members(traveller, as_role):
    gym = build_gym(traveller)
    stays, leaves = (m.member for m in gym["joined"])
    plan = gym["joined"][0].plan
    # On 15 March: one paying member last seen 20 days ago (at risk), one 40 days ago
    # (lapsed), one who never came in.
    away = signed_up(member=MemberFactory(), plan=plan).member
    lapsed = signed_up(member=MemberFactory(), plan=plan).member
    never = signed_up(member=MemberFactory(), plan=plan).member
    _seen(away, gym["zone"], at(dt.date(2027, 2, 23)))
    _seen(lapsed, gym["zone"], at(dt.date(2027, 2, 3)))
    _seen(stays, gym["zone"], at(dt.date(2027, 3, 14)))  # in yesterday: not at risk
    owner = as_role(OWNER)
    page = owner.get("/admin/reports/", RANGE)
    figures = page.context["figures"]
    assert (figures["at_risk"].at_risk, figures["at_risk"].lapsed, figures["at_risk"].never) == (
        1,
        1,
        1,
    )

    # Cohorts: January's two members; one of them still subscribed at February's end.
    january = page.context["tables"]["cohorts"].rows[0]
    assert january[0].csv == "2027-01" and january[1].csv == "2"
    assert set(_members(owner, january[1].link)) == {stays, leaves}
    assert _members(owner, january[3].link) == [stays]  # month 1: February

    # Revenue: the plan's row opens everyone billed for it in the range.
    revenue = page.context["tables"]["revenue"].rows[0]
    assert revenue[1].text == plan.name
    billed = set(_members(owner, revenue[2].link))
    assert billed == {stays, leaves, gym["debtor"].member, away, lapsed, never}

    # At risk, by band.
    html = page.content.decode()
    assert "figure=at_risk&amp;band=lapsed" in html
    for band, who in (("at_risk", away), ("lapsed", lapsed), ("never", never)):
        link = f"/admin/reports/members/?figure=at_risk&band={band}"
        assert _members(owner, link) == [who], band

    # A heatmap cell: who came in then (Sunday 14 March, 18:30: the member who stays).
    sunday_six_pm = page.context["heat"][6]["cells"][18]
    assert sunday_six_pm["count"] == 1
    assert _members(owner, sunday_six_pm["link"]) == [stays]
    assert page.context["heat"][0]["cells"][18]["link"] == ""  # nobody on Monday

    # The MRR card: who pays today.
    assert set(_members(owner, "/admin/reports/members/?figure=paying")) == {
        stays,
        away,
        lapsed,
        never,
    }


@pytest.mark.parametrize(
    "query",
    [
        {"figure": "cohort", "cohort": "2027-1"},
        {"figure": "cohort", "cohort": "2027-03", "month": "2027-01"},
        {"figure": "revenue", "group": "plan", "start": "2027-01-01", "end": "2026-01-01"},
        {"figure": "revenue", "group": "nothing", "start": "2027-01-01", "end": "2027-02-01"},
        {"figure": "revenue", "group": "plan", "id": "x1", "start": "2027-01-01",
         "end": "2027-02-01"},
        {"figure": "revenue", "group": "plan", "id": "999999", "start": "2027-01-01",
         "end": "2027-02-01"},
        {"figure": "revenue", "group": "plan", "name": "Basic\x07", "start": "2027-01-01",
         "end": "2027-02-01"},
        {"figure": "at_risk", "band": "forever"},
        {"figure": "heatmap", "day": "8", "hour": "1", "start": "2027-01-01",
         "end": "2027-02-01", "location": "1"},
        {"figure": "heatmap", "day": "1", "hour": "24", "start": "2027-01-01",
         "end": "2027-02-01", "location": "1"},
        {"figure": "heatmap", "day": "1", "hour": "1", "start": "2027-01-01",
         "end": "2027-02-01", "location": "999999"},
        {"figure": "heatmap", "day": "1", "hour": "1", "start": "2027-01-01",
         "end": "2027-02-01", "location": "-1"},
    ],
)  # fmt: skip
def test_bad_drill_downs_to_the_new_figures_are_404(traveller, as_role, query):
    build_gym(traveller)
    assert as_role(OWNER).get("/admin/reports/members/", query).status_code == 404


def test_the_beat_task_warms_the_dashboard_as_it_opens_for_every_location(traveller, as_role):
    gym = build_gym(traveller)
    other = Location.objects.create(name="Silom", time_zone="Asia/Bangkok")
    cache.clear()
    assert reports_warm() == {"filters": 3}  # all locations, Sukhumvit, Silom
    for location in (None, gym["location"].pk, other.pk):
        opened = default_filter(location)
        with CaptureQueriesContext(connection) as warm:
            cached_figures = dashboard_figures(opened)
        # Only the location and which months are written: every figure was warm.
        assert len(warm.captured_queries) == 2, location
        assert cached_figures == dashboard_figures(opened, fresh=True)
    # The owner opening the dashboard meets the warmed figures.
    with CaptureQueriesContext(connection) as opened_page:
        assert as_role(OWNER).get("/admin/reports/").status_code == 200
    report_queries = [q for q in opened_page.captured_queries if "mrrsnapshot" in q["sql"]]
    assert report_queries == []


def test_the_warming_task_is_on_the_beat_schedule_every_ten_minutes():
    # The schedule is a data migration's row; the transactional tests flush it, so it is
    # written again here by the migration's own function.
    migration = importlib.import_module("billing.migrations.0015_reports_warm_schedule")
    migration.Migration.operations[-1].code(apps, None)
    task = PeriodicTask.objects.get(task="config.tasks.reports_warm")
    assert task.enabled and task.crontab.minute == "*/10" and task.crontab.hour == "*"
    app.loader.import_default_modules()
    assert "config.tasks.reports_warm" in app.tasks


def test_a_figure_is_cached_under_the_inputs_it_reads(traveller):
    gym = build_gym(traveller)
    other = Location.objects.create(name="Silom", time_zone="Asia/Bangkok")
    here = ReportFilter(dt.date(2027, 1, 1), dt.date(2027, 3, 15), gym["location"].pk)
    there = ReportFilter(dt.date(2027, 1, 1), dt.date(2027, 3, 15), other.pk)
    inputs_here, inputs_there = figure_inputs(here), figure_inputs(there)
    assert inputs_here["mrr"][0] == inputs_there["mrr"][0]  # MRR is the gym's
    assert inputs_here["heatmap"][0] != inputs_there["heatmap"][0]
    assert dashboard_figures(here)["heatmap"].total == 1
    assert dashboard_figures(there)["heatmap"].total == 0


def test_members_at_risk_read_the_presence_rows_not_every_check_in(traveller):
    """The last visit comes from the rows the access service keeps (one per member and
    zone), so the figure's cost does not grow with the years of check-ins."""
    gym = build_gym(traveller)
    _seen(gym["joined"][0].member, gym["zone"], at(dt.date(2027, 2, 20)))
    with CaptureQueriesContext(connection) as queries:
        found = members_at_risk(dt.date(2027, 3, 15))
    sql = " ".join(q["sql"] for q in queries.captured_queries)
    assert "access_control_zonepresence" in sql
    assert "access_control_accessevent" not in sql
    # Its presence row says 20 February though a later entry (14 March, written by
    # build_gym as an event alone) exists: the rows are what the figure reads.
    assert [m.member_id for m in found.members] == [gym["joined"][0].member_id]
    assert (found.at_risk, found.lapsed, found.never) == (1, 0, 0)
