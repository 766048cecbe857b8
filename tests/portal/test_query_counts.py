"""Every portal page of the shell costs the same number of queries for a member of five
years (60 invoices, a thousand visits) as for one who joined today."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from access_control.models import AccessEvent
from billing.models import Invoice, InvoiceStatus, LineKind
from billing.places import Location, Zone
from billing.services import invoices as inv
from config import clock
from members.models import Member
from tests.billing.factories import signed_up

pytestmark = pytest.mark.django_db

PAGES = [
    ("portal:home", {}),
    ("portal:profile", {}),
    ("portal:privacy", {}),
    ("access_portal:pass", {}),
    ("access_portal:pass_code", {}),
]


def _five_years_of_history(member: Member) -> None:
    now = clock.now()
    for month in range(60):
        invoice = inv.invoice_create(
            member=member,
            currency="THB",
            reason="manual",
            specs=[inv.LineSpec(LineKind.OTHER, f"Month {month}", 150_000, 700, inclusive=True)],
        )
        Invoice.objects.filter(pk=invoice.pk).update(
            status=InvoiceStatus.PAID, amount_paid=invoice.total
        )
    zone = Zone.objects.create(
        location=Location.objects.create(name="Sukhumvit", time_zone="Asia/Bangkok"),
        code="floor",
        name="Floor",
    )
    AccessEvent.objects.bulk_create(
        AccessEvent(
            zone=zone,
            member=member,
            decision="grant",
            reason="ok",
            direction="in",
            occurred_at=now - dt.timedelta(days=visit * 1.8),
            source="device",
        )
        for visit in range(1000)
    )


def _counts(client: Client) -> dict[str, int]:
    counts = {}
    for name, kwargs in PAGES:
        client.get(reverse(name, kwargs=kwargs))  # the pass is made on first sight
        with CaptureQueriesContext(connection) as queries:
            response = client.get(reverse(name, kwargs=kwargs))
        assert response.status_code == 200, name
        counts[name] = len(queries)
    return counts


def test_queries_per_page_do_not_grow_with_the_members_history(
    make_portal_member: Callable[..., Member], django_capture_on_commit_callbacks
) -> None:
    new, old = make_portal_member(), make_portal_member()
    with django_capture_on_commit_callbacks(execute=True):
        signed_up(member=new)
        signed_up(member=old)
    _five_years_of_history(old)
    clients = {}
    for member in (new, old):
        clients[member.pk] = Client()
        clients[member.pk].force_login(member.user)
    fresh, long = _counts(clients[new.pk]), _counts(clients[old.pk])
    assert long == fresh
    assert all(count <= 15 for count in long.values()), long
