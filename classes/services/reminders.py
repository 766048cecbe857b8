"""Reminders before class, by email and SMS, each with a signed cancel link valid until
the cutoff; never sent within the quiet hours (they wait for the morning)."""

from __future__ import annotations

import datetime as dt

from django.conf import settings

from config import clock

from ..models import Booking, BookingStatus
from . import outbox, rules


def reminders_plan() -> int:
    """Beat: plan the reminders of bookings starting within the reminder hours."""
    now = clock.now()
    horizon = now + dt.timedelta(hours=settings.CLASSES_REMINDER_HOURS)
    bookings = (
        Booking.objects.filter(
            status=BookingStatus.BOOKED,
            session__status="scheduled",
            session__starts_at__gt=now,
            session__starts_at__lte=horizon,
        )
        .exclude(messages__kind="reminder")
        .select_related("member", "session__class_type", "session__room__location")
        .order_by("pk")[:1000]
    )
    planned = 0
    for booking in bookings:
        session = booking.session
        at = outbox.after_quiet_hours(now, session.room.location.tz)
        if at >= session.starts_at:
            continue  # the quiet hours run until the class: no reminder
        cutoff = rules.window(session).cutoff
        extra = {
            "until": cutoff,
            "link": outbox.cancel_url(booking, cutoff) if cutoff > now else "",
        }
        outbox.plan(booking, "reminder", at=at, extra=extra)
        planned += 1
    return planned
