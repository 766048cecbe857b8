"""Classes on the portal's home page (the member's next classes) and in its menu."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.http import HttpRequest
from django.urls import reverse
from django.utils import translation
from django.utils.translation import gettext as _

from config.dates import format_date, format_time
from members.hooks import PortalAction, PortalCard, PortalLink, PortalRow

from ..models import BookingStatus
from .views import upcoming_bookings

CARD_BOOKINGS = 3


def bookings_card(request: HttpRequest, member: Any) -> Sequence[PortalCard]:
    """The member's next classes (two queries at most, whatever their history)."""
    language = translation.get_language() or "en"
    rows = []
    for booking in upcoming_bookings(member, limit=CARD_BOOKINGS):
        session = booking.session
        local = session.starts_at.astimezone(session.room.location.tz)
        waiting = booking.status == BookingStatus.WAITLISTED
        rows.append(
            PortalRow(
                label=f"{format_date(local, 'short')} {format_time(local)}",
                value=session.class_type.label(language),
                detail=_("Waitlist, number %(n)s") % {"n": booking.waitlist_position or 1}
                if waiting
                else session.room.name,
                tone="warn" if waiting else "",
            )
        )
    mine = member.pk == getattr(getattr(request, "member", None), "pk", None)
    return [
        PortalCard(
            key="bookings",
            title=_("Upcoming classes"),
            rows=rows,
            empty=_("No classes booked."),
            actions=(
                (PortalAction(_("Book a class"), reverse("classes_portal:timetable")),)
                if mine
                else ()
            ),
            order=30,
        )
    ]


def classes_menu(request: HttpRequest) -> Sequence[PortalLink]:
    return [
        PortalLink(
            key="classes", label=_("Classes"), url=reverse("classes_portal:timetable"), order=30
        )
    ]
