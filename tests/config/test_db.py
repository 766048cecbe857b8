"""config.db: the prepared cursor, the cached INSERT and its non-durable commit, and the
kept connection checked by its first statement."""

from __future__ import annotations

import pytest
from django.db import IntegrityError, OperationalError, connection, transaction
from django.test.utils import CaptureQueriesContext

from access_control.models import AccessEvent
from billing.models import Location, Zone
from config import clock
from config.db import checked_by_first_use, insert_row, prepared_cursor
from tests.connections import health_checks_counted, request_starts, server_drops_connection

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def zone() -> Zone:
    location = Location.objects.create(name="Sukhumvit", time_zone="Asia/Bangkok")
    return Zone.objects.create(location=location, code="floor", name="Floor")


def event(zone: Zone, **fields: object) -> AccessEvent:
    values = {
        "zone": zone,
        "presented": "04A1B2C3",
        "direction": "in",
        "occurred_at": clock.now(),
        "source": "online",
        "decision": "denied",
        "reason": "unknown_credential",
        **fields,
    }
    return AccessEvent(**values)


def synchronous_commit() -> str:
    with connection.cursor() as cursor:
        cursor.execute("SHOW synchronous_commit")
        return str(cursor.fetchone()[0])


@pytest.mark.parametrize("durable", [True, False])
def test_insert_row_writes_what_save_would(zone, durable):
    written = event(zone, warnings=["card_expiring"])
    pk = insert_row(written, durable=durable)
    stored = AccessEvent.objects.get(pk=pk)
    assert written.pk == pk and not written._state.adding
    assert (stored.presented, stored.reason, stored.warnings) == (
        "04A1B2C3",
        "unknown_credential",
        ["card_expiring"],
    )
    assert stored.recorded_at is not None, "auto_now_add is honoured"


def test_a_non_durable_insert_turns_synchronous_commit_off_for_itself_only(zone):
    assert synchronous_commit() == "on"
    with CaptureQueriesContext(connection) as queries:
        insert_row(event(zone), durable=False)
    assert len(queries) == 1 and "synchronous_commit" in queries[0]["sql"]
    assert synchronous_commit() == "on", "the setting ended with the statement's transaction"


def test_inside_a_transaction_the_insert_stays_durable(zone):
    with transaction.atomic(), CaptureQueriesContext(connection) as queries:
        insert_row(event(zone), durable=False)
        assert synchronous_commit() == "on"
    assert "synchronous_commit" not in queries[0]["sql"]


def test_a_conflict_returns_the_existing_row(zone):
    first = insert_row(event(zone, device_event_id="e-1"), durable=False)
    again = insert_row(
        event(zone, device_event_id="e-1", reason="granted"),
        conflict_fields=["device", "device_event_id"],
        durable=False,
    )
    # Without a device the pair is never equal (NULLs are distinct): two rows.
    assert again != first
    assert AccessEvent.objects.filter(device_event_id="e-1").count() == 2


def test_a_unique_violation_is_djangos_integrity_error(zone):
    from access_control.services import device_create

    device, _key = device_create(zone=zone, name="gate", kind="turnstile", direction="in")
    first = insert_row(event(zone, device=device, device_event_id="e-2"))
    same = insert_row(
        event(zone, device=device, device_event_id="e-2", reason="granted"),
        conflict_fields=["device", "device_event_id"],
    )
    assert same == first
    assert AccessEvent.objects.get(pk=first).reason == "unknown_credential"
    with pytest.raises(IntegrityError):
        insert_row(event(zone, device=device, device_event_id="e-2"))


def test_the_prepared_cursor_prepares_and_is_logged():
    with CaptureQueriesContext(connection) as queries, prepared_cursor() as cursor:
        for n in range(3):
            cursor.execute("SELECT %s::int + 1", [n])
            assert cursor.fetchone()[0] == n + 1
    assert [q["sql"] for q in queries] and all(q["sql"] for q in queries)
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_prepared_statements WHERE statement LIKE %s",
            ["SELECT $1::int + 1%"],
        )
        assert cursor.fetchone()[0] == 1


# --- A kept connection checked by its first statement -----------------------------------


def test_a_kept_connection_is_checked_by_its_first_statement_not_by_select_1(zone, monkeypatch):
    # A connection opened by an earlier test may be older than CONN_MAX_AGE on a slow run, and
    # request_starts() would then close it as obsolete rather than check it: start a fresh one.
    connection.close()
    Zone.objects.count()  # the connection is open, and kept
    with health_checks_counted(monkeypatch) as checks:
        request_starts()
        Zone.objects.count()
        assert checks == [1]  # what Django does on its own: SELECT 1, then the query
        request_starts()
        assert checked_by_first_use(Zone.objects.count) == 1
        assert checks == [1]


def test_a_dead_kept_connection_is_reopened_and_the_work_done_once(zone):
    Zone.objects.count()
    server_drops_connection()
    request_starts()
    calls: list[int] = []

    def work() -> int:
        calls.append(1)
        return Zone.objects.count()

    assert checked_by_first_use(work) == 1
    assert len(calls) == 2  # the first call's first statement found the connection dead
    assert Zone.objects.count() == 1


def test_a_connection_lost_after_a_statement_succeeded_is_not_retried(zone):
    Zone.objects.count()
    request_starts()
    calls: list[int] = []

    def work() -> None:
        calls.append(1)
        Zone.objects.update(name="Weights")  # done: running this again would repeat it
        server_drops_connection()
        Zone.objects.count()

    try:
        with pytest.raises(OperationalError):
            checked_by_first_use(work)
        assert calls == [1]
    finally:
        connection.close()
    assert Zone.objects.get().name == "Weights"


def test_outside_a_kept_connection_the_work_just_runs(zone, monkeypatch):
    connection.close()
    calls: list[int] = []

    def work() -> int:
        calls.append(1)
        return Zone.objects.count()

    with health_checks_counted(monkeypatch) as checks:
        assert checked_by_first_use(work) == 1
    assert (calls, checks) == ([1], [])
