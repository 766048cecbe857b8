"""Who is inside each zone: every member's latest granted pass per zone (``ZonePresence``).

Occupancy and anti-passback read one row per member instead of the day's events.  The
rows are kept with the events: on PostgreSQL the gate's own INSERT of an event updates
the row in the same statement (:data:`FROM_INSERTED`, a data-modifying CTE over the
inserted row), so a check still costs no extra round trip; other writers (the desk,
overrides, offline uploads, and every write on SQLite) call :func:`presence_record`.

A row only ever moves forward: an event older than the pass it holds (an offline upload
arriving after newer passes) leaves it alone.  :func:`presence_rebuild` recomputes every
row from the events (after events are deleted, say).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.db import connections, router, transaction

from .models import AccessEvent, Decision, ZonePresence

TABLE = ZonePresence._meta.db_table
COLUMNS = "zone_id, member_id, direction, at, event_id"

_ON_CONFLICT = (
    " ON CONFLICT (zone_id, member_id) DO UPDATE SET direction = EXCLUDED.direction,"
    " at = EXCLUDED.at, event_id = EXCLUDED.event_id"
    f" WHERE ({TABLE}.at, {TABLE}.event_id) < (EXCLUDED.at, EXCLUDED.event_id)"
)

# The row update that follows an event's INSERT on PostgreSQL, in the same statement
# (``config.db.insert_row(..., then=FROM_INSERTED)``; ``inserted`` is the event row).
FROM_INSERTED = (
    f"INSERT INTO {TABLE} ({COLUMNS}) "  # noqa: S608 - table and columns are constants
    "SELECT zone_id, member_id, direction, occurred_at, id FROM inserted "
    f"WHERE decision = '{Decision.GRANTED.value}' AND member_id IS NOT NULL"
    f"{_ON_CONFLICT}"
)

_REBUILD = (
    f"INSERT INTO {TABLE} ({COLUMNS}) "  # noqa: S608 - constants only
    "SELECT zone_id, member_id, direction, occurred_at, id FROM ("
    " SELECT zone_id, member_id, direction, occurred_at, id, ROW_NUMBER() OVER ("
    "  PARTITION BY zone_id, member_id ORDER BY occurred_at DESC, id DESC) AS n"
    f" FROM {AccessEvent._meta.db_table}"
    f" WHERE decision = '{Decision.GRANTED.value}' AND member_id IS NOT NULL"
    ") AS latest WHERE n = 1"
)


def _latest_passes(events: Iterable[AccessEvent]) -> list[AccessEvent]:
    """Each (zone, member)'s latest granted event among ``events`` (one row each: a
    statement may not update the same row twice)."""
    latest: dict[tuple[int, int], AccessEvent] = {}
    for event in events:
        if event.decision != Decision.GRANTED or event.member_id is None or event.pk is None:
            continue
        key = (event.zone_id, event.member_id)
        held = latest.get(key)
        if held is None or (held.occurred_at, held.pk) < (event.occurred_at, event.pk):
            latest[key] = event
    return list(latest.values())


def presence_record(events: Iterable[AccessEvent]) -> None:
    """Move each member's row forward to the granted passes among ``events`` (saved)."""
    passes = _latest_passes(events)
    if not passes:
        return
    using = router.db_for_write(ZonePresence)
    connection = connections[using]
    adapt = connection.ops.adapt_datetimefield_value
    rows = ", ".join(["(%s, %s, %s, %s, %s)"] * len(passes))
    params: list[Any] = []
    for event in passes:
        params += [event.zone_id, event.member_id, event.direction]
        params += [adapt(event.occurred_at), event.pk]
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {TABLE} ({COLUMNS}) VALUES {rows}{_ON_CONFLICT}",  # noqa: S608
            params,
        )


@transaction.atomic
def presence_rebuild() -> int:
    """Recompute every row from the events; returns how many members are on record."""
    ZonePresence.objects.all().delete()
    with connections[router.db_for_write(ZonePresence)].cursor() as cursor:
        cursor.execute(_REBUILD)
    return ZonePresence.objects.count()
