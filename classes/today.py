"""Classes on "Today at the gym" (``members.hooks.today_sections``): the day's classes
and how full they are."""

from __future__ import annotations

import datetime as dt

from django.http import HttpRequest
from django.urls import NoReverseMatch, reverse
from django.utils.translation import gettext as _

from config import clock
from config.dates import format_time
from members.hooks import DANGER, WARN, TodayRow, TodaySection

from .models import ClassSession, SessionStatus


def _roster_url(session: ClassSession) -> str:
    try:
        return reverse("admin:classes_classsession_roster", args=[session.pk])
    except NoReverseMatch:
        return ""


def today_sections(request: HttpRequest) -> list[TodaySection]:
    if not request.user.has_perm("classes.view_classsession"):
        return []
    start = clock.local_midnight(clock.today())
    sessions = list(
        ClassSession.objects.filter(
            starts_at__gte=start, starts_at__lt=start + dt.timedelta(days=1)
        )
        .select_related("class_type", "room__location")
        .order_by("starts_at", "pk")
    )
    rows = []
    for session in sessions:
        local = session.starts_at.astimezone(session.room.location.tz)
        if session.status == SessionStatus.CANCELLED:
            detail, tone = str(_("cancelled")), DANGER
        else:
            detail = _("%(booked)s of %(capacity)s booked") % {
                "booked": session.booked_count,
                "capacity": session.capacity,
            }
            tone = WARN if session.booked_count >= session.capacity else ""
        rows.append(
            TodayRow(
                text=f"{format_time(local.replace(tzinfo=None))} {session.class_type.label()} · "
                f"{session.room.name}",
                url=_roster_url(session),
                detail=detail,
                tone=tone,
            )
        )
    live = [s for s in sessions if s.status == SessionStatus.SCHEDULED]
    return [
        TodaySection(
            key="classes",
            title=str(_("Classes today")),
            rows=rows,
            figure=str(sum(s.booked_count for s in live)),
            figure_label=str(_("places booked")),
            empty=str(_("No classes today.")),
            order=40,
        )
    ]
