"""The gate's compiled statement reads exactly what the ORM's query reads.

PostgreSQL runs the statement compiled once per shape; other databases (the SQLite demo)
evaluate the same queryset through the ORM.  Both must give the engine the same rows.
"""

from __future__ import annotations

import json

import pytest

from access_control import selectors
from access_control.credentials import presented_candidates
from access_control.selectors import GateWhen, gate_rows_orm, zone_snapshot
from members.services import note_add
from tests.factories import MemberFactory

from .helpers import NOW, card, check, device_client
from .test_rules import visit_pack

pytestmark = pytest.mark.django_db


def decoded(rows):
    return [
        {
            key: json.loads(value) if isinstance(value, str) and key.startswith("gate_") else value
            for key, value in row.items()
        }
        for row in rows
    ]


@pytest.mark.parametrize("prior", [False, True])
def test_the_compiled_statement_and_the_orm_read_the_same_rows(
    zone, make_device, member_with, clock, prior
):
    zone.capacity, zone.anti_passback = 40, "strict"
    zone.save()
    device, key = make_device(zone, "both-paths")
    client = device_client(key)
    membership = member_with()
    card(membership.member, "04A1B2C3")
    note_add(member=membership.member, body="Check the waiver", is_alert=True)
    holder = MemberFactory()
    visit_pack(holder, remaining=2)
    card(holder, "04D1E2F3")
    check(client, "04A1B2C3", device_event_id="first")
    check(client, "04D1E2F3")

    snapshot = zone_snapshot(zone.__class__.objects.select_related("location").get(pk=zone.pk))
    for credential in ("04A1B2C3", "04D1E2F3", "0004A1B2C3"):
        presented = presented_candidates(credential, "auto", NOW)
        when = GateWhen.at(snapshot, NOW, "in")
        values = {
            "day": when.day,
            "passback_since": when.passback_since,
            "occupancy_since": when.occupancy_since,
            "device_id": device.pk if prior else None,
            "device_event_id": "first" if prior else None,
        }
        for n, (kind, value) in enumerate(presented.candidates):
            values[f"kind{n}"], values[f"value{n}"] = kind, value
        statement = selectors._gate_statement(
            snapshot, when, len(presented.candidates), prior=prior
        )
        compiled = decoded(selectors._gate_rows(statement, values))
        orm = decoded(gate_rows_orm(presented, snapshot, when, values))
        assert compiled == orm, credential
        if credential == "04A1B2C3":
            (row,) = compiled
            assert row["gate_alerts"] and row["last_direction"] == "in"
            assert row["gate_occupancy"] == 2
            assert (row.get("gate_prior") is not None) == prior
