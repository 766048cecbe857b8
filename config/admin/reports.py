"""The owner's dashboard in the admin: figures, charts, drill-downs and CSV exports.

Owner only (``members.view_reports``): anyone else gets 403.  The figures come from each
app's report selectors through :mod:`config.admin.report_figures`; their definitions are
in ``docs/reports.md``.
"""

from __future__ import annotations

import csv
import datetime as dt
from typing import Any

from django import forms
from django.conf import settings
from django.contrib.admin.widgets import AdminDateWidget
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from access_control.reports import members_at_risk
from billing.models import Location, Member, Zone
from billing.money import format_amount
from billing.reports.arrears import BUCKET_KEYS, arrears_aging
from billing.reports.movements import (
    by_member,
    month_start,
    movements_compute,
    previous_month,
    snapshot_standing,
)
from billing.reports.mrr import mrr_live
from config import clock
from config.dates import format_date

from .report_figures import ReportFilter, dashboard_figures
from .report_tables import (
    MOVEMENT_COLUMNS,
    Table,
    all_tables,
    bucket_labels,
    movement_labels,
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
    today = clock.today()
    start = month_start(today)
    for _step in range(11):
        start = previous_month(start)
    return {"start": start, "end": today}


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


def _heat_levels(heatmap: Any) -> list[dict[str, Any]]:
    if heatmap is None:
        return []
    peak = heatmap.peak or 1
    return [
        {"day": day, "cells": [{"count": c, "level": (c * 5 + peak - 1) // peak} for c in counts]}
        for day, counts in zip(weekday_names(), heatmap.counts, strict=True)
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
        tables = all_tables(figures, clock.today())
        context.update(
            figures=figures,
            tables=tables,
            charts=_charts(figures, tables),
            heat=_heat_levels(figures["heatmap"]),
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
    figures = dashboard_figures(form.report())
    if table == "arrears":
        figures["arrears"] = arrears_aging(clock.today(), limit=None)
    if table == "at_risk":
        figures["at_risk"] = members_at_risk(clock.today(), limit=None)
    tables = all_tables(figures, clock.today())
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
    names = Member.objects.in_bulk(ids)
    currency = moved.currency
    return [
        {
            "member": names[pk],
            "before": format_amount(before.get(pk, (0, False))[0], currency),
            "after": format_amount(after.get(pk, (0, False))[0], currency),
        }
        for pk in ids
        if pk in names
    ]


def members_view(request: HttpRequest, site: Any) -> HttpResponse:
    """The members behind a figure: a movement of a month, or an arrears bucket."""
    _require_owner(request)
    figure = request.GET.get("figure", "")
    columns: list[str]
    if figure in MOVEMENT_COLUMNS:
        month = _month_param(request)
        rows = _movement_members(figure, month)
        title = f"{movement_labels()[figure]}: {format_date(month, 'month_year')}"
        columns = [_("MRR at the start"), _("MRR at the end")]
        lines = [(row["member"], [row["before"], row["after"]]) for row in rows]
    elif figure == "arrears" and request.GET.get("bucket") in BUCKET_KEYS:
        bucket = request.GET["bucket"]
        arrears = arrears_aging(clock.today(), limit=None)
        currency = settings.GYM_CURRENCY
        owing = [row for row in arrears.members if row.buckets[bucket]]
        members = Member.objects.in_bulk([row.member_id for row in owing])
        title = f"{_('Arrears aging')}: {bucket_labels()[bucket]}"
        columns = [_("Owed in this band"), _("Owed in all")]
        lines = [
            (
                members[row.member_id],
                [format_amount(row.buckets[bucket], currency), format_amount(row.total, currency)],
            )
            for row in owing
            if row.member_id in members
        ]  # fmt: skip
    else:
        raise Http404(_("No such figure."))
    context = {
        **site.each_context(request),
        "title": title,
        "columns": columns,
        "lines": [
            {
                "member": member,
                "url": reverse("admin:members_member_change", args=[member.pk]),
                "values": values,
            }
            for member, values in lines
        ],
    }
    return TemplateResponse(request, "admin/reports/members.html", context)
