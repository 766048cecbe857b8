"""The dashboard's tables: what the page shows and the CSV exports, from the figures.

A cell has the text a person reads (``฿1,234.00``, ``14.13%``, "May 2027" or
"พฤษภาคม 2570"), the value a spreadsheet reads (``1234.00``, ``14.13``, ``2027-05``)
and, where a figure has members behind it, the link to them.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from django.conf import settings
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import pgettext

from billing.money import format_amount, major_units
from billing.reports.arrears import BUCKET_KEYS
from billing.reports.rates import Rate
from config.dates import format_date, format_datetime
from pos.models import TenderKind


def weekday_names() -> list[str]:
    return [
        pgettext("weekday", "Mon"),
        pgettext("weekday", "Tue"),
        pgettext("weekday", "Wed"),
        pgettext("weekday", "Thu"),
        pgettext("weekday", "Fri"),
        pgettext("weekday", "Sat"),
        pgettext("weekday", "Sun"),
    ]


@dataclass(frozen=True)
class Cell:
    text: str
    csv: str
    link: str = ""
    number: bool = False


@dataclass
class Table:
    key: str
    title: str
    columns: list[str]
    rows: list[list[Cell]] = field(default_factory=list)
    note: str = ""


def money(amount: int | None) -> Cell:
    if amount is None:
        return Cell("–", "", number=True)
    currency = settings.GYM_CURRENCY
    return Cell(format_amount(amount, currency), major_units(amount, currency), number=True)


def rate(value: Any) -> Cell:
    """Our rates and dunning's alike (both a numerator over a denominator)."""
    value = Rate(value.numerator, value.denominator)
    points = value.basis_points
    return Cell(str(value), "" if points is None else major_units(points, "XXX"), number=True)


def count(value: int, link: str = "") -> Cell:
    return Cell(f"{value:,}", str(value), link, number=True)


def text(value: str) -> Cell:
    return Cell(value, value)


def month_cell(month: dt.date) -> Cell:
    return Cell(format_date(month, "month_year"), f"{month:%Y-%m}")


def drill(figure: str, **params: Any) -> str:
    return reverse("admin:reports_members") + "?" + urlencode({"figure": figure, **params})


def linked_money(amount: int, figure: str, month: dt.date) -> Cell:
    cell = money(amount)
    if not amount:
        return cell
    return Cell(cell.text, cell.csv, drill(figure, month=f"{month:%Y-%m}"), number=True)


MOVEMENT_COLUMNS = (
    "new",
    "reactivation",
    "expansion",
    "contraction",
    "churned_voluntary",
    "churned_involuntary",
)


def movement_labels() -> dict[str, str]:
    return {
        "new": _("New"),
        "reactivation": _("Reactivation"),
        "expansion": _("Expansion"),
        "contraction": _("Contraction"),
        "churned_voluntary": _("Churned, voluntary"),
        "churned_involuntary": _("Churned, involuntary"),
    }


def mrr_table(figure: dict[str, Any]) -> Table:
    labels = movement_labels()
    table = Table(
        "mrr",
        _("MRR and its movements"),
        [
            _("Month"),
            _("MRR at the start"),
            *[labels[c] for c in MOVEMENT_COLUMNS],
            _("MRR at the end"),
            _("Subscribers"),
            _("Subscriber churn"),
            _("voluntary"),
            _("involuntary"),
            _("Net MRR churn"),
            _("voluntary"),
            _("involuntary"),
            _("ARPU"),
        ],
        note=_(
            "Excluding VAT. Start + new + reactivation + expansion − contraction − churned = end."
        ),
    )
    for m in figure["months"]:
        month = month_cell(m.month)
        if m.live:
            month = Cell(month.text + " " + _("(so far)"), month.csv)
        table.rows.append(
            [
                month,
                money(m.mrr_start),
                *[linked_money(getattr(m, c), c, m.month) for c in MOVEMENT_COLUMNS],
                money(m.mrr_end),
                count(m.subscribers_end),
                rate(m.subscriber_churn),
                rate(m.subscriber_churn_voluntary),
                rate(m.subscriber_churn_involuntary),
                rate(m.net_mrr_churn),
                rate(m.net_mrr_churn_voluntary),
                rate(m.net_mrr_churn_involuntary),
                money(m.arpu),
            ]
        )
    return table


def cohort_table(rows: list[Any]) -> Table:
    longest = max((len(c.members) for c in rows), default=0)
    table = Table(
        "cohorts",
        _("Cohorts: members and MRR retained"),
        [_("Joined"), _("Members"), *[_("Month %(n)s") % {"n": n} for n in range(longest)]],
        note=_("Each cell: members still subscribed / MRR kept, against the joining month."),
    )
    for c in rows:
        cohort = f"{c.month:%Y-%m}"
        cells = []
        for index, (members, mrr) in enumerate(
            zip(c.member_retention, c.mrr_retention, strict=True)
        ):
            month = c.month
            for _step in range(index):
                month = (month.replace(day=28) + dt.timedelta(days=4)).replace(day=1)
            link = (
                drill("cohort", cohort=cohort, month=f"{month:%Y-%m}") if c.members[index] else ""
            )
            cells.append(
                Cell(
                    f"{members} / {mrr}",
                    f"{members.basis_points} / {mrr.basis_points}",
                    link,
                    number=True,
                )
            )
        cells += [text("")] * (longest - len(cells))
        size = count(c.size, drill("cohort", cohort=cohort) if c.size else "")
        table.rows.append([month_cell(c.month), size, *cells])
    return table


def revenue_groups() -> dict[str, str]:
    return {
        "plan": _("Plan"),
        "proration": _("Plan changes (prorated)"),
        "addon": _("Add-on"),
        "pack": _("Pack"),
        "discount": _("Discounts"),
    }


def revenue_link(row: Any, start: dt.date, end: dt.date) -> str:
    params: dict[str, Any] = {"group": row.group, "start": start, "end": end}
    if row.thing_id is not None:
        params["id"] = row.thing_id
    elif row.group in ("plan", "addon", "pack"):
        params["name"] = row.name
    return drill("revenue", **params)


def revenue_table(rows: list[Any], start: dt.date, end: dt.date) -> Table:
    groups = revenue_groups()
    table = Table(
        "revenue",
        _("Revenue by plan, add-on and pack"),
        [
            _("Kind"),
            _("Name"),
            _("Invoice lines"),
            _("Invoiced excluding VAT"),
            _("Credit notes"),
            _("Revenue excluding VAT"),
        ],
        note=_(
            "Invoices issued in the range less the credit notes issued in it, excluding VAT; "
            "by what was billed, under its name today."
        ),
    )
    for r in rows:
        link = revenue_link(r, start, end) if r.lines else ""
        table.rows.append(
            [text(str(groups[r.group])), text(r.name), count(r.lines, link), money(r.invoiced),
             money(-r.credited if r.credited else 0), money(r.net)]
        )  # fmt: skip
    return table


def recovery_table(m: Any) -> Table:
    table = Table(
        "recovery",
        _("Failed payments and recovery"),
        [_("Figure"), _("Rate"), _("Count")],
        note=_("From dunning's recovery metrics (see Recovery metrics for the breakdowns)."),
    )
    table.rows = [
        [text(_("Failed-payment rate")), rate(m.failed_payment_rate),
         count(m.failed_renewal_invoices)],
        [text(_("Attempt failure rate")), rate(m.attempt_failure_rate), count(m.failed_attempts)],
        [text(_("Recovery rate")), rate(m.recovery_rate), count(m.recovered_invoices)],
        [text(_("Involuntary churn")), rate(m.involuntary_churn),
         count(m.cancelled_for_nonpayment)],
    ]  # fmt: skip
    for amounts in m.amounts:
        table.rows.append(
            [text(_("Recovered revenue")), rate(amounts.rate), money(amounts.recovered_amount)]
        )
    return table


def bucket_labels() -> dict[str, str]:
    return {
        "current": _("Current"),
        "d1_30": _("1–30 days"),
        "d31_60": _("31–60 days"),
        "d61_90": _("61–90 days"),
        "d90_plus": _("Over 90 days"),
    }


def arrears_table(arrears: Any) -> Table:
    labels = bucket_labels()
    table = Table(
        "arrears",
        _("Arrears aging"),
        [_("Member"), *[labels[k] for k in BUCKET_KEYS], _("Total")],
        note=_("Open invoices by days past due, as invoiced (VAT included: what is owed)."),
    )
    total = arrears.total
    table.rows.append(
        [
            text(_("All %(count)s members") % {"count": f"{arrears.member_count:,}"}),
            *[
                Cell(money(v).text, money(v).csv, drill("arrears", bucket=k) if v else "", True)
                for k, v in total.buckets.items()
            ],
            money(total.total),
        ]
    )
    for row in arrears.members:
        link = reverse("admin:members_member_change", args=[row.member_id])
        table.rows.append(
            [Cell(row.name, row.name, link), *[money(v) for v in row.buckets.values()],
             money(row.total)]
        )  # fmt: skip
    return table


def heatmap_table(heatmap: Any) -> Table:
    days = weekday_names()
    title = _("Attendance by hour and weekday")
    if heatmap is not None:
        title += f": {heatmap.location}"
    table = Table("heatmap", title, [_("Day"), *[f"{h:02d}" for h in range(24)], _("Total")])
    if heatmap is None:
        return table
    for index, counts in enumerate(heatmap.counts):
        table.rows.append([text(days[index]), *[count(c) for c in counts], count(sum(counts))])
    return table


def at_risk_bands() -> dict[str, str]:
    return {
        "at_risk": _("Away 14–29 days"),
        "lapsed": _("Away 30 days or more"),
        "never": _("Never came in"),
    }


def at_risk_table(at_risk: Any, today: dt.date) -> Table:
    table = Table(
        "at_risk",
        _("Members at risk"),
        [_("Member"), _("Last visit"), _("Days away")],
        note=_(
            "Paying members who have not come in for 14 days or more (frozen members excepted)."
        ),
    )
    for member in at_risk.members:
        days = member.days_away(today)
        link = reverse("admin:members_member_change", args=[member.member_id])
        table.rows.append(
            [
                Cell(member.name, member.name, link),
                Cell(format_datetime(member.last_entry) or _("Never"),
                     member.last_entry.isoformat() if member.last_entry else ""),
                count(days) if days is not None else text("–"),
            ]
        )  # fmt: skip
    return table


def class_table(key: str, title: str, rows: list[Any], who: str) -> Table:
    table = Table(
        key,
        title,
        [who, _("Sessions"), _("Places"), _("Taken"), _("Fill rate"), _("Waitlisted"),
         _("Late cancels"), _("No-shows"), _("No-show rate")],
    )  # fmt: skip
    for r in rows:
        table.rows.append(
            [text(r.name or _("No instructor")), count(r.sessions), count(r.capacity),
             count(r.taken), rate(r.fill_rate), count(r.waitlist), count(r.late_cancels),
             count(r.no_shows), rate(r.no_show_rate)]
        )  # fmt: skip
    return table


def pos_tables(figures: dict[str, Any]) -> list[Table]:
    sales = Table(
        "pos_sales",
        _("Sales by product"),
        [_("Category"), _("Product"), _("Quantity"), _("Sales excluding VAT")],
    )
    for r in figures["pos_sales"]:
        sales.rows.append([text(r.category), text(r.product), count(r.quantity), money(r.net)])
    categories = Table(
        "pos_categories",
        _("Sales by category"),
        [_("Category"), _("Quantity"), _("Sales excluding VAT")],
    )
    for r in figures["pos_categories"]:
        categories.rows.append([text(r.category or _("Other")), count(r.quantity), money(r.net)])
    tenders = Table(
        "pos_tenders",
        _("Takings by tender"),
        [_("Tender"), _("Payments"), _("Amount")],
        note=_("Money received at the tills, VAT included."),
    )
    for r in figures["pos_tenders"]:
        label = str(TenderKind(r["kind"]).label) if r["kind"] in TenderKind.values else r["kind"]
        tenders.rows.append([text(label), count(r["count"]), money(r["amount"])])
    stock = Table(
        "pos_stock",
        _("Stock at or below its reorder level"),
        [_("Product"), _("SKU"), _("In stock"), _("Reorder level")],
    )
    for r in figures["pos_stock"]:
        stock.rows.append(
            [text(r["name"]), text(r["sku"]), count(r["quantity"]), count(r["reorder_level"])]
        )
    return [categories, sales, tenders, stock]


def all_tables(
    figures: dict[str, Any], today: dt.date, start: dt.date, end: dt.date
) -> dict[str, Table]:
    classes = figures["classes"]
    tables = [
        mrr_table(figures["mrr"]),
        cohort_table(figures["cohorts"]),
        revenue_table(figures["revenue"], start, end),
        recovery_table(figures["recovery"]),
        arrears_table(figures["arrears"]),
        heatmap_table(figures["heatmap"]),
        at_risk_table(figures["at_risk"], today),
        class_table("classes_type", _("Classes by type"), classes["by_type"], _("Class type")),
        class_table(
            "classes_instructor",
            _("Classes by instructor"),
            classes["by_instructor"],
            _("Instructor"),
        ),
        *pos_tables(figures),
    ]
    return {table.key: table for table in tables}
