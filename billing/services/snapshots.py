"""Monthly MRR snapshots: each closed month's MRR per membership, written once.

The beat task (``billing.tasks.snapshot_mrr``) runs daily and writes every closed month
not yet written, oldest first, so a missed day or a new installation catches up.  The
``snapshot_mrr`` command does the same on demand, and with ``--rebuild`` rewrites months
from the records (after importing history, or to correct one).  A month's summary
(:class:`~billing.models.MrrMonth`) is derived from its snapshot and the one before, so
months are written in order.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from django.conf import settings
from django.db import connection, transaction

from config import clock

from ..models import Membership, MrrMonth, MrrSnapshot
from ..reports.movements import (
    Movements,
    by_member,
    month_end,
    month_start,
    movements_compute,
    next_month,
    previous_month,
    snapshot_standing,
)
from ..reports.mrr import mrr_at

# One writer at a time (a second beat run or the command waits for the first).
_LOCK_KEY = 7_311_015
BATCH = 5_000


def first_month() -> dt.date | None:
    """The month the gym's first membership started (where history begins)."""
    first = (
        Membership.objects.filter(currency=settings.GYM_CURRENCY)
        .order_by("started_on")
        .values_list("started_on", flat=True)
        .first()
    )
    return month_start(first) if first else None


def last_closed_month(today: dt.date | None = None) -> dt.date:
    return previous_month(month_start(today or clock.today()))


def mrr_month_write(month: dt.date, *, rebuild: bool = False) -> MrrMonth:
    """Write ``month``'s snapshot and summary (a closed month only).  Already written: the
    month is returned unchanged unless ``rebuild`` rewrites it from the records."""
    if month >= month_start(clock.today()):
        raise ValueError("only a closed month is written")
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_LOCK_KEY])
        existing = MrrMonth.objects.filter(month=month).first()
        if existing and not rebuild:
            return existing
        MrrSnapshot.objects.filter(month=month).delete()
        MrrMonth.objects.filter(month=month).delete()
        rows = mrr_at(month_end(month))
        MrrSnapshot.objects.bulk_create(
            (
                MrrSnapshot(
                    month=month,
                    membership_id=row.membership_id,
                    member_id=row.member_id,
                    plan_id=row.plan_id,
                    status=row.status,
                    mrr=row.mrr,
                    currency=settings.GYM_CURRENCY,
                )
                for row in rows
            ),
            batch_size=BATCH,
        )
        moved = movements_compute(month, snapshot_standing(previous_month(month)), by_member(rows))
        return MrrMonth.objects.create(
            month=month,
            currency=moved.currency,
            **{name: getattr(moved, name) for name in Movements.FIELDS},
        )


def mrr_months_write(
    *,
    since: dt.date | None = None,
    rebuild: bool = False,
    progress: Callable[[MrrMonth, int, int], None] | None = None,
) -> list[MrrMonth]:
    """Write every closed month from ``since`` (default: where history begins) to last
    month, oldest first.  Months already written are kept as
    they are unless ``rebuild``; a rebuilt month's successors are rebuilt too, since each
    month's movements start from the one before."""
    start = since or first_month()
    if start is None:
        return []
    last = last_closed_month()
    months = []
    month = month_start(start)
    while month <= last:
        months.append(month)
        month = next_month(month)
    written = []
    for index, month in enumerate(months, start=1):
        row = mrr_month_write(month, rebuild=rebuild)
        written.append(row)
        if progress:
            progress(row, index, len(months))
    return written
