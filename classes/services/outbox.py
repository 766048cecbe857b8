"""Messages about bookings: written in the booking's transaction, sent after commit.

Each message has a unique key, so a job that runs twice plans nothing twice.  The text
is written in the member's language.  Promotions, offers and gym cancellations go at
once; reminders wait for the end of the quiet hours (:func:`after_quiet_hours`).

They are sent by the shared outbox (:mod:`billing.messaging.outbox`): claimed and
committed, sent outside any transaction under the reference ``class-message-<id>``,
then recorded; a send interrupted (a killed worker) is settled by asking the provider,
never resent blindly.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Sequence
from typing import Any

from django.conf import settings
from django.core import signing
from django.db import transaction
from django.urls import reverse
from django.utils import translation
from django.utils.translation import gettext as _

from billing.messaging.outbox import EMAIL, SMS, Outbox, Outgoing
from config import clock
from config.dates import format_datetime

from ..models import Booking, Channel, ClassMessage, MessageStatus

logger = logging.getLogger(__name__)

KINDS = ("promoted", "offered", "session_cancelled", "session_moved", "reminder")
CANCEL_SALT = "classes.cancel-link"


def _clock_time(text: str) -> dt.time:
    hours, minutes = text.split(":")
    return dt.time(int(hours), int(minutes))


def after_quiet_hours(at: dt.datetime, tz: Any) -> dt.datetime:
    """``at``, or the end of the quiet hours when ``at`` falls inside them (local time)."""
    start = _clock_time(settings.CLASSES_QUIET_HOURS_START)
    end = _clock_time(settings.CLASSES_QUIET_HOURS_END)
    local = at.astimezone(tz)
    now_t = local.time()
    quiet = (start <= now_t or now_t < end) if start > end else (start <= now_t < end)
    if not quiet:
        return at
    day = local.date() if now_t < end else local.date() + dt.timedelta(days=1)
    return dt.datetime.combine(day, end, tzinfo=tz).astimezone(dt.UTC)


def cancel_token(booking: Booking, until: dt.datetime) -> str:
    return signing.dumps({"b": booking.pk, "u": int(until.timestamp())}, salt=CANCEL_SALT)


def cancel_token_read(token: str) -> tuple[int, dt.datetime]:
    """The booking id and the instant the link stops working; ``BadSignature`` if forged."""
    data = signing.loads(token, salt=CANCEL_SALT)
    return int(data["b"]), dt.datetime.fromtimestamp(int(data["u"]), tz=dt.UTC)


def cancel_url(booking: Booking, until: dt.datetime) -> str:
    path = reverse("classes:cancel-link", args=[cancel_token(booking, until)])
    return f"{settings.CLASSES_PUBLIC_BASE_URL.rstrip('/')}{path}"


def _texts(message: ClassMessage, booking: Booking, extra: dict[str, Any]) -> tuple[str, str]:
    session = booking.session
    tz = session.room.location.tz
    with translation.override(message.language):
        values = {
            "name": booking.member.first_name,
            "class": session.class_type.label(message.language),
            "when": format_datetime(session.starts_at.astimezone(tz).replace(tzinfo=None)),
            "room": session.room.name,
            "until": format_datetime(extra["until"].astimezone(tz).replace(tzinfo=None))
            if extra.get("until")
            else "",
            "link": extra.get("link", ""),
        }
        subjects = {
            "promoted": _("You are in: %(class)s, %(when)s"),
            "offered": _("A place is free: %(class)s, %(when)s"),
            "session_cancelled": _("Cancelled: %(class)s, %(when)s"),
            "session_moved": _("Time changed: %(class)s, now %(when)s"),
            "reminder": _("Reminder: %(class)s, %(when)s"),
        }
        bodies = {
            "promoted": _(
                "Hi %(name)s, a place came free and you are now booked into %(class)s on "
                "%(when)s in %(room)s."
            ),
            "offered": _(
                "Hi %(name)s, a place is free in %(class)s on %(when)s. Accept it before "
                "%(until)s or it goes to the next person on the waitlist."
            ),
            "session_cancelled": _(
                "Hi %(name)s, the gym has cancelled %(class)s on %(when)s. Your credit is "
                "back and no fee applies."
            ),
            "session_moved": _(
                "Hi %(name)s, %(class)s has moved to %(when)s. Your booking is released and "
                "your credit is back; book again if the new time suits you."
            ),
            "reminder": _(
                "Hi %(name)s, see you at %(class)s on %(when)s in %(room)s. Can't come? "
                "Cancel before %(until)s: %(link)s"
            ),
        }
        return subjects[message.kind] % values, bodies[message.kind] % values


def _refusal(booking: Booking, channel: str) -> str:
    member = booking.member
    if channel == Channel.EMAIL:
        if not member.transactional_email:
            return "member_opted_out"
        if not member.email:
            return "no_email_address"
    elif not member.transactional_sms:
        return "member_opted_out"
    elif not member.phone:
        return "no_phone_number"
    return ""


def plan(
    booking: Booking,
    kind: str,
    *,
    key: str | None = None,
    at: dt.datetime | None = None,
    extra: dict[str, Any] | None = None,
) -> list[ClassMessage]:
    """Write ``kind`` for ``booking`` by email and SMS (a key already used: skipped), and
    send them after commit when they are due now."""
    now = clock.now()
    when = at or now
    extra = extra or {}
    base = key or f"{kind}:{booking.pk}"
    language = booking.member.language if booking.member.language in ("en", "th") else "en"
    messages = []
    for channel in (Channel.EMAIL, Channel.SMS):
        message = ClassMessage(
            booking=booking,
            member_id=booking.member_id,
            kind=kind,
            channel=channel,
            key=f"{base}:{channel}",
            language=language,
            scheduled_for=when,
            created_at=now,
        )
        message.skip_reason = _refusal(booking, channel)
        message.status = MessageStatus.SKIPPED if message.skip_reason else MessageStatus.PENDING
        message.subject, message.body = _texts(message, booking, extra)
        messages.append(message)
    created = ClassMessage.objects.bulk_create(messages, ignore_conflicts=True)
    due = [m.key for m in created if m.status == MessageStatus.PENDING and when <= now]
    if due:
        transaction.on_commit(lambda: deliver_keys(due))
    return created


def _outgoing(message: ClassMessage) -> Outgoing | str:
    """What goes to the provider, read at send time (a member may have opted out since)."""
    refusal = _refusal(message.booking, message.channel)
    if refusal:
        return refusal
    member = message.member
    if message.channel == Channel.EMAIL:
        return Outgoing(EMAIL, member.email, message.subject, message.body)
    return Outgoing(SMS, member.phone, "", message.body)


OUTBOX = Outbox(
    ClassMessage, prefix="class-message", outgoing=_outgoing, related=("member", "booking__member")
)


def deliver_keys(keys: Sequence[str]) -> int:
    return deliver(ClassMessage.objects.filter(key__in=list(keys)))


def deliver(queryset: Any) -> int:
    """Send the pending messages of ``queryset`` that are due, each at most once."""
    return OUTBOX.deliver(queryset)


def deliver_due() -> int:
    """Beat: send what has waited for the end of the quiet hours (and settle any send
    a killed worker interrupted)."""
    return OUTBOX.deliver()
