"""Catch-up billing: one run bills every missed period; a second run on that date adds nothing.

See ``docs/billing-catch-up.md`` for how the missed periods are charged, and why.
"""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.management import call_command

from billing.gateways import get_gateway
from billing.models import (
    AttemptStatus,
    BillingReason,
    Invoice,
    InvoiceStatus,
    Membership,
    PaymentAttempt,
)
from billing.periods import advance
from billing.services.run import billing_run, due_membership_ids
from tests.billing.factories import PlanFactory, signed_up

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def _fresh_bank():
    get_gateway("sandbox").reset()


def periods_after(start: dt.date, interval: str, count: int, n: int) -> list[dt.date]:
    dates = [start]
    for _ in range(n):
        dates.append(advance(dates[-1], interval, count, start.day))
    return dates


def cycle_invoices(membership: Membership) -> list[Invoice]:
    return list(
        Invoice.objects.filter(membership=membership, billing_reason=BillingReason.CYCLE).order_by(
            "period_start"
        )
    )


def test_three_periods_behind_are_billed_by_one_run_and_a_second_run_adds_nothing():
    membership = signed_up(plan=PlanFactory(interval="month"))
    due = membership.next_billing_date
    starts = periods_after(due, "month", 1, 3)  # three missed periods, and the next
    run_date = starts[2]  # the third missed period starts today

    report = billing_run(run_date, fan_out=False)

    invoices = cycle_invoices(membership)
    assert report.invoiced == 3
    assert [(i.period_start, i.period_end) for i in invoices] == [
        (starts[0], starts[1]),
        (starts[1], starts[2]),
        (starts[2], starts[3]),
    ]
    # Each its own numbered, taxed invoice, each charged once on its own.
    assert len({i.number for i in invoices}) == 3
    assert all(i.tax_total > 0 and i.status == InvoiceStatus.PAID for i in invoices)
    attempts = PaymentAttempt.objects.filter(invoice__in=invoices)
    assert sorted(attempts.values_list("invoice_id", "status")) == sorted(
        (i.pk, AttemptStatus.SUCCEEDED) for i in invoices
    )
    token = attempts.first().payment_method.token
    charged = get_gateway("sandbox").total_charged(token)
    assert charged == sum(i.total for i in invoices) + membership.plan.price  # and the sign-up
    membership.refresh_from_db()
    assert membership.next_billing_date == starts[3]
    assert (membership.current_period_start, membership.current_period_end) == (
        starts[2],
        starts[3],
    )
    assert due_membership_ids(run_date) == []

    again = billing_run(run_date, fan_out=False)
    assert (again.due, again.invoiced, again.charged) == (0, 0, 0)
    assert len(cycle_invoices(membership)) == 3


def test_the_command_with_a_date_ahead_leaves_nothing_due_for_fortnightly_plans(capsys):
    fortnightly = signed_up(plan=PlanFactory(interval="week", interval_count=2))
    monthly = signed_up(plan=PlanFactory(interval="month"))
    ahead = monthly.next_billing_date + dt.timedelta(days=31)
    call_command("run_billing", "--date", ahead.isoformat())
    first = {m.pk: len(cycle_invoices(m)) for m in (fortnightly, monthly)}
    assert first[fortnightly.pk] >= 3 and first[monthly.pk] == 2
    call_command("run_billing", "--date", ahead.isoformat())
    assert {m.pk: len(cycle_invoices(m)) for m in (fortnightly, monthly)} == first
    assert due_membership_ids(ahead) == []


def test_a_cancellation_inside_the_missed_periods_ends_the_membership_there():
    membership = signed_up(plan=PlanFactory(interval="month"))
    starts = periods_after(membership.next_billing_date, "month", 1, 3)
    Membership.objects.filter(pk=membership.pk).update(cancel_at=starts[2])
    billing_run(starts[3], fan_out=False)
    assert [i.period_start for i in cycle_invoices(membership)] == starts[:2]
    membership.refresh_from_db()
    assert (membership.status, membership.ended_on, membership.next_billing_date) == (
        "cancelled",
        starts[2],
        None,
    )
