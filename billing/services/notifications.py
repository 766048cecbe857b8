"""Billing emails: receipts, upcoming-renewal reminders and card-expiring notices.

Each notification has a unique key, so however often a job runs a member gets each
one once.  Templates live in ``templates/emails/billing/<kind>.<language>.txt``; the
first line is the subject.  Every template exists in English and Thai.
"""

from __future__ import annotations

import calendar
import datetime as dt
import logging
from collections.abc import Sequence
from typing import Any

from django.conf import settings
from django.core.mail import EmailMessage
from django.db import IntegrityError, transaction
from django.template.loader import render_to_string

from config import clock
from members.models import GymProfile, Member

from ..models import (
    Invoice,
    Membership,
    MembershipStatus,
    Notification,
    PaymentMethod,
    PaymentMethodStatus,
)
from ..money import format_amount

logger = logging.getLogger(__name__)

CARD_EXPIRY_NOTICE_DAYS = (30, 7)


def render_email(kind: str, language: str, context: dict[str, Any]) -> tuple[str, str]:
    lang = language if language in {"en", "th"} else "en"
    text = render_to_string(f"emails/billing/{kind}.{lang}.txt", context).strip()
    subject, _, body = text.partition("\n")
    return subject.strip(), body.strip() + "\n"


def _gym() -> GymProfile:
    return GymProfile.objects.first() or GymProfile(name="Your gym")


def notify(member: Member, *, kind: str, key: str, context: dict[str, Any]) -> Notification | None:
    """Send ``kind`` to ``member`` once per ``key``.  Returns ``None`` if already sent."""
    if not member.email or not member.transactional_email:
        return None
    subject, body = render_email(
        kind, member.language, {"member": member, "gym": _gym(), **context}
    )
    try:
        with transaction.atomic():
            note = Notification.objects.create(member=member, kind=kind, key=key, subject=subject)
    except IntegrityError:
        return None
    try:
        EmailMessage(subject, body, settings.DEFAULT_FROM_EMAIL, [member.email]).send()
        note.sent_at = clock.now()
    except Exception as exc:
        logger.warning("Email %s to member %s failed: %s", kind, member.pk, type(exc).__name__)
        note.error = type(exc).__name__
    note.save(update_fields=["sent_at", "error"])
    return note


def receipt_send(invoice: Invoice) -> Notification | None:
    """A receipt for money received; an invoice settled by credit alone gets none."""
    if invoice.amount_paid <= 0:
        return None
    member = invoice.member
    return notify(
        member,
        kind="receipt",
        key=f"receipt:{invoice.pk}",
        context={
            "invoice": invoice,
            "amount": format_amount(invoice.amount_paid, invoice.currency),
            "lines": list(invoice.lines.all()),
            "tax": format_amount(invoice.tax_total, invoice.currency),
        },
    )


def receipts_send(invoice_ids: Sequence[int]) -> int:
    sent = 0
    for invoice in Invoice.objects.filter(pk__in=invoice_ids).select_related("member"):
        sent += receipt_send(invoice) is not None
    return sent


def receipts_enqueue(invoice_ids: Sequence[int]) -> None:
    from ..tasks import send_receipts

    for start in range(0, len(invoice_ids), 500):
        send_receipts.delay(list(invoice_ids[start : start + 500]))


def renewal_reminders_send(today: dt.date) -> int:
    """Remind members a few days before a long-period plan renews (per plan; 3 by default)."""
    sent = 0
    candidates = Membership.objects.filter(
        status__in=[MembershipStatus.ACTIVE, MembershipStatus.TRIALING],
        cancel_at__isnull=True,
        next_billing_date__gt=today,
        next_billing_date__lte=today + dt.timedelta(days=31),
    ).select_related("plan", "payer")
    for membership in candidates:
        days = membership.plan.reminder_days
        if not days or membership.next_billing_date != today + dt.timedelta(days=days):
            continue
        note = notify(
            membership.payer,
            kind="renewal_reminder",
            key=f"renewal:{membership.pk}:{membership.next_billing_date}",
            context={
                "membership": membership,
                "plan": membership.plan,
                "renews_on": membership.next_billing_date,
                "amount": format_amount(membership.plan.price, membership.currency),
            },
        )
        sent += note is not None
    return sent


def card_expiry_end(method: PaymentMethod) -> dt.date:
    last_day = calendar.monthrange(method.exp_year, method.exp_month)[1]
    return dt.date(method.exp_year, method.exp_month, last_day)


def card_expiring_reminders_send(today: dt.date) -> int:
    """Warn about default cards that expire about 30 and about 7 days from now."""
    horizon = today + dt.timedelta(days=max(CARD_EXPIRY_NOTICE_DAYS))
    sent = 0
    methods = PaymentMethod.objects.filter(
        is_default=True,
        status=PaymentMethodStatus.ACTIVE,
        exp_year__lte=horizon.year,
    ).select_related("member")
    for method in methods:
        days_left = (card_expiry_end(method) - today).days
        if days_left < 0:
            continue
        for notice in sorted(CARD_EXPIRY_NOTICE_DAYS):
            if days_left <= notice:
                note = notify(
                    method.member,
                    kind="card_expiring",
                    key=f"card-expiring:{method.pk}:{method.exp_year}-{method.exp_month}:{notice}",
                    context={"method": method, "expires_on": card_expiry_end(method)},
                )
                sent += note is not None
                break
    return sent
