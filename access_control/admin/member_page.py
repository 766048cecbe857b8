"""Access control on the member page and on "Today at the gym" (``members.hooks``).

The member page: check in (the desk's first action), the last visit on the header card,
and the member's access log and cards.  Today: check-ins so far, who is inside each
zone now, and the way to the live feed.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from django.http import HttpRequest
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from config import clock
from config.dates import format_date
from members.hooks import ACTIONS, DANGER, PRIMARY, RECORDS, MemberFact, MemberTool, TodayRow
from members.hooks import TodaySection as Section

from ..selectors import zones_occupancy
from ..summaries import check_ins_on, member_last_visit
from .events import CHECK_IN_PERMISSION


def member_page_tools(request: HttpRequest, member: Any) -> list[MemberTool]:
    """Check in, and the member's access log and cards, each for who may use it."""
    user = request.user
    mine = urlencode({"member__id__exact": member.pk})
    name = member.full_name
    tools: list[MemberTool] = []
    if user.has_perm(CHECK_IN_PERMISSION):
        url = reverse("admin:access_control_accessevent_check_in")
        query = urlencode({"member": member.pk})
        tools.append(MemberTool(_("Check in"), f"{url}?{query}", ACTIONS, PRIMARY, 10))
    if user.has_perm("access_control.view_accessevent"):
        url = reverse("admin:access_control_accessevent_changelist")
        label = _("Access log of %(name)s") % {"name": name}
        tools.append(MemberTool(label, f"{url}?{mine}", RECORDS, order=20))
    if user.has_perm("access_control.view_credential"):
        url = reverse("admin:access_control_credential_changelist")
        label = _("Cards and passes of %(name)s") % {"name": name}
        tools.append(MemberTool(label, f"{url}?{mine}", RECORDS, order=21))
    if user.has_perm("access_control.add_credential"):
        url = reverse("admin:access_control_credential_add")
        query = urlencode({"member": member.pk})
        tools.append(MemberTool(_("Issue an access card"), f"{url}?{query}", ACTIONS, "", 42))
    return tools


def member_page_facts(request: HttpRequest, member: Any) -> list[MemberFact]:
    if not request.user.has_perm("access_control.view_accessevent"):
        return []
    visit = member_last_visit(member)
    if visit is None:
        return [MemberFact(_("Last visit"), _("Never"), order=35)]
    local = timezone.localtime(visit.occurred_at, ZoneInfo(visit.zone.location.time_zone))
    today = clock.today()
    if local.date() == today:
        when = _("Today, %(time)s") % {"time": local.strftime("%H:%M")}
    elif (today - local.date()).days == 1:
        when = _("Yesterday, %(time)s") % {"time": local.strftime("%H:%M")}
    else:
        when = format_date(local.date(), "short")
    log = reverse("admin:access_control_accessevent_changelist")
    return [
        MemberFact(
            _("Last visit"),
            when,
            detail=visit.zone.name,
            url=f"{log}?{urlencode({'member__id__exact': member.pk})}",
            order=35,
        )
    ]


def today_sections(request: HttpRequest) -> list[Section]:
    user = request.user
    if not user.has_perm("access_control.view_accessevent"):
        return []
    counts = check_ins_on(clock.today())
    rows = []
    for zone, inside in zones_occupancy(clock.now()):
        full = bool(zone.capacity and inside >= zone.capacity)
        detail = (
            _("%(inside)d inside of %(capacity)d") % {"inside": inside, "capacity": zone.capacity}
            if zone.capacity
            else _("%(inside)d inside") % {"inside": inside}
        )
        feed = reverse("admin:access_control_accessevent_feed")
        rows.append(
            TodayRow(
                text=zone.name,
                url=f"{feed}?{urlencode({'zone': zone.pk})}",
                detail=detail,
                tone=DANGER if full else "",
            )
        )
    if counts.denied:
        events = reverse("admin:access_control_accessevent_changelist")
        rows.append(
            TodayRow(
                text=_("Denied at the gate today"),
                url=f"{events}?{urlencode({'decision__exact': 'denied'})}",
                detail=str(counts.denied),
                tone=DANGER,
            )
        )
    links = [(_("Live check-in feed"), reverse("admin:access_control_accessevent_feed"))]
    if user.has_perm(CHECK_IN_PERMISSION):
        links.append((_("Check in a member"), reverse("admin:access_control_accessevent_check_in")))
    return [
        Section(
            key="check-ins",
            title=_("Check-ins today"),
            rows=rows,
            figure=str(counts.entries),
            figure_label=ngettext(
                "check-ins by %(members)d member",
                "check-ins by %(members)d members",
                counts.members,
            )
            % {"members": counts.members},
            empty=_("No zones set up yet."),
            links=tuple(links),
            order=10,
        )
    ]
