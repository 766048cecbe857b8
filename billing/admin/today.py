"""Billing's rows on "Today at the gym" (``members.hooks.today_sections``), by role."""

from __future__ import annotations

import datetime as dt
from typing import Any
from urllib.parse import urlencode

from django.contrib.admin.utils import quote
from django.http import HttpRequest
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from config import clock
from config.dates import format_date
from members.hooks import DANGER, WARN, TodayRow, TodaySection

from ..money import format_amount
from ..summaries import (
    failed_payments_on,
    memberships_ending_between,
    memberships_thawing_between,
    signups_awaiting_payment,
)
from .member_page import take_payment_url

WEEK = dt.timedelta(days=6)


def _profile(member: Any) -> str:
    return reverse("admin:members_member_change", args=[quote(member.pk)])


def today_sections(request: HttpRequest) -> list[TodaySection]:
    user = request.user
    today = clock.today()
    sections = []
    if user.has_perm("billing.view_paymentattempt"):
        sections.append(_failed_payments(today))
    if user.has_perm("billing.take_payment") and user.has_perm("billing.view_invoice"):
        sections.append(_to_collect())
    if user.has_perm("billing.view_membership"):
        sections.append(_this_week(today))
    return sections


def _failed_payments(today: dt.date) -> TodaySection:
    count, attempts = failed_payments_on(today)
    rows = [
        TodayRow(
            text=attempt.invoice.member.full_name,
            url=_profile(attempt.invoice.member),
            detail=f"{format_amount(attempt.amount, attempt.currency)} · "
            f"{attempt.decline_code or attempt.get_status_display()}",
            tone=DANGER,
        )
        for attempt in attempts
    ]
    url = reverse("admin:billing_paymentattempt_changelist")
    query = urlencode(
        {
            "status__exact": "failed",
            "created_at__gte": today.isoformat(),
            "created_at__lt": (today + dt.timedelta(days=1)).isoformat(),
        }
    )
    return TodaySection(
        key="failed-payments",
        title=_("Failed payments today"),
        rows=rows,
        figure=str(count),
        figure_label=_("failed"),
        empty=_("No failed payments today."),
        links=((_("Payment attempts"), f"{url}?{query}"),),
        order=30,
        tone=DANGER if count else "",
    )


def _to_collect() -> TodaySection:
    count, invoices = signups_awaiting_payment()
    rows = [
        TodayRow(
            text=invoice.member.full_name,
            url=take_payment_url(invoice.member),
            detail=format_amount(invoice.amount_due, invoice.currency),
            tone=WARN,
        )
        for invoice in invoices
    ]
    url = reverse("admin:billing_invoice_changelist")
    query = urlencode({"status__exact": "open", "billing_reason__exact": "signup"})
    return TodaySection(
        key="to-collect",
        title=_("Sign-ups to collect at the desk"),
        rows=rows,
        figure=str(count),
        figure_label=ngettext("waiting", "waiting", count),
        empty=_("No sign-up is waiting for its first payment."),
        links=((_("Open sign-up invoices"), f"{url}?{query}"),),
        order=40,
        tone=WARN if count else "",
    )


def _this_week(today: dt.date) -> TodaySection:
    ending_count, ending = memberships_ending_between(today, today + WEEK)
    thawing_count, thawing = memberships_thawing_between(today, today + WEEK)
    rows = [
        TodayRow(
            text=membership.member.full_name,
            url=_profile(membership.member),
            detail=_("last day %(day)s")
            % {"day": format_date(membership.cancel_at - dt.timedelta(days=1), "day_month_short")},
        )
        for membership in ending
        if membership.cancel_at
    ] + [
        TodayRow(
            text=membership.member.full_name,
            url=_profile(membership.member),
            detail=_("frozen until %(day)s")
            % {"day": format_date(membership.frozen_until, "day_month_short")},
        )
        for membership in thawing
        if membership.frozen_until
    ]
    url = reverse("admin:billing_membership_changelist")
    return TodaySection(
        key="this-week",
        title=_("Memberships ending or thawing this week"),
        rows=rows,
        figure=str(ending_count + thawing_count),
        figure_label=_("this week"),
        empty=_("No membership ends or comes back from a freeze this week."),
        links=((_("Frozen memberships"), f"{url}?{urlencode({'status__exact': 'frozen'})}"),),
        order=60,
    )
