"""The owner's dashboard in the admin: figures, charts, drill-downs and CSV exports.

Owner only (``members.view_reports``): anyone else gets 403.  The figures come from each
app's report selectors through :mod:`config.admin.report_figures`; their definitions are
in ``docs/reports.md``.
"""

from __future__ import annotations

import csv
import datetime as dt
from typing import Any
from urllib.parse import urlencode

from django import forms
from django.conf import settings
from django.contrib.admin.widgets import AdminDateWidget
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from access_control.reports import BANDS, heatmap_members, members_at_risk
from billing.models import AddOn, Location, Member, Pack, Plan, Zone
from billing.money import format_amount
from billing.reports.arrears import BUCKET_KEYS, arrears_aging
from billing.reports.cohorts import cohort_members
from billing.reports.movements import (
    by_member,
    month_start,
    movements_compute,
    previous_month,
    snapshot_standing,
)
from billing.reports.mrr import mrr_live
from billing.reports.revenue import revenue_members
from config import clock
from config.dates import format_date, format_datetime
from config.inputs import text_problem

from .report_figures import ReportFilter, dashboard_figures, default_filter
from .report_tables import (
    MOVEMENT_COLUMNS,
    Table,
    all_tables,
    at_risk_bands,
    bucket_labels,
    movement_labels,
    revenue_groups,
    weekday_names,
)

REPORTS_PERMISSION = "members.view_reports"
EARLIEST = dt.date(2000, 1, 1)
LATEST = dt.date(2100, 12, 31)
LONGEST_RANGE_DAYS = 3 * 366


class ReportFilterForm(forms.Form):
    start = forms.DateField(label=gettext_lazy("From"), widget=AdminDateWidget)
    end = forms.DateField(label=gettext_lazy("To"), widget=AdminDateWidget)
    location = forms.ModelChoiceField(
        Location.objects.order_by("name"),
        label=gettext_lazy("Location"),
        required=False,
        empty_label=gettext_lazy("All locations"),
    )
    zone = forms.ModelChoiceField(
        Zone.objects.select_related("location").order_by("location__name", "name"),
        label=gettext_lazy("Zone"),
        required=False,
        empty_label=gettext_lazy("All zones"),
    )

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        start, end = data.get("start"), data.get("end")
        if start and end:
            if not (EARLIEST <= start <= LATEST and EARLIEST <= end <= LATEST):
                raise ValidationError(_("Choose dates from 2000 to 2100."), code="out_of_range")
            if start > end:
                raise ValidationError(_("The end must not be before the start."), code="reversed")
            if (end - start).days > LONGEST_RANGE_DAYS:
                raise ValidationError(_("Choose at most three years."), code="too_long")
        zone, location = data.get("zone"), data.get("location")
        if zone and location and zone.location_id != location.pk:
            raise ValidationError(_("That zone is not at that location."), code="zone_elsewhere")
        if zone and not location:
            data["location"] = zone.location
        return data

    def report(self) -> ReportFilter:
        data = self.cleaned_data
        return ReportFilter(
            data["start"],
            data["end"],
            data["location"].pk if data.get("location") else None,
            data["zone"].pk if data.get("zone") else None,
        )


def _default_range() -> dict[str, Any]:
    report = default_filter()  # what the beat task warms
    return {"start": report.start, "end": report.end}


def _require_owner(request: HttpRequest) -> None:
    if not request.user.has_perm(REPORTS_PERMISSION):
        raise PermissionDenied


def _form(request: HttpRequest) -> ReportFilterForm:
    return ReportFilterForm(request.GET if "start" in request.GET else _default_range())


def _charts(figures: dict[str, Any], tables: dict[str, Table]) -> dict[str, Any]:
    """What the page's charts draw, as plain numbers in major units (json_script)."""
    months = figures["mrr"]["months"]
    labels = [row[0].text for row in tables["mrr"].rows]
    names = movement_labels()
    sign = {"contraction": -1, "churned_voluntary": -1, "churned_involuntary": -1}
    return {
        "mrr": {
            "labels": labels,
            "mrr_label": _("MRR at the end"),
            "mrr": [m.mrr_end / 100 for m in months],
            "movements": [
                {
                    "key": key,
                    "label": names[key],
                    "values": [sign.get(key, 1) * getattr(m, key) / 100 for m in months],
                    "links": [row[2 + i].link for row in tables["mrr"].rows],
                }
                for i, key in enumerate(MOVEMENT_COLUMNS)
            ],
        },
        "churn": {
            "labels": labels,
            "series": [
                {
                    "label": _("Voluntary"),
                    "values": [_pct(m.subscriber_churn_voluntary) for m in months],
                },
                {
                    "label": _("Involuntary"),
                    "values": [_pct(m.subscriber_churn_involuntary) for m in months],
                },
            ],
        },
        "revenue": {
            "labels": [f"{r[0].text}: {r[1].text}".rstrip(": ") for r in tables["revenue"].rows],
            "values": [r.net / 100 for r in figures["revenue"]],
            "label": _("Revenue excluding VAT"),
        },
        "arrears": {
            "labels": list(bucket_labels().values()),
            "values": [v / 100 for v in figures["arrears"].total.buckets.values()],
            "links": [c.link for c in tables["arrears"].rows[0][1:6]],
            "label": _("Owed"),
        },
        "tenders": {
            "labels": [r[0].text for r in tables["pos_tenders"].rows],
            "values": [r["amount"] / 100 for r in figures["pos_tenders"]],
        },
        "classes": {
            "labels": [r[0].text for r in tables["classes_type"].rows],
            "values": [_pct(r.fill_rate) for r in figures["classes"]["by_type"]],
            "label": _("Fill rate (%)"),
        },
    }


def _pct(rate: Any) -> float | None:
    points = rate.basis_points
    return None if points is None else points / 100


def _heat_levels(heatmap: Any, report: ReportFilter) -> list[dict[str, Any]]:
    if heatmap is None:
        return []
    peak = heatmap.peak or 1
    base = {"figure": "heatmap", "start": report.start, "end": report.end}
    base["location"] = heatmap.location.pk
    if report.zone_id:
        base["zone"] = report.zone_id
    url = reverse("admin:reports_members")
    return [
        {
            "day": day,
            "cells": [
                {
                    "count": c,
                    "level": (c * 5 + peak - 1) // peak,
                    "link": f"{url}?{urlencode({**base, 'day': index + 1, 'hour': hour})}"
                    if c
                    else "",
                }
                for hour, c in enumerate(counts)
            ],
        }
        for index, (day, counts) in enumerate(zip(weekday_names(), heatmap.counts, strict=True))
    ]


def dashboard_view(request: HttpRequest, site: Any) -> HttpResponse:
    _require_owner(request)
    form = _form(request)
    context: dict[str, Any] = {
        **site.each_context(request),
        "title": _("Reports"),
        "form": form,
        "media": form.media,
    }
    if form.is_valid():
        report = form.report()
        figures = dashboard_figures(report)
        tables = all_tables(figures, clock.today(), report.start, report.end)
        context.update(
            figures=figures,
            tables=tables,
            charts=_charts(figures, tables),
            heat=_heat_levels(figures["heatmap"], report),
            query=request.GET.urlencode() if "start" in request.GET else "",
            report=report,
            currency=settings.GYM_CURRENCY,
        )
    return TemplateResponse(request, "admin/reports/dashboard.html", context)


def csv_view(request: HttpRequest, table: str) -> HttpResponse:
    """One table of the dashboard as CSV (all its rows: members at risk and arrears are
    not cut to the page's length)."""
    _require_owner(request)
    form = _form(request)
    if not form.is_valid():
        return HttpResponse(
            " ".join(str(e) for errors in form.errors.values() for e in errors),
            status=400,
            content_type="text/plain; charset=utf-8",
        )
    report = form.report()
    figures = dashboard_figures(report)
    if table == "arrears":
        figures["arrears"] = arrears_aging(clock.today(), limit=None)
    if table == "at_risk":
        figures["at_risk"] = members_at_risk(clock.today(), limit=None)
    tables = all_tables(figures, clock.today(), report.start, report.end)
    if table not in tables:
        raise Http404(_("No such table."))
    chosen = tables[table]
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{table}-{clock.today()}.csv"'
    response.write("\ufeff")  # spreadsheets read the Thai as UTF-8
    writer = csv.writer(response)
    writer.writerow(chosen.columns)
    for row in chosen.rows:
        writer.writerow([cell.csv for cell in row])
    return response


def _month_param(request: HttpRequest) -> dt.date:
    try:
        month = dt.date.fromisoformat(f"{request.GET.get('month', '')}-01")
    except ValueError as exc:
        raise Http404(_("Give a month such as 2027-05.")) from exc
    if not EARLIEST <= month <= month_start(clock.today()):
        raise Http404(_("Give a month such as 2027-05."))
    return month


def _movement_members(figure: str, month: dt.date) -> list[dict[str, Any]]:
    before = snapshot_standing(previous_month(month))
    if month == month_start(clock.today()):
        after = by_member(mrr_live())  # this month so far
    else:
        after = snapshot_standing(month)
    moved = movements_compute(month, before, after)
    ids = moved.members.get(figure, [])
    currency = moved.currency
    return [
        {
            "member": pk,
            "before": format_amount(before.get(pk, (0, False))[0], currency),
            "after": format_amount(after.get(pk, (0, False))[0], currency),
        }
        for pk in ids
    ]


MEMBERS_SHOWN = 500


def _date_param(request: HttpRequest, name: str) -> dt.date:
    try:
        day = dt.date.fromisoformat(request.GET.get(name, ""))
    except ValueError as exc:
        raise Http404(_("Give dates such as 2027-05-31.")) from exc
    if not EARLIEST <= day <= LATEST:
        raise Http404(_("Give dates such as 2027-05-31."))
    return day


def _month_of(request: HttpRequest, name: str) -> dt.date:
    try:
        month = dt.date.fromisoformat(f"{request.GET.get(name, '')}-01")
    except ValueError as exc:
        raise Http404(_("Give a month such as 2027-05.")) from exc
    if not EARLIEST <= month <= month_start(clock.today()):
        raise Http404(_("Give a month such as 2027-05."))
    return month


Lines = list[tuple[int, list[str]]]


def _cohort_lines(request: HttpRequest) -> tuple[str, list[str], Lines]:
    cohort = _month_of(request, "cohort")
    currency = settings.GYM_CURRENCY
    joined = _("Joined %(month)s") % {"month": format_date(cohort, "month_year")}
    if "month" in request.GET:
        month = _month_of(request, "month")
        if month < cohort:
            raise Http404(_("Give a month such as 2027-05."))
        rows = cohort_members(cohort, month)
        then = _("subscribed at the end of %(month)s") % {"month": format_date(month, "month_year")}
        title = f"{joined}: {then}"
        return title, [_("MRR then")], [(m, [format_amount(v, currency)]) for m, v in rows]
    rows = cohort_members(cohort)
    return (
        joined,
        [_("MRR at the end of the joining month")],
        [(m, [format_amount(v, currency)]) for m, v in rows],
    )


def _revenue_lines(request: HttpRequest) -> tuple[str, list[str], Lines]:
    group = request.GET.get("group", "")
    groups = revenue_groups()
    if group not in groups:
        raise Http404(_("No such figure."))
    start, end = _date_param(request, "start"), _date_param(request, "end")
    if start > end or (end - start).days > LONGEST_RANGE_DAYS:
        raise Http404(_("Give dates such as 2027-05-31."))
    thing_id: int | None = None
    name = ""
    if group in ("plan", "addon", "pack"):
        raw = request.GET.get("id", "")
        if raw:
            if not raw.isdigit() or len(raw) > 12:
                raise Http404(_("No such figure."))
            thing_id = int(raw)
            model: Any = {"plan": Plan, "addon": AddOn, "pack": Pack}[group]
            found = model.objects.filter(pk=thing_id).values_list("name", flat=True).first()
            if found is None:
                raise Http404(_("No such figure."))
            name = str(found)
        else:
            name = request.GET.get("name", "")
            if not name or len(name) > 200 or text_problem(name) is not None:
                raise Http404(_("No such figure."))
    rows = revenue_members(start, end, group, thing_id, name)
    currency = settings.GYM_CURRENCY
    what = f"{groups[group]}: {name}" if name else groups[group]
    title = f"{what}, {format_date(start)} – {format_date(end)}"
    return (
        title,
        [_("Invoice lines"), _("Invoiced excluding VAT")],
        [(m, [f"{lines:,}", format_amount(net, currency)]) for m, lines, net in rows],
    )


def _at_risk_lines(request: HttpRequest) -> tuple[str, list[str], Lines]:
    band = request.GET.get("band", "")
    if band not in BANDS:
        raise Http404(_("No such figure."))
    today = clock.today()
    found = members_at_risk(today, limit=None, band=band)
    return f"{_('Members at risk')}: {at_risk_bands()[band]}", [_("Last visit"), _("Days away")], [
        (
            row.member_id,
            [format_datetime(row.last_entry) or _("Never"),
             "–" if row.days_away(today) is None else f"{row.days_away(today):,}"],
        )
        for row in found.members
    ]  # fmt: skip


def _int_param(request: HttpRequest, name: str, low: int, high: int) -> int:
    raw = request.GET.get(name, "")
    if not raw.isdigit() or len(raw) > 12 or not low <= int(raw) <= high:
        raise Http404(_("No such figure."))
    return int(raw)


def _heatmap_lines(request: HttpRequest) -> tuple[str, list[str], Lines]:
    weekday = _int_param(request, "day", 1, 7)
    hour = _int_param(request, "hour", 0, 23)
    start, end = _date_param(request, "start"), _date_param(request, "end")
    if start > end or (end - start).days > LONGEST_RANGE_DAYS:
        raise Http404(_("Give dates such as 2027-05-31."))
    location = Location.objects.filter(pk=_int_param(request, "location", 1, 10**12)).first()
    if location is None:
        raise Http404(_("No such figure."))
    zone_id = None
    if request.GET.get("zone"):
        zone_id = _int_param(request, "zone", 1, 10**12)
        if not Zone.objects.filter(pk=zone_id, location=location).exists():
            raise Http404(_("No such figure."))
    rows = heatmap_members(location, start, end, weekday, hour, zone_id=zone_id)
    day = weekday_names()[weekday - 1]
    title = (
        f"{location}: {day} {hour:02d}:00–{hour:02d}:59, {format_date(start)} – {format_date(end)}"
    )
    return title, [_("Entries")], [(member, [f"{count:,}"]) for member, count in rows]


def _paying_lines(request: HttpRequest) -> tuple[str, list[str], Lines]:
    currency = settings.GYM_CURRENCY
    standing = sorted(
        ((member, mrr) for member, (mrr, _sub) in by_member(mrr_live()).items() if mrr > 0),
        key=lambda pair: (-pair[1], pair[0]),
    )
    return (
        _("Paying members today"),
        [_("MRR")],
        [(member, [format_amount(mrr, currency)]) for member, mrr in standing],
    )


def _movement_lines(request: HttpRequest, figure: str) -> tuple[str, list[str], Lines]:
    month = _month_param(request)
    rows = _movement_members(figure, month)
    title = f"{movement_labels()[figure]}: {format_date(month, 'month_year')}"
    return (
        title,
        [_("MRR at the start"), _("MRR at the end")],
        [(row["member"], [row["before"], row["after"]]) for row in rows],
    )


def _arrears_lines(request: HttpRequest) -> tuple[str, list[str], Lines]:
    bucket = request.GET.get("bucket")
    if bucket not in BUCKET_KEYS:
        raise Http404(_("No such figure."))
    arrears = arrears_aging(clock.today(), limit=None)
    currency = settings.GYM_CURRENCY
    owing = [row for row in arrears.members if row.buckets[bucket]]
    title = f"{_('Arrears aging')}: {bucket_labels()[bucket]}"
    return (
        title,
        [_("Owed in this band"), _("Owed in all")],
        [
            (
                row.member_id,
                [format_amount(row.buckets[bucket], currency), format_amount(row.total, currency)],
            )
            for row in owing
            if row.member_id is not None
        ],
    )


def members_view(request: HttpRequest, site: Any) -> HttpResponse:
    """The members behind a figure: a movement of a month, an arrears band, a cohort (or
    one of its months), a revenue row, a band of members at risk, the paying members."""
    _require_owner(request)
    figure = request.GET.get("figure", "")
    if figure in MOVEMENT_COLUMNS:
        title, columns, lines = _movement_lines(request, figure)
    elif figure == "arrears":
        title, columns, lines = _arrears_lines(request)
    elif figure == "cohort":
        title, columns, lines = _cohort_lines(request)
    elif figure == "revenue":
        title, columns, lines = _revenue_lines(request)
    elif figure == "at_risk":
        title, columns, lines = _at_risk_lines(request)
    elif figure == "paying":
        title, columns, lines = _paying_lines(request)
    elif figure == "heatmap":
        title, columns, lines = _heatmap_lines(request)
    else:
        raise Http404(_("No such figure."))
    shown = lines[:MEMBERS_SHOWN]
    members = Member.objects.in_bulk([member for member, _values in shown])
    context = {
        **site.each_context(request),
        "title": title,
        "columns": columns,
        "total": len(lines),
        "lines": [
            {
                "member": members[member],
                "url": reverse("admin:members_member_change", args=[member]),
                "values": values,
            }
            for member, values in shown
            if member in members
        ],
    }
    return TemplateResponse(request, "admin/reports/members.html", context)
