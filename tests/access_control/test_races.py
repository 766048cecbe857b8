"""A read recorded twice at the same moment takes one pack visit, on real connections.

A reader that gets no answer in time retries the read with the same ``device_event_id``,
or decides offline and uploads it under that id, while the first request is still
being handled.  Each request below runs in its own thread on its own connection, and
the tests commit for real, so the database decides who wins, as in production.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import pytest
from django.db import connection, connections

from access_control.models import AccessEvent, ZonePresence
from access_control.services import checks, offline
from tests.concurrency import at_once
from tests.factories import MemberFactory

from .helpers import NOW, card, check, device_client
from .test_rules import visit_pack

pytestmark = pytest.mark.django_db(transaction=True)
TIMEOUT = 20


def pack_holder(card_value: str, visits: int = 3) -> Any:
    member = MemberFactory()
    purchase = visit_pack(member, remaining=visits)
    card(member, card_value)
    return purchase


def test_a_retry_racing_the_original_read_takes_one_visit(device_key, monkeypatch):
    purchase = pack_holder("04A1B2C3")
    check(device_client(device_key), "04FFFFFF")  # the device is cached and seen
    # Both requests have read the gate before either writes: neither sees the other.
    both_read = threading.Barrier(2, timeout=TIMEOUT)
    real_read = checks.gate_read

    def read_then_wait(*args: Any, **kwargs: Any) -> Any:
        read = real_read(*args, **kwargs)
        both_read.wait()
        return read

    monkeypatch.setattr(checks, "gate_read", read_then_wait)
    answers = at_once(lambda: check(device_client(device_key), "04A1B2C3", device_event_id="r-1"))

    purchase.refresh_from_db()
    assert purchase.remaining == 2, "one visit, however many requests recorded the read"
    (event,) = AccessEvent.objects.filter(device_event_id="r-1")
    assert (event.pack_purchase_id, event.reason) == (purchase.pk, "granted_pack")
    assert [(a["granted"], a["reason"], a["event_id"]) for a in answers] == [
        (True, "granted_pack", event.pk)
    ] * 2


def test_a_check_racing_the_upload_of_the_same_read_takes_one_visit(device_key, monkeypatch):
    purchase = pack_holder("04A1B2C3")
    reader = device_client(device_key)
    check(reader, "04FFFFFF")  # the device is cached and seen
    # The upload stops after inserting its events, before it commits ...
    inserted, release = threading.Event(), threading.Event()
    real_record = offline.presence_record

    def record_then_wait(events: Any) -> None:
        real_record(events)
        inserted.set()
        assert release.wait(TIMEOUT)

    monkeypatch.setattr(offline, "presence_record", record_then_wait)
    event = {
        "device_event_id": "r-2",
        "credential": "04A1B2C3",
        "occurred_at": NOW.isoformat(),
        "granted": True,
        "reason": "granted_pack",
    }
    uploading = Running(
        lambda: reader.post("/api/v1/access/events", {"events": [event]}, format="json")
    )
    assert inserted.wait(TIMEOUT)
    # ... while the online check of that same read reaches its INSERT and waits on it.
    checking = Running(lambda: check(device_client(device_key), "04A1B2C3", device_event_id="r-2"))
    assert waiting_on_a_lock("WITH inserted AS (INSERT"), "the check never reached its insert"
    release.set()
    upload, answer = uploading.result(), checking.result()

    assert upload.status_code == 200, upload.content
    (result,) = upload.json()["results"]
    assert (result["status"], result["pack_visit"]) == ("created", True)
    purchase.refresh_from_db()
    assert purchase.remaining == 2, "the upload took the visit; the check must not take another"
    (stored,) = AccessEvent.objects.filter(device_event_id="r-2")
    assert (stored.source, stored.pack_purchase_id) == ("offline", purchase.pk)
    assert (answer["granted"], answer["reason"], answer["event_id"]) == (
        True,
        "granted_pack",
        stored.pk,
    )
    assert ZonePresence.objects.get(member=purchase.member).event_id == stored.pk


class Running:
    """``call()`` in a thread of its own (with its own connection), started at once."""

    def __init__(self, call: Callable[[], Any]) -> None:
        self.outcome: list[Any] = []
        self.thread = threading.Thread(target=self._run, args=(call,))
        self.thread.start()

    def _run(self, call: Callable[[], Any]) -> None:
        try:
            self.outcome.append(call())
        except BaseException as exc:  # re-raised in the test's thread
            self.outcome.append(exc)
        finally:
            connections.close_all()

    def result(self) -> Any:
        self.thread.join(TIMEOUT)
        assert self.outcome, "the thread did not finish"
        if isinstance(self.outcome[0], BaseException):
            raise self.outcome[0]
        return self.outcome[0]


def waiting_on_a_lock(statement_start: str) -> bool:
    """Whether another connection waits on a row lock in a statement starting so."""
    deadline = time.monotonic() + TIMEOUT
    while time.monotonic() < deadline:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
                " AND pid <> pg_backend_pid() AND wait_event_type = 'Lock'"
                " AND query LIKE %s",
                [statement_start + "%"],
            )
            if cursor.fetchone()[0]:
                return True
        time.sleep(0.02)
    return False
