"""Till sessions: opening (the float counted) → open → closing (the cash counted) → closed.

Every write locks the till's row and checks its status first, so nothing changes a
closed till: its Z report (and the sales, refunds and cash movements it sums) is final.
"""

from __future__ import annotations

from typing import Any

from django.db import transaction

from config import clock
from members.services import sequence_allocate

from ..errors import ManagerNeeded, SaleRefused, TillNotOpen
from ..models import (
    CashMovement,
    CashMovementKind,
    Sale,
    SaleStatus,
    Station,
    TillSession,
    TillStatus,
)
from ..selectors import DENOMINATIONS, count_total, till_report

MAX_PIECES = 100_000


def clean_count(count: Any) -> dict[str, int]:
    """A count by denomination (``{"100000": 2, "2000": 5}`` in minor units), checked."""
    if not isinstance(count, dict):
        raise SaleRefused(reason="bad_amount")
    cleaned: dict[str, int] = {}
    for key, number in count.items():
        try:
            value = int(str(key))
        except ValueError:
            raise SaleRefused(reason="bad_amount") from None
        if value not in DENOMINATIONS:
            raise SaleRefused(reason="bad_amount")
        if not isinstance(number, int) or isinstance(number, bool):
            raise SaleRefused(reason="bad_amount")
        if not 0 <= number <= MAX_PIECES:
            raise SaleRefused(reason="bad_amount")
        if number:
            cleaned[str(value)] = number
    return cleaned


def locked_till(till: TillSession, *wanted: str) -> TillSession:
    locked = TillSession.objects.select_for_update().select_related("station").get(pk=till.pk)
    if locked.status == TillStatus.CLOSED:
        raise TillNotOpen(reason="closed")
    if wanted and locked.status not in wanted:
        raise TillNotOpen()
    return locked


@transaction.atomic
def till_start(station: Station, *, user: Any) -> TillSession:
    """A new till on ``station``, waiting for its float to be counted."""
    Station.objects.select_for_update().get(pk=station.pk)
    if TillSession.objects.filter(station=station).exclude(status=TillStatus.CLOSED).exists():
        raise TillNotOpen(reason="already_open")
    return TillSession.objects.create(
        station=station, currency=station.currency, opened_by=user, started_at=clock.now()
    )


@transaction.atomic
def till_open(till: TillSession, *, count: Any, user: Any) -> TillSession:
    """Record the opening float, counted by denomination; the till can sell."""
    locked = locked_till(till)
    if locked.status != TillStatus.OPENING:
        raise TillNotOpen(reason="not_opening")
    cleaned = clean_count(count)
    locked.opening_count = cleaned
    locked.opening_float = count_total(cleaned)
    locked.status = TillStatus.OPEN
    locked.opened_at = clock.now()
    locked.save()
    return locked


def till_start_and_open(station: Station, *, count: Any, user: Any) -> TillSession:
    with transaction.atomic():
        till = till_start(station, user=user)
        return till_open(till, count=count, user=user)


@transaction.atomic
def cash_move(till: TillSession, *, kind: str, amount: int, reason: str, user: Any) -> CashMovement:
    """Cash put into or taken out of the drawer (not a sale), with its reason."""
    locked = locked_till(till, TillStatus.OPEN)
    if kind not in CashMovementKind.values:
        raise SaleRefused(reason="bad_amount")
    if not isinstance(amount, int) or not 0 < amount <= 100_000_000:
        raise SaleRefused(reason="bad_amount")
    if not reason.strip():
        raise SaleRefused(reason="reason_required")
    return CashMovement.objects.create(
        till=locked,
        kind=kind,
        amount=amount,
        reason=reason.strip()[:200],
        created_by=user,
        created_at=clock.now(),
    )


@transaction.atomic
def till_begin_close(till: TillSession, *, user: Any) -> TillSession:
    """Stop selling: the drawer is counted next.  Sales still waiting for payment (a
    PromptPay QR not yet paid) must be completed or voided first."""
    locked = locked_till(till, TillStatus.OPEN)
    if Sale.objects.filter(till=locked, status=SaleStatus.PENDING).exists():
        raise TillNotOpen(reason="pending_sales")
    locked.status = TillStatus.CLOSING
    locked.closing_started_at = clock.now()
    locked.save()
    return locked


@transaction.atomic
def till_reopen(till: TillSession, *, user: Any) -> TillSession:
    """Back to selling from the count (a sale came in while counting)."""
    locked = locked_till(till, TillStatus.CLOSING)
    locked.status = TillStatus.OPEN
    locked.closing_started_at = None
    locked.save()
    return locked


@transaction.atomic
def till_close(till: TillSession, *, count: Any, user: Any, approver: Any = None) -> TillSession:
    """Count the drawer, set it against the expected cash, and close with a Z report.

    A difference beyond the station's allowed amount needs a manager: ``user`` or
    ``approver`` must hold ``pos.approve_difference``.  The Z number is the station's
    next, without gaps.
    """
    locked = locked_till(till)
    if locked.status != TillStatus.CLOSING:
        raise TillNotOpen(reason="not_closing")
    cleaned = clean_count(count)
    counted = count_total(cleaned)
    report = till_report(locked)
    expected = report["cash"]["expected"]
    difference = counted - expected
    approved_by = None
    if abs(difference) > locked.station.max_difference:
        approved_by = next(
            (
                person
                for person in (user, approver)
                if person is not None and person.has_perm("pos.approve_difference")
            ),
            None,
        )
        if approved_by is None:
            raise ManagerNeeded(reason="difference", difference=difference)
    now = clock.now()
    locked.closing_count = cleaned
    locked.counted_cash = counted
    locked.expected_cash = expected
    locked.difference = difference
    locked.difference_approved_by = approved_by
    locked.closed_by = user
    locked.closed_at = now
    locked.z_number = sequence_allocate(f"pos:z:{locked.station_id}")[0]
    report["cash"].update(counted=counted, difference=difference)
    report["z_number"] = locked.z_number
    report["closed_at"] = now.isoformat()
    locked.z_report = report
    locked.status = TillStatus.CLOSED
    locked.save()
    return locked
