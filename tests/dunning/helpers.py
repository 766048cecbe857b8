"""Helpers shared by the dunning tests: failing renewals and moving through time."""

from __future__ import annotations

import datetime as dt

from django.db.models import Min

from billing.models import Membership, PaymentAttempt
from billing.services.payments import NOT_SENT_CODES
from billing.services.run import billing_run
from dunning.caps import cap_rules
from dunning.models import ACTIVE_CASE_STATUSES, DunningCase, DunningMessage, MessageStatus
from dunning.services.run import dunning_run
from tests.dunning.conftest import local

RENEWAL = dt.date(2026, 4, 5)


def fail_renewal(time_machine, at: dt.datetime | None = None) -> None:
    """Run the billing run for 5 April 2026 (by default at 10:00 local)."""
    time_machine.move_to(at or local(2026, 4, 5, 10), tick=False)
    billing_run(RENEWAL, fan_out=False)


def case_of(membership: Membership) -> DunningCase:
    return DunningCase.objects.get(invoice__membership=membership, invoice__billing_reason="cycle")


def run_at(time_machine, when: dt.datetime) -> None:
    time_machine.move_to(when, tick=False)
    dunning_run()


def next_event_time() -> dt.datetime | None:
    """The earliest moment anything in dunning is due (a case action or a pending message)."""
    case_at = DunningCase.objects.filter(status__in=ACTIVE_CASE_STATUSES).aggregate(
        at=Min("next_action_at")
    )["at"]
    message_at = DunningMessage.objects.filter(status=MessageStatus.PENDING).aggregate(
        at=Min("scheduled_for")
    )["at"]
    candidates = [t for t in (case_at, message_at) if t is not None]
    return min(candidates) if candidates else None


def run_until(time_machine, end: dt.datetime, *, max_runs: int = 500) -> int:
    """Run dunning at every moment something is due, until ``end``; return how many runs."""
    runs = 0
    while runs < max_runs:
        at = next_event_time()
        if at is None or at > end:
            break
        time_machine.move_to(max(at, dt.datetime.now(dt.UTC)), tick=False)
        dunning_run()
        runs += 1
    time_machine.move_to(end, tick=False)
    dunning_run()
    return runs


def worst_window(fingerprint: str, brand: str) -> dict[str, int]:
    """The most attempts any rolling window of each cap rule saw on this card (those
    billing withheld, never sent to the bank, left out)."""
    times = sorted(
        PaymentAttempt.objects.filter(card_fingerprint=fingerprint)
        .exclude(decline_code__in=NOT_SENT_CODES)
        .values_list("created_at", flat=True)
    )
    worst: dict[str, int] = {}
    for rule in cap_rules(brand):
        worst[rule.name] = max(
            (sum(1 for t in times if end - rule.period < t <= end) for end in times), default=0
        )
    return worst
