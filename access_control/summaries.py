"""What the front desk reads about access: a member's last visit, and the day's check-ins.

Reads only, each a fixed number of queries: the member page's header card and "Today at
the gym" use them.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.db.models import Count, Q

from config import clock
from members.models import Member

from .models import AccessEvent, Decision, Direction


@dataclass(frozen=True)
class CheckInsToday:
    entries: int  # granted entries
    members: int  # distinct members among them
    denied: int


def member_last_visit(member: Member) -> AccessEvent | None:
    """The member's latest granted entry, with its zone and location."""
    return (
        AccessEvent.objects.filter(member=member, decision=Decision.GRANTED, direction=Direction.IN)
        .select_related("zone__location")
        .order_by("-occurred_at", "-pk")
        .first()
    )


def check_ins_on(day: dt.date) -> CheckInsToday:
    """Entries on the gym's local date ``day``: granted (and by how many members), denied."""
    start = clock.local_midnight(day)
    end = clock.local_midnight(day + dt.timedelta(days=1))
    counts = AccessEvent.objects.filter(
        occurred_at__gte=start, occurred_at__lt=end, direction=Direction.IN
    ).aggregate(
        entries=Count("pk", filter=Q(decision=Decision.GRANTED)),
        members=Count("member_id", filter=Q(decision=Decision.GRANTED), distinct=True),
        denied=Count("pk", filter=Q(decision=Decision.DENIED)),
    )
    return CheckInsToday(
        entries=int(counts["entries"] or 0),
        members=int(counts["members"] or 0),
        denied=int(counts["denied"] or 0),
    )
