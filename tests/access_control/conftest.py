"""Access control fixtures: a Bangkok site with a gym floor, devices and paid members.

The clock stands still at Wednesday 3 February 2027, 03:00 UTC: 10:00 in Bangkok.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
import time_machine
from rest_framework.test import APIClient

from access_control.models import (
    Device,
    DeviceDirection,
    DeviceKind,
)
from access_control.services import device_create
from billing.models import Location, Membership, Plan, Zone
from members.models import Member
from tests.billing.factories import PlanFactory, signed_up

from .helpers import NOW, device_client


@pytest.fixture(autouse=True)
def clock() -> Iterator[Any]:
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


@pytest.fixture
def committed(django_capture_on_commit_callbacks: Any) -> Callable[[], Any]:
    """Run the block's after-commit work (charges, settling) as production would."""
    return lambda: django_capture_on_commit_callbacks(execute=True)


@pytest.fixture
def location(db: None) -> Location:
    return Location.objects.create(name="Sukhumvit", time_zone="Asia/Bangkok")


@pytest.fixture
def make_zone(location: Location) -> Callable[..., Zone]:
    def make(code: str = "gym-floor", **fields: Any) -> Zone:
        return Zone.objects.create(location=location, code=code, name=code.title(), **fields)

    return make


@pytest.fixture
def zone(make_zone: Callable[..., Zone]) -> Zone:
    return make_zone("gym-floor")


@pytest.fixture
def make_device() -> Callable[..., tuple[Device, str]]:
    def make(
        zone: Zone, name: str | None = None, direction: str = DeviceDirection.IN, **fields: Any
    ) -> tuple[Device, str]:
        return device_create(
            zone=zone,
            name=name or f"{zone.code}-{direction}-{Device.objects.count()}",
            kind=fields.pop("kind", DeviceKind.TURNSTILE),
            direction=direction,
            **fields,
        )

    return make


@pytest.fixture
def device_key(zone: Zone, make_device: Callable[..., tuple[Device, str]]) -> str:
    return make_device(zone, "gym-floor-in")[1]


@pytest.fixture
def reader(device_key: str) -> APIClient:
    return device_client(device_key)


@pytest.fixture
def member_with(committed: Callable[[], Any]) -> Callable[..., Membership]:
    """A member signed up (and paid) on ``plan``, as billing's services make them."""

    def make(plan: Plan | None = None, **kwargs: Any) -> Membership:
        with committed():
            membership = signed_up(plan=plan or PlanFactory(), **kwargs)
        membership.refresh_from_db()
        return membership

    return make


@pytest.fixture
def active_member(member_with: Callable[..., Membership]) -> Member:
    return member_with().member
