"""What classes hold about a member, for the privacy registry (``members.privacy``)."""

from __future__ import annotations

import datetime as dt

from django.utils.translation import gettext_lazy

from members.models import Member
from members.privacy.registry import ModelPolicy, register

from .models import Booking, BookingEvent, BookingSuspension, ClassFee, ClassMessage

ATTENDANCE_KEPT = gettext_lazy(
    "Attendance history (which class, when, booked or attended): the gym's class reports "
    "count it, and it holds no contact details."
)


def cancel_future_bookings(member: Member, now: dt.datetime) -> int:
    """Places held in classes still to come are given back (to the waitlist)."""
    from .services.booking import cancel

    upcoming = Booking.objects.filter(
        member=member, status__in=("booked", "waitlisted"), session__starts_at__gt=now
    )
    count = 0
    for booking_id in upcoming.values_list("pk", flat=True):
        cancel(booking_id)
        count += 1
    Booking.objects.filter(member=member).update(override_reason="")
    return count


def register_classes() -> None:
    register(
        ModelPolicy(
            "classes.Booking",
            rows=lambda m: Booking.objects.filter(member=m),
            erase=cancel_future_bookings,
            retained=ATTENDANCE_KEPT,
            order=12,
        )
    )
    register(
        ModelPolicy(
            "classes.BookingEvent",
            rows=lambda m: BookingEvent.objects.filter(booking__member=m),
            erase=lambda m, now: BookingEvent.objects.filter(booking__member=m).update(reason=""),
            order=60,
        )
    )
    register(
        ModelPolicy(
            "classes.ClassFee",
            rows=lambda m: ClassFee.objects.filter(member=m),
            retained=gettext_lazy(
                "A money record (a late-cancel or no-show fee), kept like invoices."
            ),
        )
    )
    register(
        ModelPolicy(
            "classes.BookingSuspension",
            rows=lambda m: BookingSuspension.objects.filter(member=m),
            erase=lambda m, now: BookingSuspension.objects.filter(member=m).delete()[0],
        )
    )
    register(
        ModelPolicy(
            "classes.ClassMessage",
            rows=lambda m: ClassMessage.objects.filter(member=m),
            # That a reminder went out stays (sent once); what it said goes.
            erase=lambda m, now: ClassMessage.objects.filter(member=m).update(
                subject="", body="", error=""
            ),
        )
    )
