"""The member's timetable and bookings, in the portal (``/portal/classes/``).

- ``timetable``: the sessions of a day (the next week's days to pick from), filtered by
  location and class type, with places left, the waitlist and the member's own booking;
- ``book``, ``cancel``, ``accept``: the classes services the API calls
  (``booking.book``, ``booking.cancel``, ``booking.accept_offer``), so the same rules
  refuse with the same reasons, in the member's language;
- ``bookings``: what the member has booked and is waitlisted for.

A booking id that is not the signed-in member's answers 404, as one that does not exist.
Query counts are constant however many sessions a day has (tests/classes/test_portal.py).
"""

from __future__ import annotations

import datetime as dt
from typing import Any
from urllib.parse import urlencode

from django.contrib import messages
from django.db.models import Count, Q, QuerySet
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils import translation
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from billing.places import Location
from config import clock
from config.dates import format_date, format_time
from config.errors import DomainError
from members.portal.access import member_required

from ..models import Booking, BookingStatus, ClassSession, ClassType, SessionStatus
from ..services import booking as booking_services

DAYS_SHOWN = 7
LIVE = (BookingStatus.BOOKED, BookingStatus.WAITLISTED)


def _day(raw: str | None) -> dt.date:
    """The day asked for, within the week shown from today; today otherwise."""
    today = clock.today()
    try:
        day = dt.date.fromisoformat(raw or "")
    except ValueError:
        return today
    return day if today <= day < today + dt.timedelta(days=DAYS_SHOWN) else today


def _int(raw: str | None) -> int | None:
    return int(raw) if raw and raw.isdigit() and len(raw) < 10 else None


def day_sessions(day: dt.date, *, location: int | None, kind: str) -> QuerySet[ClassSession]:
    """The day's scheduled sessions (local day), with their waitlist length."""
    sessions = ClassSession.objects.filter(
        starts_at__gte=clock.local_midnight(day),
        starts_at__lt=clock.local_midnight(day + dt.timedelta(days=1)),
        status=SessionStatus.SCHEDULED,
    )
    if location:
        sessions = sessions.filter(room__location_id=location)
    if kind:
        sessions = sessions.filter(class_type__code=kind)
    return (
        sessions.select_related("class_type", "room__location", "instructor")
        .annotate(waitlisted=Count("bookings", filter=Q(bookings__status="waitlisted")))
        .order_by("starts_at", "pk")
    )


def _row(
    session: ClassSession, mine: Booking | None, language: str, now: dt.datetime
) -> dict[str, Any]:
    tz = session.room.location.tz
    offered = bool(
        mine
        and mine.status == BookingStatus.WAITLISTED
        and mine.offer_expires_at
        and mine.offer_expires_at > now
    )
    return {
        "session": session,
        "name": session.class_type.label(language),
        "starts": format_time(session.starts_at.astimezone(tz)),
        "ends": format_time(session.ends_at.astimezone(tz)),
        "where": f"{session.room.name} · {session.room.location.name}",
        "instructor": session.instructor.name if session.instructor else "",
        "places_left": session.places_left,
        "waitlisted": getattr(session, "waitlisted", 0),
        "full": session.places_left <= 0,
        "started": session.starts_at <= now,
        "mine": mine,
        "offered": offered,
        "offer_until": format_time(mine.offer_expires_at.astimezone(tz))
        if offered and mine and mine.offer_expires_at
        else "",
    }


@member_required
@require_GET
def timetable(request: HttpRequest) -> HttpResponse:
    request.portal_section = "classes"  # type: ignore[attr-defined]
    member = request.member  # type: ignore[attr-defined]
    day = _day(request.GET.get("day"))
    location = _int(request.GET.get("location"))
    kind = (request.GET.get("type") or "")[:40]
    sessions = list(day_sessions(day, location=location, kind=kind))
    mine = {
        booking.session_id: booking
        for booking in Booking.objects.filter(
            member=member, session__in=[s.pk for s in sessions], status__in=LIVE
        )
    }
    language = translation.get_language() or "en"
    now = clock.now()
    today = clock.today()
    filters = {"location": location or "", "type": kind}
    days = [
        {
            "date": d,
            "label": format_date(d, "short"),
            "url": "?" + urlencode({"day": d.isoformat(), **filters}),
            "current": d == day,
        }
        for d in (today + dt.timedelta(days=i) for i in range(DAYS_SHOWN))
    ]
    context = {
        "day": day,
        "day_label": format_date(day),
        "days": days,
        "rows": [_row(s, mine.get(s.pk), language, now) for s in sessions],
        "locations": list(Location.objects.order_by("name").values_list("pk", "name")),
        "types": [
            (t.code, t.label(language))
            for t in ClassType.objects.filter(is_active=True).order_by("name")
        ],
        "location": location,
        "kind": kind,
        "here": request.get_full_path(),
    }
    return render(request, "classes/portal/timetable.html", context)


def _back(request: HttpRequest) -> HttpResponseRedirect:
    target = request.POST.get("next", "")
    if not url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ) or not target.startswith("/portal/"):
        target = reverse("classes_portal:timetable")
    return HttpResponseRedirect(target)


def _own_booking(request: HttpRequest, booking_id: int) -> Booking:
    booking = (
        Booking.objects.select_related("session__class_type")
        .filter(pk=booking_id, member=request.member)  # type: ignore[attr-defined]
        .first()
    )
    if booking is None:
        raise Http404
    return booking


@member_required
@require_POST
def book(request: HttpRequest, session_id: int) -> HttpResponse:
    member = request.member  # type: ignore[attr-defined]
    session = ClassSession.objects.select_related("class_type").filter(pk=session_id).first()
    if session is None:
        raise Http404
    name = session.class_type.label(translation.get_language())
    try:
        booking = booking_services.book(member, session.pk)
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        if booking.status == BookingStatus.WAITLISTED:
            messages.success(
                request,
                _("%(class)s is full: you are number %(n)s on the waitlist.")
                % {"class": name, "n": booking.waitlist_position or 1},
            )
        else:
            messages.success(request, _("Booked: %(class)s.") % {"class": name})
    return _back(request)


@member_required
@require_POST
def cancel(request: HttpRequest, booking_id: int) -> HttpResponse:
    booking = _own_booking(request, booking_id)
    name = booking.session.class_type.label(translation.get_language())
    try:
        done = booking_services.cancel(booking.pk, member=request.member)  # type: ignore[attr-defined]
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        if booking.status == BookingStatus.WAITLISTED:
            messages.success(request, _("You left the waitlist of %(class)s.") % {"class": name})
        elif done.status == BookingStatus.LATE_CANCELLED:
            messages.warning(
                request,
                _("Cancelled after the cutoff: %(class)s. The class's late-cancel rules apply.")
                % {"class": name},
            )
        else:
            messages.success(request, _("Cancelled: %(class)s.") % {"class": name})
    return _back(request)


@member_required
@require_POST
def accept(request: HttpRequest, booking_id: int) -> HttpResponse:
    booking = _own_booking(request, booking_id)
    name = booking.session.class_type.label(translation.get_language())
    try:
        booking_services.accept_offer(booking.pk, member=request.member)  # type: ignore[attr-defined]
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, _("Booked: %(class)s.") % {"class": name})
    return _back(request)


def upcoming_bookings(member: Any, limit: int | None = None) -> list[Booking]:
    """The member's booked and waitlisted classes still to come, soonest first."""
    query = (
        Booking.objects.filter(member=member, status__in=LIVE, session__starts_at__gt=clock.now())
        .exclude(session__status=SessionStatus.CANCELLED)
        .select_related("session__class_type", "session__room__location")
        .order_by("session__starts_at", "pk")
    )
    return list(query[:limit] if limit else query[:200])


@member_required
@require_GET
def bookings(request: HttpRequest) -> HttpResponse:
    request.portal_section = "classes"  # type: ignore[attr-defined]
    language = translation.get_language() or "en"
    now = clock.now()
    rows = []
    for booking in upcoming_bookings(request.member):  # type: ignore[attr-defined]
        session = booking.session
        tz = session.room.location.tz
        local = session.starts_at.astimezone(tz)
        rows.append(
            {
                **_row(session, booking, language, now),
                "when": f"{format_date(local, 'short')} {format_time(local)}",
            }
        )
    return render(
        request, "classes/portal/bookings.html", {"rows": rows, "here": request.get_full_path()}
    )
