"""Pay links the desk sends on request: "send me the link and I'll pay on my phone".

The link is the hosted pay page's signed, expiring link (``dunning.links``) for one open
invoice.  The member asked for it at the desk, so it goes out now (quiet hours are for
messages the member did not ask for); their billing-message preferences still apply.

As every external effect: the intent is written first, keyed by the desk page's
one-time ``request_key`` (a double click sends once), the message is sent after the
transaction commits, and the outcome is recorded on the row.  When the invoice is in
a dunning case, the case's timeline notes it.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

from django.conf import settings
from django.core.mail import EmailMessage, get_connection
from django.db import transaction
from django.db.models import Q
from django.template import Context
from django.template.loader import get_template
from django.utils import translation

from billing.models import Invoice, InvoiceStatus
from billing.money import format_amount
from config import clock
from config.outbox import REFERENCE_HEADER, provider_lookup
from members.models import Member

from .. import conf, links
from ..errors import DunningActionRefused
from ..models import (
    ACTIVE_CASE_STATUSES,
    Channel,
    DunningCase,
    EventKind,
    PayLinkMessage,
    PayLinkStatus,
)
from ..sms import SmsMessage, get_sms_backend
from .events import event_add
from .messages import LANGUAGES, cases_lock, channel_refusal, gym_profile

logger = logging.getLogger(__name__)
TEMPLATE = "pay_link"


def pay_link_invoices(member: Member) -> list[Invoice]:
    """The open invoices a pay link can be sent for from ``member``'s page: theirs, and
    their memberships' billed to a household payer; oldest first."""
    return list(
        Invoice.objects.filter(Q(member=member) | Q(membership__member=member))
        .filter(status=InvoiceStatus.OPEN)
        .select_related("member")
        .order_by("due_on", "pk")
    )


def pay_link_send(
    member: Member, invoice: Invoice, *, channel: str, request_key: str, user: Any = None
) -> PayLinkMessage:
    """Send the pay link for ``invoice`` to whoever it is billed to, by ``channel``.

    Refuses (``DunningActionRefused``) an invoice that is not ``member``'s or has
    nothing due, and a channel the payer cannot or will not receive.  Sent once per
    ``request_key``: a second call returns the first call's message.
    """
    if not request_key or len(request_key) > 64:
        raise DunningActionRefused(reason="invalid_request")
    if invoice.pk not in {own.pk for own in pay_link_invoices(member)}:
        raise DunningActionRefused(reason="invoice_not_members")
    if invoice.amount_due <= 0:
        raise DunningActionRefused(reason="nothing_due")
    payee = invoice.member
    if channel not in Channel.values:
        raise DunningActionRefused(reason="unknown_channel")
    refusal = channel_refusal(payee, channel)
    if refusal:
        raise DunningActionRefused(reason=refusal)
    with transaction.atomic():
        message, created = PayLinkMessage.objects.get_or_create(
            request_key=request_key,
            defaults={
                "member": payee,
                "invoice": invoice,
                "channel": channel,
                "language": payee.language if payee.language in LANGUAGES else "en",
                "sent_by": user if getattr(user, "is_authenticated", False) else None,
                "created_at": clock.now(),
            },
        )
        if created:
            transaction.on_commit(lambda: _deliver(message.pk))
    if not created:
        return message
    message.refresh_from_db()
    return message


def _deliver(message_id: int) -> None:
    """Send one pay link that is still to be sent, at most once: claim it (``sending``)
    and commit, send outside any transaction, then record the outcome."""
    with transaction.atomic():
        message = (
            PayLinkMessage.objects.select_for_update(skip_locked=True)
            .select_related("member", "invoice")
            .filter(pk=message_id, status=PayLinkStatus.PENDING)
            .first()
        )
        if message is None:
            return
        PayLinkMessage.objects.filter(pk=message.pk).update(status=PayLinkStatus.SENDING)
    subject, body = _render(message)
    message.subject, message.body = subject, body
    message.recipient = (
        message.member.email if message.channel == Channel.EMAIL else message.member.phone
    )
    try:
        message.provider_message_id = _send(message, subject, body)[:200]
    except Exception as exc:  # the provider's failure is recorded, never raised at the desk
        logger.warning("Pay link %s failed: %s", message.pk, type(exc).__name__)
        message.status = PayLinkStatus.FAILED
        message.error = f"{type(exc).__name__}: {exc}"[:300]
    else:
        message.status, message.sent_at = PayLinkStatus.SENT, clock.now()
    _record(message)


def _record(message: PayLinkMessage) -> None:
    with transaction.atomic():
        case = DunningCase.objects.filter(
            invoice_id=message.invoice_id, status__in=ACTIVE_CASE_STATUSES
        ).first()
        if case is not None:
            cases_lock([case.pk])  # the case before the message (docs/locking.md)
        message.save()
        if case is not None and message.status == PayLinkStatus.SENT:
            event_add(
                case,
                EventKind.PAY_LINK_SENT,
                actor=message.sent_by,
                channel=message.channel,
                to=message.recipient,
            )


def pay_links_settle_interrupted(now: dt.datetime | None = None) -> int:
    """Pay links left ``sending`` by a sender that died: the provider is asked about
    each (sent, or sent again), or the link waits for staff (``unsure``)."""
    now = now or clock.now()
    stuck = list(
        PayLinkMessage.objects.filter(
            status=PayLinkStatus.SENDING, created_at__lte=now - conf.send_decision_delay()
        ).select_related("member", "invoice")[:200]
    )
    email = get_connection() if stuck else None
    for message in stuck:
        backend = get_sms_backend() if message.channel == Channel.SMS else email
        asked, provider_id = provider_lookup(backend, pay_link_reference(message))
        if asked and provider_id:
            message.status, message.sent_at = PayLinkStatus.SENT, now
            message.provider_message_id = provider_id[:200]
            _record(message)
        elif asked:
            PayLinkMessage.objects.filter(pk=message.pk, status=PayLinkStatus.SENDING).update(
                status=PayLinkStatus.PENDING
            )
            _deliver(message.pk)
        else:
            PayLinkMessage.objects.filter(pk=message.pk, status=PayLinkStatus.SENDING).update(
                status=PayLinkStatus.UNSURE
            )
    return len(stuck)


def pay_link_reference(message: PayLinkMessage) -> str:
    return f"pay-link-{message.pk}"


def _render(message: PayLinkMessage) -> tuple[str, str]:
    invoice = message.invoice
    context = {
        "member": message.member,
        "gym": gym_profile(),
        "invoice": invoice,
        "amount": format_amount(invoice.amount_due, invoice.currency),
        "link": links.pay_url(message.member_id, invoice.pk),
        "days": settings.DUNNING_LINK_MAX_AGE_DAYS,
    }
    folder = "sms/" if message.channel == Channel.SMS else ""
    name = f"emails/dunning/{folder}{TEMPLATE}.{message.language}.txt"
    template = get_template(name).template  # type: ignore[attr-defined]
    with translation.override(message.language):
        text = template.render(Context(context, autoescape=False)).strip()
    if message.channel == Channel.SMS:
        return "", " ".join(text.split())
    subject, _, body = text.partition("\n")
    return subject.strip()[:200], body.strip() + "\n"


def _send(message: PayLinkMessage, subject: str, body: str) -> str:
    if message.channel == Channel.SMS:
        result = get_sms_backend().send(
            SmsMessage(to=message.member.phone, body=body, reference=pay_link_reference(message))
        )
        return str(result.message_id)
    email = EmailMessage(
        subject,
        body,
        settings.DEFAULT_FROM_EMAIL,
        [message.member.email],
        headers={REFERENCE_HEADER: pay_link_reference(message)},
    )
    email.tags = ["pay-link"]  # type: ignore[attr-defined]
    email.metadata = {"pay_link": str(message.pk)}  # type: ignore[attr-defined]
    email.send()
    status = getattr(email, "anymail_status", None)
    provider_id = getattr(status, "message_id", None) if status is not None else None
    return str(provider_id or f"pay-link-{message.pk}")
