"""The owner's dashboard figures: each app's report selectors called for one filter, and
cached.

Each figure is computed by its own app (``docs/reports.md``) and kept in the cache for
:data:`CACHE_SECONDS` under a key of the inputs *it* reads (MRR does not change with the
location, the heatmap does), the gym's date and the last snapshot written, as plain data
(no text in any language), so a cached figure is the figure computed afresh.

Nobody waits for the cold figures: the beat task ``config.tasks.reports_warm``
(:func:`warm_dashboard`) recomputes the default view, for every location, every
:data:`WARM_EVERY_MINUTES`, well within :data:`CACHE_SECONDS`, so the keys an owner
opens are always there.
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

# Kept longer than the warming interval, so a warmed figure never expires before the
# next warming replaces it: figures are at most WARM_EVERY_MINUTES old.
WARM_EVERY_MINUTES = 10
CACHE_SECONDS = 20 * 60
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


def snapshots_version() -> str:
    """The last closed month written: a snapshot written since makes new cache keys."""
    written = MrrMonth.objects.order_by("-month").values_list("month", flat=True).first()
    return str(written)


def cache_key(name: str, inputs: tuple[Any, ...], version: str) -> str:
    raw = "|".join(str(part) for part in (*inputs, clock.today(), version))
    return f"reports:{name}:{hashlib.sha256(raw.encode()).hexdigest()[:24]}"


def cached(key: str, compute: Callable[[], T], *, fresh: bool) -> T:
    """``compute()``, from the cache when it was computed for the same inputs."""
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


def figure_inputs(report: ReportFilter) -> dict[str, tuple[tuple[Any, ...], Callable[[], Any]]]:
    """Every figure of the dashboard, by name: the inputs it reads (its cache key) and the
    function computing it."""
    location = _location(report)
    place = location.pk if location else None
    first, last = report.months
    dates = (report.start, report.end)
    at = (*dates, report.location_id)
    cohort_first = max(first, _months_back(last, COHORT_MONTHS - 1))
    return {
        "mrr": ((first, last), lambda: _mrr(report)),
        "cohorts": ((cohort_first, last), lambda: cohorts(cohort_first, last)),
        "revenue": (dates, lambda: revenue_by_product(report.start, report.end)),
        "recovery": (dates, lambda: dunning_metrics(report.start, report.end)),
        "arrears": ((), lambda: arrears_aging(clock.today())),
        "heatmap": (
            (*dates, place, report.zone_id),
            lambda: (
                attendance_heatmap(location, report.start, report.end, zone_id=report.zone_id)
                if location
                else None
            ),
        ),
        "at_risk": ((), lambda: members_at_risk(clock.today())),
        "classes": (
            at,
            lambda: class_figures(report.start, report.end, location_id=report.location_id),
        ),
        "pos_sales": (
            at,
            lambda: sales_by_product(report.start, report.end, location_id=report.location_id),
        ),
        "pos_tenders": (
            at,
            lambda: takings_by_tender(report.start, report.end, location_id=report.location_id),
        ),
        "pos_stock": ((place,), lambda: stock_to_reorder(location.pk) if location else []),
    }


def figure_functions(report: ReportFilter) -> dict[str, Callable[[], Any]]:
    """Every figure of the dashboard, by name, as a function of the filter."""
    return {name: compute for name, (_, compute) in figure_inputs(report).items()}


def _months_back(month: dt.date, count: int) -> dt.date:
    for _ in range(count):
        month = previous_month(month)
    return month


def dashboard_figures(report: ReportFilter, *, fresh: bool = False) -> dict[str, Any]:
    """Every figure for ``report``; ``fresh`` recomputes them all (and re-caches them)."""
    version = snapshots_version()
    figures = {
        name: cached(cache_key(name, inputs, version), compute, fresh=fresh)
        for name, (inputs, compute) in figure_inputs(report).items()
    }
    figures["pos_categories"] = sales_by_category(figures["pos_sales"])
    return figures


def default_filter(location_id: int | None = None) -> ReportFilter:
    """What the dashboard shows when opened: the last twelve months to today."""
    today = clock.today()
    return ReportFilter(_months_back(month_start(today), 11), today, location_id)


def warm_dashboard() -> list[ReportFilter]:
    """Recompute and cache the dashboard as it opens, for all locations and each one (a
    figure the location does not change is computed once).  Returns the filters warmed."""
    warmed = [default_filter()]
    warmed += [
        default_filter(pk) for pk in Location.objects.order_by("pk").values_list("pk", flat=True)
    ]
    done: set[str] = set()
    version = snapshots_version()
    for report in warmed:
        for name, (inputs, compute) in figure_inputs(report).items():
            key = cache_key(name, inputs, version)
            if key not in done:
                cached(key, compute, fresh=True)
                done.add(key)
    return warmed
