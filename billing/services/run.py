"""The billing run: find due memberships by index, invoice them, charge them.

``billing_run`` plans the work and fans batches out over Celery (or runs them here);
``billing_run_batch`` is one unit of work: issue invoices and intents in one
transaction, then charge concurrently and record.  Running it twice, concurrently, or
again after a crash produces each invoice and each charge exactly once.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.db import connection

from ..models import BILLABLE_STATUSES, Membership
from .bulk import bill_due_batch
from .payments import _after_failures, attempts_process, attempts_reconcile


def batch_timeout() -> int:
    return int(getattr(settings, "BILLING_BATCH_TIMEOUT_SECONDS", 600))


def batch_size() -> int:
    return int(getattr(settings, "BILLING_BATCH_SIZE", 500))


@dataclass
class RunReport:
    date: dt.date
    due: int = 0
    invoiced: int = 0
    ended: int = 0
    charged: int = 0
    succeeded: int = 0
    failed: int = 0
    unknown: int = 0
    reconciled: int = 0
    batches: int = 0
    queries: int = 0  # SQL statements the batches ran, wherever they ran
    dry_run: bool = False
    due_ids: list[int] = field(default_factory=list, repr=False)

    def add(self, other: dict[str, int]) -> None:
        for key, value in other.items():
            setattr(self, key, getattr(self, key) + value)


def due_membership_ids(today: dt.date) -> list[int]:
    """Memberships due on or before ``today`` (the partial index ``membership_due``)."""
    return list(
        Membership.objects.filter(status__in=BILLABLE_STATUSES, next_billing_date__lte=today)
        .order_by("pk")
        .values_list("pk", flat=True)
    )


def billing_run_batch(membership_ids: list[int], today: dt.date) -> dict[str, int]:
    queries = 0

    def count(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        nonlocal queries
        queries += 1
        return execute(sql, params, many, context)

    with connection.execute_wrapper(count):
        result = bill_due_batch(membership_ids, today)
        if result.failed_unsent:
            _after_failures(result.failed_unsent)
        charged = attempts_process(result.attempt_ids)
    return {
        "invoiced": result.invoiced,
        "ended": result.ended,
        "charged": len(result.attempt_ids),
        "succeeded": charged["succeeded"],
        "failed": charged["failed"] + len(result.failed_unsent),
        "unknown": charged["unknown"],
        "queries": queries,
    }


def billing_run(
    today: dt.date,
    *,
    dry_run: bool = False,
    fan_out: bool | None = None,
    progress: Callable[[int], None] | None = None,
) -> RunReport:
    """Bill everything due on ``today``.  First settles what an earlier run left unsettled."""
    report = RunReport(date=today, dry_run=dry_run)
    ids = due_membership_ids(today)
    report.due = len(ids)
    report.due_ids = ids
    if dry_run:
        return report
    reconciled = attempts_reconcile()
    report.reconciled = reconciled["succeeded"] + reconciled["failed"]
    size = batch_size()
    batches = [ids[i : i + size] for i in range(0, len(ids), size)]
    report.batches = len(batches)
    use_celery = (not settings.CELERY_TASK_ALWAYS_EAGER) if fan_out is None else fan_out
    if use_celery:
        from ..tasks import bill_batch

        pending = [bill_batch.delay(batch, today.isoformat()) for batch in batches]
        for async_result in pending:
            counts = async_result.get(timeout=batch_timeout(), disable_sync_subtasks=False)
            report.add(counts)
            if progress:
                progress(counts["invoiced"] + counts["ended"])
    else:
        for batch in batches:
            counts = billing_run_batch(batch, today)
            report.add(counts)
            if progress:
                progress(len(batch))
    return report
