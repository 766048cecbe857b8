"""The POS on the admin's shared pages: the member page's "Sell" and "Take payment at the
till" buttons (``members.hooks.member_page_tools``), and the open tills with today's
takings on "Today at the gym" (``members.hooks.today_sections``)."""

from __future__ import annotations

import datetime as dt
from typing import Any
from urllib.parse import urlencode

from django.http import HttpRequest
from django.urls import reverse
from django.utils.translation import gettext as _

from billing.money import format_amount
from config import clock
from members.hooks import ACTIONS, PRIMARY, MemberTool, TodayRow, TodaySection

from .selectors import takings_between, tills_open


def sell_url(member: Any = None) -> str:
    url = reverse("admin:pos_tillsession_sell")
    return f"{url}?{urlencode({'member': member.pk})}" if member is not None else url


def member_page_tools(request: HttpRequest, member: Any) -> list[MemberTool]:
    if not request.user.has_perm("pos.add_sale"):
        return []
    return [
        MemberTool(_("Sell"), sell_url(member), ACTIONS, PRIMARY, 22),
        MemberTool(_("Pay at the till"), sell_url(member) + "#owing", ACTIONS, "", 23),
    ]


def today_sections(request: HttpRequest) -> list[TodaySection]:
    if not request.user.has_perm("pos.view_tillsession"):
        return []
    today = clock.today()
    start = clock.local_midnight(today)
    takings = takings_between(start, start + dt.timedelta(days=1))
    rows = [
        TodayRow(
            text=str(till.station),
            url=reverse("admin:pos_tillsession_sell") + f"?station={till.station_id}",
            detail=f"{till.get_status_display()} · {till.opened_by}",
        )
        for till in tills_open()
    ]
    figure = " · ".join(format_amount(amount, currency) for currency, amount in takings.items())
    return [
        TodaySection(
            key="pos",
            title=_("Tills"),
            rows=rows,
            figure=figure or format_amount(0, "THB"),
            figure_label=_("taken today"),
            empty=_("No till is open."),
            links=[(_("Sell"), reverse("admin:pos_tillsession_sell"))],
            order=15,
        )
    ]
