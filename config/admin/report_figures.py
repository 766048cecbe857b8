"""The owner's dashboard figures: each app's report selectors called for one filter, and
cached.

Each figure is computed by its own app (``docs/reports.md``) and kept in the cache for
:data:`CACHE_SECONDS` under a key of its inputs and the gym's date, as plain data (no
text in any language), so a cached figure is the figure computed afresh.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from django.core.cache import cache

from access_control.reports import attendance_heatmap, members_at_risk
from billing.models import Location, MrrMonth
from billing.reports.arrears import arrears_aging
from billing.reports.cohorts import cohorts
from billing.reports.movements import (
    lifetime_value,
    month_start,
    movements_range,
    previous_month,
    trailing_churn,
)
from billing.reports.revenue import revenue_by_product
from classes.reports import class_figures
from config import clock
from dunning.metrics import dunning_metrics
from pos.reports import sales_by_category, sales_by_product, stock_to_reorder, takings_by_tender

CACHE_SECONDS = 300
COHORT_MONTHS = 12
T = TypeVar("T")


@dataclass(frozen=True)
class ReportFilter:
    """What the owner asked for: a date range (gym-local, both included) and a place."""

    start: dt.date
    end: dt.date
    location_id: int | None = None
    zone_id: int | None = None

    @property
    def months(self) -> tuple[dt.date, dt.date]:
        return month_start(self.start), month_start(self.end)

    def key(self) -> str:
        raw = f"{self.start}|{self.end}|{self.location_id}|{self.zone_id}|{clock.today()}"
        return hashlib.sha256(raw.encode()).hexdigest()[:24]


def snapshots_version() -> str:
    """The last closed month written: a snapshot written since makes new cache keys."""
    written = MrrMonth.objects.order_by("-month").values_list("month", flat=True).first()
    return str(written)


def cached(
    name: str, report: ReportFilter, compute: Callable[[], T], *, fresh: bool, version: str
) -> T:
    """``compute()``, from the cache when it was computed for the same inputs."""
    key = f"reports:{name}:{report.key()}:{version}"
    if not fresh:
        hit = cache.get(key)
        if hit is not None:
            return hit  # type: ignore[no-any-return]
    value = compute()
    cache.set(key, value, CACHE_SECONDS)
    return value


def _mrr(report: ReportFilter) -> dict[str, Any]:
    first, last = report.months
    # Six months before the range too, for LTV's trailing churn.
    earlier = _months_back(first, 5)
    months = movements_range(earlier, last, clock.today())
    shown = [m for m in months if m.month >= first]
    latest = shown[-1] if shown else None
    churn = trailing_churn([m for m in months if m.month <= last])
    for month in shown:
        month.members = {}  # who moved is read on the drill-down page, not cached
    return {
        "months": shown,
        "arpu": latest.arpu if latest else None,
        "trailing_churn": churn,
        "ltv": lifetime_value(latest.arpu if latest else None, churn),
    }


def _location(report: ReportFilter) -> Location | None:
    if report.location_id:
        return Location.objects.filter(pk=report.location_id).first()
    return Location.objects.order_by("pk").first()


def figure_functions(report: ReportFilter) -> dict[str, Callable[[], Any]]:
    """Every figure of the dashboard, by name, as a function of the filter."""
    location = _location(report)
    first, last = report.months
    return {
        "mrr": lambda: _mrr(report),
        "cohorts": lambda: cohorts(max(first, _months_back(last, COHORT_MONTHS - 1)), last),
        "revenue": lambda: revenue_by_product(report.start, report.end),
        "recovery": lambda: dunning_metrics(report.start, report.end),
        "arrears": lambda: arrears_aging(clock.today()),
        "heatmap": lambda: (
            attendance_heatmap(location, report.start, report.end, zone_id=report.zone_id)
            if location
            else None
        ),
        "at_risk": lambda: members_at_risk(clock.today()),
        "classes": lambda: class_figures(report.start, report.end, location_id=report.location_id),
        "pos_sales": lambda: sales_by_product(
            report.start, report.end, location_id=report.location_id
        ),
        "pos_tenders": lambda: takings_by_tender(
            report.start, report.end, location_id=report.location_id
        ),
        "pos_stock": lambda: stock_to_reorder(location.pk) if location else [],
    }


def _months_back(month: dt.date, count: int) -> dt.date:
    for _ in range(count):
        month = previous_month(month)
    return month


def dashboard_figures(report: ReportFilter, *, fresh: bool = False) -> dict[str, Any]:
    """Every figure for ``report``; ``fresh`` recomputes them all (and re-caches them)."""
    version = snapshots_version()
    figures = {
        name: cached(name, report, compute, fresh=fresh, version=version)
        for name, compute in figure_functions(report).items()
    }
    figures["pos_categories"] = sales_by_category(figures["pos_sales"])
    return figures
