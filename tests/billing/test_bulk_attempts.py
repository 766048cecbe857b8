"""Set-based charge intents and failures: what the dunning run sends through billing."""

from __future__ import annotations

import datetime as dt

import pytest

from billing import hooks
from billing.errors import PaymentNotAllowed
from billing.models import AttemptStatus, AttemptTrigger, MembershipEvent, MembershipStatus
from billing.services.payments import AttemptRequest, attempts_create, attempts_process
from billing.services.run import billing_run
from tests.billing.factories import card, signed_up
from tests.factories import MemberFactory

# Billing calls its hooks after commit, so these commit for real.
pytestmark = pytest.mark.django_db(transaction=True)


def _failed_renewal(token: str = "tok_decline_insufficient_funds"):
    member = MemberFactory()
    membership = signed_up(member=member)
    membership.payment_method = card(member, f"{token}.m{member.pk}")
    membership.save()
    billing_run(membership.next_billing_date, fan_out=False)
    membership.refresh_from_db()
    return membership, membership.invoices.order_by("-pk").first()


def test_attempts_create_writes_each_intent_with_the_next_number_and_its_own_key():
    first, invoice_a = _failed_renewal()
    second, invoice_b = _failed_renewal()
    results = attempts_create(
        [
            AttemptRequest(invoice_a.pk, AttemptTrigger.RETRY, first.payment_method),
            AttemptRequest(invoice_b.pk, AttemptTrigger.RETRY),
            AttemptRequest(invoice_a.pk, AttemptTrigger.RETRY),
        ]
    )
    a, b, again = results
    assert a.attempt_number == 2 and a.idempotency_key == f"inv{invoice_a.pk}-a2"
    assert b.attempt_number == 2 and b.payment_method == second.payment_method  # the default
    assert a.status == b.status == AttemptStatus.PENDING
    # A second intent for an invoice already being charged is refused, as one at a time.
    assert isinstance(again, PaymentNotAllowed) and again.reason == "attempt_in_flight"


def test_attempts_create_refuses_an_invoice_with_nothing_due():
    _, invoice = _failed_renewal("tok_ok")
    (result,) = attempts_create([AttemptRequest(invoice.pk, AttemptTrigger.RETRY)])
    assert isinstance(result, PaymentNotAllowed) and result.reason == "nothing_due"


def test_failures_reach_the_batch_hook_once_and_the_single_hooks_each():
    _, invoice_a = _failed_renewal()
    _, invoice_b = _failed_renewal()
    batches: list[list[object]] = []
    singles: list[object] = []
    hooks.payments_failed.append(batches.append)
    hooks.payment_failed.append(singles.append)
    try:
        created = attempts_create(
            [
                AttemptRequest(invoice_a.pk, AttemptTrigger.RETRY),
                AttemptRequest(invoice_b.pk, AttemptTrigger.RETRY),
            ]
        )
        attempts_process([a.pk for a in created])  # type: ignore[union-attr]
    finally:
        hooks.payments_failed.remove(batches.append)
        hooks.payment_failed.remove(singles.append)
    assert len(batches) == 1 and len(batches[0]) == 2
    assert len(singles) == 2


def test_a_failure_makes_an_active_membership_past_due_once():
    membership, invoice = _failed_renewal()
    assert membership.status == MembershipStatus.PAST_DUE
    assert MembershipEvent.objects.filter(membership=membership, kind="past_due").count() == 1
    created = attempts_create([AttemptRequest(invoice.pk, AttemptTrigger.RETRY)])
    attempts_process([a.pk for a in created])  # type: ignore[union-attr]
    membership.refresh_from_db()
    assert membership.status == MembershipStatus.PAST_DUE
    assert MembershipEvent.objects.filter(membership=membership, kind="past_due").count() == 1


def test_gateway_threads_run_in_the_callers_context_such_as_a_moved_clock():
    """``run_dunning --date`` and ``run_billing --date`` move the clock in a context
    variable; the threads that call the gateway must see it (card expiry is judged by it)."""
    from billing.services.payments import _charge_pool, _threaded
    from config import clock

    def gateway_call(attempt):
        return (attempt, clock.today())

    day = dt.date(2031, 1, 15)
    with clock.travel_to_date(day):
        seen = list(_charge_pool(4).map(_threaded(gateway_call), range(4)))
    assert seen == [(n, day) for n in range(4)]
    assert clock.today() != day
