"""Late-cancel and no-show fees: created pending, waivable by staff for a while, then
posted to the payer's account in billing (one ledger entry per fee, by its reference)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.conf import settings
from django.db import transaction

from billing.models import LedgerKind
from billing.services.invoices import ledger_post
from config import clock

from ..errors import BookingNotChanged
from ..models import Booking, BookingEvent, ClassFee, FeeKind, FeeStatus
from .rules import clean_reason


def fee_create(booking: Booking, kind: str, now: dt.datetime) -> ClassFee | None:
    """The class type's fee of ``kind`` for ``booking``, pending (none if the fee is 0)."""
    class_type = booking.session.class_type
    amount = class_type.late_cancel_fee if kind == FeeKind.LATE_CANCEL else class_type.no_show_fee
    if not amount:
        return None
    fee, _ = ClassFee.objects.get_or_create(
        booking=booking,
        kind=kind,
        defaults={
            "member_id": booking.member_id,
            "amount": amount,
            "currency": class_type.currency,
            "post_after": now + dt.timedelta(hours=settings.CLASSES_FEE_WAIVE_HOURS),
            "created_at": now,
        },
    )
    return fee


@transaction.atomic
def fee_waive(fee: ClassFee, user: Any, reason: str) -> ClassFee:
    reason = clean_reason(reason)
    if not reason:
        raise BookingNotChanged(reason="reason_required")
    fee = ClassFee.objects.select_for_update().get(pk=fee.pk)
    if fee.status != FeeStatus.PENDING:
        raise BookingNotChanged(reason="fee_decided")
    fee.status, fee.waived_by, fee.waive_reason = FeeStatus.WAIVED, user, reason[:300]
    fee.decided_at = clock.now()
    fee.save(update_fields=["status", "waived_by", "waive_reason", "decided_at"])
    BookingEvent.objects.create(
        booking_id=fee.booking_id, kind="fee_waived", reason=reason, actor=user
    )
    return fee


def _label(fee: ClassFee) -> str:
    session = fee.booking.session
    return f"{fee.get_kind_display()}: {session.class_type.name} {session.starts_at:%Y-%m-%d}"


def fees_post_due(now: dt.datetime | None = None) -> int:
    """Post every pending fee whose waiving window has passed (beat).  Once per fee: the
    row is locked and the ledger entry's reference is unique."""
    now = now or clock.now()
    posted = 0
    with transaction.atomic():
        due = list(
            ClassFee.objects.filter(status=FeeStatus.PENDING, post_after__lte=now)
            .select_related("member", "booking__session__class_type")
            .select_for_update(skip_locked=True, of=("self",))
            .order_by("pk")[:500]
        )
        for fee in due:
            entry = ledger_post(
                fee.member.payer,
                kind=LedgerKind.ACCOUNT_CHARGE,
                amount=fee.amount,
                currency=fee.currency,
                description=_label(fee),
                reference=f"class-fee:{fee.pk}",
            )
            fee.status, fee.ledger_entry, fee.decided_at = FeeStatus.POSTED, entry, now
            posted += 1
        ClassFee.objects.bulk_update(due, ["status", "ledger_entry", "decided_at"])
    return posted
