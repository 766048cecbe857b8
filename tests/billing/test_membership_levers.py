"""Dunning's levers and the restore after payment, for many memberships at once.

``MembershipLevers`` and ``memberships_settle`` are the set-based twins of the
one-membership services: the same transitions, refusals and audit rows, in a number of
queries that does not grow with the memberships.
"""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext

from billing.errors import TransitionNotAllowed
from billing.models import Invoice, InvoiceStatus, MembershipEvent, MembershipStatus
from billing.services import memberships as ms
from billing.services.bulk import MembershipLevers
from members.models import MemberStatus
from tests.billing.factories import card, signed_up

pytestmark = pytest.mark.django_db(transaction=True)
S = MembershipStatus


@pytest.fixture(autouse=True)
def _clock():
    with time_machine.travel(dt.datetime(2027, 1, 31, 3, 0, tzinfo=dt.UTC), tick=False) as t:
        yield t


def past_due():
    from billing.services.run import billing_run

    membership = signed_up()
    token = f"tok_decline_insufficient_funds.lever{membership.pk}"
    membership.payment_method = card(membership.member, token)
    membership.save()
    billing_run(membership.next_billing_date, fan_out=False)
    membership.refresh_from_db()
    assert membership.status == S.PAST_DUE
    return membership


def test_levers_apply_in_order_with_the_one_membership_rules():
    first, second = past_due(), past_due()
    active = signed_up()
    levers = MembershipLevers()
    warned = levers.set_restrictions(first.pk, access_warning=True, bookings_blocked=True)
    suspended = levers.suspend(first.pk)
    again = levers.suspend(first.pk)  # already suspended by the request before
    refused = levers.suspend(active.pk)
    unchanged = levers.set_restrictions(second.pk, access_warning=False)
    levers.apply()

    assert (warned.done, suspended.done, unchanged.done) == (True, True, True)
    assert isinstance(again.error, TransitionNotAllowed)
    assert again.error.reason == "suspend_from_suspended"
    assert refused.error is not None and refused.error.reason == "suspend_from_active"
    first.refresh_from_db()
    assert (first.status, first.access_warning, first.bookings_blocked) == (S.SUSPENDED, True, True)
    assert first.member.__class__.objects.get(pk=first.member_id).status == MemberStatus.SUSPENDED
    kinds = list(
        MembershipEvent.objects.filter(membership=first)
        .order_by("pk")
        .values_list("kind", "from_status", "to_status", "detail")
    )[-2:]
    assert kinds == [
        (
            "restrictions_changed",
            S.PAST_DUE,
            S.PAST_DUE,
            {"access_warning": "True", "bookings_blocked": "True"},
        ),
        ("suspended", S.PAST_DUE, S.SUSPENDED, {"reason": "payment_overdue"}),
    ]
    assert not MembershipEvent.objects.filter(
        membership=second, kind="restrictions_changed"
    ).exists()
    assert not levers.requests[0].error
    levers.apply()  # applied requests are not applied twice
    assert MembershipEvent.objects.filter(membership=first, kind="suspended").count() == 1


def test_levers_cost_the_same_queries_for_one_or_many_memberships():
    def queries_for(memberships):
        levers = MembershipLevers()
        for membership in memberships:
            levers.set_restrictions(membership.pk, access_warning=True)
            levers.suspend(membership.pk)
        with CaptureQueriesContext(connection) as captured:
            levers.apply()
        return len(captured)

    assert queries_for([past_due()]) == queries_for([past_due() for _ in range(3)])


def test_cancel_for_nonpayment_lever_matches_the_service():
    membership = past_due()
    levers = MembershipLevers()
    request = levers.cancel_for_nonpayment(membership.pk)
    levers.apply()
    assert request.done
    membership.refresh_from_db()
    assert (membership.status, membership.cancel_reason) == (S.CANCELLED, "non-payment")
    assert membership.next_billing_date is None
    assert membership.ended_on == dt.date(2027, 1, 31)


def test_settle_restores_many_at_once_and_leaves_those_still_overdue():
    paid, still_owing = past_due(), past_due()
    ms.membership_set_restrictions(paid, access_warning=True)
    ms.membership_suspend(paid)
    Invoice.objects.filter(membership=paid, status=InvoiceStatus.OPEN).update(
        status=InvoiceStatus.PAID
    )
    # The renewal is dated ahead of the test's clock: make it overdue today.
    Invoice.objects.filter(membership=still_owing, status=InvoiceStatus.OPEN).update(
        due_on=dt.date(2027, 1, 30)
    )
    ms.memberships_settle([paid.pk, still_owing.pk])
    paid.refresh_from_db()
    still_owing.refresh_from_db()
    assert (paid.status, paid.access_warning, paid.past_due_since) == (S.ACTIVE, False, None)
    assert still_owing.status == S.PAST_DUE
    event = MembershipEvent.objects.filter(membership=paid).order_by("-pk").first()
    assert event is not None
    assert (event.kind, event.from_status, event.to_status) == ("reinstated", S.SUSPENDED, S.ACTIVE)
    assert paid.member.__class__.objects.get(pk=paid.member_id).status == MemberStatus.ACTIVE


def test_settle_costs_the_same_queries_for_one_or_many():
    def queries_for(memberships):
        Invoice.objects.filter(membership__in=memberships, status=InvoiceStatus.OPEN).update(
            status=InvoiceStatus.PAID
        )
        with CaptureQueriesContext(connection) as captured:
            ms.memberships_settle([m.pk for m in memberships])
        return len(captured)

    assert queries_for([past_due()]) == queries_for([past_due() for _ in range(3)])
