"""The page a reminder's signed link opens: cancel that booking, until the cutoff."""

from __future__ import annotations

from django.core import signing
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import translation
from django.views.decorators.http import require_http_methods

from config import clock
from config.dates import format_datetime
from config.errors import DomainError

from .models import Booking, BookingStatus
from .services import booking as booking_services
from .services.outbox import cancel_token_read


@require_http_methods(["GET", "POST"])
def cancel_link(request: HttpRequest, token: str) -> HttpResponse:
    try:
        booking_id, until = cancel_token_read(token)
    except (signing.BadSignature, KeyError, ValueError, TypeError):
        return render(request, "classes/cancel_link.html", {"state": "invalid"}, status=404)
    booking = (
        Booking.objects.select_related("member", "session__class_type", "session__room__location")
        .filter(pk=booking_id)
        .first()
    )
    if booking is None:
        return render(request, "classes/cancel_link.html", {"state": "invalid"}, status=404)
    translation.activate(
        booking.member.language if booking.member.language in ("en", "th") else "en"
    )
    session = booking.session
    local = session.starts_at.astimezone(session.room.location.tz).replace(tzinfo=None)
    context = {
        "booking": booking,
        "class_name": session.class_type.label(),
        "when": format_datetime(local),
        "state": "confirm",
    }
    if booking.status != BookingStatus.BOOKED:
        context["state"] = "done" if booking.status == BookingStatus.CANCELLED else "invalid"
        return render(request, "classes/cancel_link.html", context)
    if clock.now() >= until:
        context["state"] = "expired"
        return render(request, "classes/cancel_link.html", context, status=410)
    if request.method == "POST":
        try:
            booking_services.cancel(booking.pk, member=booking.member)
        except DomainError as exc:
            context.update(state="refused", message=exc.message)
            return render(request, "classes/cancel_link.html", context, status=409)
        context["state"] = "done"
    return render(request, "classes/cancel_link.html", context)
