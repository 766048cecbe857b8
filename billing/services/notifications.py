"""Billing emails: receipts, upcoming-renewal reminders and card-expiring notices.

Each notification has a unique key, so however often a job runs a member gets each
one once.  Templates live in ``billing/templates/emails/billing/<kind>.<language>.txt``;
the first line is the subject.  Every template exists in English and Thai.
"""

from __future__ import annotations

import calendar
import datetime as dt
import logging
from collections.abc import Sequence
from typing import Any

from django.conf import settings
from django.core.mail import EmailMessage, get_connection
from django.db import connection
from django.template.loader import render_to_string
from django.utils import timezone

from config import clock
from config.db import bulk_update_rows
from config.outbox import REFERENCE_HEADER, provider_lookup
from members.models import GymProfile, Member

from .. import hooks
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


def notify(
    member: Member,
    *,
    kind: str,
    key: str,
    context: dict[str, Any],
    gym: GymProfile | None = None,
) -> Notification | None:
    """Send ``kind`` to ``member`` once per ``key``.  Returns ``None`` if already sent
    (or the member takes no transactional email).

    ``gym``: the profile, when the caller sends many (read once for them all).
    """
    sent = notify_many([(member, kind, key, context)], gym=gym)
    return sent[0] if sent else None


def _claim_keys(notes: Sequence[Notification]) -> dict[str, int]:
    """Insert the notifications whose key is new, in one statement; ``{key: id}`` of those.

    A key already there (sent before, or claimed by a concurrent worker) is left alone,
    so each email goes out once however many workers send the same batch.
    """
    if not notes:
        return {}
    quote = connection.ops.quote_name
    table = quote(Notification._meta.db_table)
    columns = ", ".join(
        quote(name) for name in ("member_id", "kind", "key", "subject", "error", "created_at")
    )
    created = timezone.now()
    params: list[Any] = []
    for note in notes:
        params += [note.member_id, note.kind, note.key, note.subject, "", created]
    values = ", ".join(["(%s, %s, %s, %s, %s, %s)"] * len(notes))
    with connection.cursor() as cursor:
        cursor.execute(  # names are the model's own, quoted; every value is a parameter
            f"INSERT INTO {table} ({columns}) VALUES {values} "  # noqa: S608
            f"ON CONFLICT ({quote('key')}) DO NOTHING RETURNING {quote('id')}, {quote('key')}",
            params,
        )
        return {key: pk for pk, key in cursor.fetchall()}


def notification_reference(note: Notification) -> str:
    """Our reference of a notification at the email provider."""
    return f"notification-{note.pk}"


# A claimed notification still unsent this long after its claim was interrupted.
INTERRUPTED_AFTER = dt.timedelta(minutes=10)
INTERRUPTED_UNSURE = "interrupted: unknown whether sent"


def notifications_settle_interrupted() -> dict[str, int]:
    """Settle notifications whose send was interrupted (claimed, never recorded).

    The provider is asked about each: one it has is recorded as sent; one it never got
    is released and, for a receipt, sent again (it cannot go out twice); where the
    provider cannot be asked, the notification keeps an error saying so, for staff
    (Billing → Notifications).  One query when there is nothing to settle.
    """
    cutoff = timezone.now() - INTERRUPTED_AFTER
    stuck = list(
        Notification.objects.filter(
            sent_at__isnull=True, error="", created_at__lte=cutoff
        ).order_by("pk")[:500]
    )
    outcome = {"sent": 0, "resent": 0, "unsure": 0}
    if not stuck:
        return outcome
    backend = get_connection()
    resend: list[int] = []
    for note in stuck:
        asked, provider_id = provider_lookup(backend, notification_reference(note))
        if asked and provider_id:
            Notification.objects.filter(pk=note.pk, sent_at__isnull=True).update(
                sent_at=clock.now()
            )
            outcome["sent"] += 1
        elif asked:
            # Never reached the provider: release the key so the notice can go again.
            Notification.objects.filter(pk=note.pk, sent_at__isnull=True, error="").delete()
            if note.kind == "receipt" and note.key.partition(":")[2].isdigit():
                resend.append(int(note.key.partition(":")[2]))
            else:  # another app's notification (a sale's receipt): its owner sends it again
                for hook in hooks.notification_released:
                    hook(note.kind, note.key)
            outcome["resent"] += 1
        else:
            Notification.objects.filter(pk=note.pk, sent_at__isnull=True, error="").update(
                error=INTERRUPTED_UNSURE
            )
            outcome["unsure"] += 1
    if resend:
        receipts_send(resend)
    return outcome


def notify_many(
    outgoing: Sequence[tuple[Member, str, str, dict[str, Any]]], *, gym: GymProfile | None = None
) -> list[Notification]:
    """:func:`notify` for many ``(member, kind, key, context)``: the new keys are claimed
    in one statement, each email is sent, and the outcomes are written in one more.

    Returns the notifications sent now (a key already used is skipped, as in ``notify``).
    """
    gym = gym or _gym()
    notes: dict[str, tuple[Notification, str]] = {}
    for member, kind, key, context in outgoing:
        if not member.email or not member.transactional_email or key in notes:
            continue
        subject, body = render_email(
            kind, member.language, {"member": member, "gym": gym, **context}
        )
        notes[key] = (Notification(member=member, kind=kind, key=key, subject=subject), body)
    claimed = _claim_keys([note for note, _ in notes.values()])
    sent: list[Notification] = []
    for key, (note, body) in notes.items():
        if key not in claimed:
            continue
        note.pk = claimed[key]
        try:
            EmailMessage(
                note.subject,
                body,
                settings.DEFAULT_FROM_EMAIL,
                [note.member.email],
                headers={REFERENCE_HEADER: notification_reference(note)},
            ).send()
            note.sent_at = clock.now()
        except Exception as exc:
            logger.warning(
                "Email %s to member %s failed: %s", note.kind, note.member_id, type(exc).__name__
            )
            note.error = type(exc).__name__
        sent.append(note)
    bulk_update_rows(sent, ["sent_at", "error"])
    return sent


def _receipt(invoice: Invoice) -> tuple[Member, str, str, dict[str, Any]]:
    return (
        invoice.member,
        "receipt",
        f"receipt:{invoice.pk}",
        {
            "invoice": invoice,
            "amount": format_amount(invoice.amount_paid, invoice.currency),
            "lines": list(invoice.lines.all()),
            "tax": format_amount(invoice.tax_total, invoice.currency),
        },
    )


def receipt_send(invoice: Invoice) -> Notification | None:
    """A receipt for money received; an invoice settled by credit alone gets none."""
    if invoice.amount_paid <= 0:
        return None
    member, kind, key, context = _receipt(invoice)
    return notify(member, kind=kind, key=key, context=context)


def receipts_send(invoice_ids: Sequence[int]) -> int:
    """Receipts for these invoices; the gym and every invoice's lines are read once."""
    invoices = list(
        Invoice.objects.filter(pk__in=list(invoice_ids), amount_paid__gt=0)
        .select_related("member")
        .prefetch_related("lines")
        .order_by("pk")
    )
    if not invoices:
        return 0
    return len(notify_many([_receipt(invoice) for invoice in invoices]))


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
