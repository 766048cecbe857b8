"""Locations and zones moved from access control to billing without losing a row.

The migration is run backwards and forwards on this test database, with a site, its
doors, devices and access log written in between as the old schema had them.
"""

from __future__ import annotations

import datetime as dt

import pytest
from django.contrib.auth.models import Group
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from access_control.models import AccessEvent, Device, Door
from billing.models import Location, Zone

BEFORE = [("billing", "0007_refund_resend_schedule"), ("access_control", "0003_allowlist_listing")]


def migrate(targets: list[tuple[str, str]]) -> MigrationExecutor:
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(targets)
    return MigrationExecutor(connection)


def latest() -> list[tuple[str, str]]:
    executor = MigrationExecutor(connection)
    return executor.loader.graph.leaf_nodes()


@pytest.mark.django_db(transaction=True)
def test_a_site_with_devices_and_history_survives_the_move():
    old = migrate(BEFORE).loader.project_state(BEFORE).apps
    location = old.get_model("access_control", "Location").objects.create(
        name="Sukhumvit", time_zone="Asia/Bangkok"
    )
    zone = old.get_model("access_control", "Zone").objects.create(
        location=location, code="gym-floor", name="Gym floor", capacity=80
    )
    door = old.get_model("access_control", "Door").objects.create(zone=zone, name="Main door")
    device = old.get_model("access_control", "Device").objects.create(
        name="Turnstile",
        kind="turnstile",
        zone=zone,
        door=door,
        key_prefix="abc",
        key_hash="f" * 64,
        key_created_at=dt.datetime(2027, 1, 1, tzinfo=dt.UTC),
    )
    old.get_model("access_control", "AccessEvent").objects.create(
        device=device,
        zone=zone,
        decision="denied",
        reason="unknown_credential",
        direction="in",
        occurred_at=dt.datetime(2027, 1, 1, tzinfo=dt.UTC),
        source="online",
    )

    content_type = old.get_model("contenttypes", "ContentType")
    permission = old.get_model("auth", "Permission").objects.get(
        content_type=content_type.objects.get(app_label="access_control", model="zone"),
        codename="change_zone",
    )
    group = old.get_model("auth", "Group").objects.create(name="Site managers")
    group.permissions.add(permission)

    migrate(latest())

    moved = Zone.objects.select_related("location").get(code="gym-floor")
    assert (moved.pk, moved.capacity, moved.location.name) == (zone.pk, 80, "Sukhumvit")
    assert Location.objects.get().time_zone == "Asia/Bangkok"
    assert Door.objects.get().zone_id == moved.pk
    assert Device.objects.get().zone == moved
    assert AccessEvent.objects.get().zone == moved
    with connection.cursor() as cursor:
        tables = connection.introspection.table_names(cursor)
    assert {"billing_location", "billing_zone"} <= set(tables)
    assert not {"access_control_location", "access_control_zone"} & set(tables)
    # A grant made on the old model holds on the new one.
    assert (
        Group.objects.get(name="Site managers")
        .permissions.filter(content_type__app_label="billing", codename="change_zone")
        .exists()
    )
    # New rows take ids after the moved ones: the identity sequences came along.
    assert Location.objects.create(name="Silom").pk > location.pk
