"""The front desk's live feed: the latest attempts as rows, for the page and its JSON."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any
from zoneinfo import ZoneInfo

from django.contrib.admin.utils import quote
from django.urls import reverse
from django.utils import timezone

from billing.admin.member_page import take_payment_url
from billing.summaries import members_owing
from config.dates import format_date
from members.selectors import members_alerts

from ..models import AccessEvent, Decision
from ..reasons import reason_label, reason_message, warning_label, warning_message
from ..services.checks import OVERRIDE_PERMISSION


@dataclass(frozen=True)
class FeedRow:
    """One attempt as the desk sees it, in the desk's language: the reason and warnings
    under the desk's names (``label``, ``warning_labels``), the member's open alerts,
    and a way to take a payment when the member owes.  ``message`` and ``warnings`` are
    what the member was shown."""

    id: int
    at: dt.datetime  # in the time zone of the event's location
    time: str  # HH:MM:SS there
    day: str  # YYYY-MM-DD there
    date: str  # the same day as the desk reads dates ("7 Dec 2026")
    granted: bool
    reason: str
    label: str
    message: str
    warnings: tuple[str, ...]
    warning_labels: tuple[str, ...]
    alerts: tuple[str, ...]
    take_payment_url: str
    member_name: str
    member_number: int | None
    photo_url: str | None
    member_url: str
    presented: str
    zone: str
    device: str
    staff: str
    direction: str
    source: str
    event_url: str
    override_url: str
    overridden_by: str

    def as_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["at"] = self.at.isoformat()
        data["warnings"] = list(self.warnings)
        return data


def _overridden(events: Sequence[AccessEvent]) -> dict[int, str]:
    """For each denial already overridden, who let the member in."""
    denied = [e.pk for e in events if e.decision == Decision.DENIED]
    if not denied:
        return {}
    rows = AccessEvent.objects.filter(overrides_id__in=denied).values_list(
        "overrides_id", "staff_user__username"
    )
    return {int(pk): username or "—" for pk, username in rows if pk is not None}


def _url(name: str, pk: Any) -> str:
    return reverse(name, args=[quote(pk)])


def feed_rows(events: Sequence[AccessEvent], user: Any, back: str = "") -> list[FeedRow]:
    """``events`` (with member, zone and its location, device and staff user loaded) as
    feed rows.  Each time is the wall-clock time where it happened: its location's.

    A fixed number of queries for any number of rows: overrides, alerts, who owes.
    ``back`` is where a payment taken from a row returns to.
    """
    overridden = _overridden(events)
    may_override = user.has_perm(OVERRIDE_PERMISSION)
    may_see_members = user.has_perm("members.view_member")
    member_ids = {event.member_id for event in events if event.member_id}
    alerts = members_alerts(member_ids) if may_see_members else {}
    may_take = user.has_perm("billing.take_payment")
    owing = members_owing(member_ids) if may_take else set()
    rows = []
    for event in events:
        member = event.member
        denied = event.decision == Decision.DENIED
        local = timezone.localtime(event.occurred_at, ZoneInfo(event.zone.location.time_zone))
        rows.append(
            FeedRow(
                id=event.pk,
                at=local,
                time=local.strftime("%H:%M:%S"),
                day=local.strftime("%Y-%m-%d"),
                date=format_date(local.date(), "short"),
                granted=not denied,
                reason=event.reason,
                label=reason_label(event.reason),
                message=reason_message(event.reason, None),
                warnings=tuple(warning_message(code, None) for code in event.warnings or []),
                warning_labels=tuple(warning_label(code) for code in event.warnings or []),
                alerts=tuple(alerts.get(event.member_id or 0, ())),
                take_payment_url=take_payment_url(member, back)
                if member is not None and member.pk in owing
                else "",
                member_name=member.full_name if member else "",
                member_number=member.member_number if member else None,
                photo_url=member.photo.url if member and member.photo else None,
                member_url=_url("admin:members_member_change", member.pk)
                if member and may_see_members
                else "",
                presented=event.presented,
                zone=event.zone.name,
                device=event.device.name if event.device else "",
                staff=event.staff_user.get_username() if event.staff_user else "",
                direction=event.get_direction_display(),
                source=event.get_source_display(),
                event_url=_url("admin:access_control_accessevent_change", event.pk),
                override_url=_url("admin:access_control_accessevent_override", event.pk)
                if denied and may_override and event.pk not in overridden
                else "",
                overridden_by=overridden.get(event.pk, ""),
            )
        )
    return rows
