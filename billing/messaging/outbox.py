"""Each message sent at most once, and none lost silently: the one way our apps send.

A sender keeps its messages as rows of its own model, with these fields:
``status`` (``pending`` → ``sending`` → ``sent`` | ``failed`` | ``unsure``, or
``skipped``), ``scheduled_for``, ``claimed_at``, ``sent_at``, ``error``,
``provider_message_id`` and ``decision``; and :class:`Outbox` delivers them in three steps:

1. **claim**: the due ``pending`` rows become ``sending`` (``FOR UPDATE SKIP LOCKED``,
   so two workers never take the same row), and the claim is committed;
2. **send**, outside any transaction, each with our reference (``<prefix>-<id>``) given
   to the provider (an email's ``X-Gym-Reference`` header, an SMS's reference);
3. **record** each outcome (``sent`` with the provider's id, or ``failed`` and why).

A worker killed, or a database that failed, between 1 and 3 leaves the row ``sending``.
After ``MESSAGE_SEND_DECISION_DELAY_SECONDS`` (longer than any send)
:meth:`Outbox.settle_interrupted` asks the provider about the reference
(:func:`config.outbox.provider_lookup`): it has it → ``sent`` (decision
``provider_has_it``); it never got it → ``pending`` again, sent once more (decision
``provider_never_got_it``); it cannot be asked → ``unsure``, for staff to decide.
Nothing is ever sent again blindly.

Dunning's messages follow the same three steps in :mod:`dunning.services.messages`
(their outcomes also go on the case's timeline, under the case's lock).
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core.mail import EmailMessage, get_connection
from django.db import models, transaction

from config import clock
from config.outbox import REFERENCE_HEADER, provider_lookup

from .sms import SmsMessage, get_sms_backend

logger = logging.getLogger(__name__)

PENDING, SENDING, SENT, FAILED, UNSURE, SKIPPED = (
    "pending",
    "sending",
    "sent",
    "failed",
    "unsure",
    "skipped",
)
PROVIDER_HAS_IT, PROVIDER_NEVER_GOT_IT = "provider_has_it", "provider_never_got_it"
EMAIL, SMS = "email", "sms"
RECORDED_FIELDS = [
    "status",
    "claimed_at",
    "sent_at",
    "error",
    "provider_message_id",
    "skip_reason",
    "scheduled_for",
]


def decision_delay() -> dt.timedelta:
    """How long a claim may stay open before the provider is asked about it."""
    seconds = getattr(
        settings,
        "MESSAGE_SEND_DECISION_DELAY_SECONDS",
        getattr(settings, "DUNNING_SEND_DECISION_DELAY_SECONDS", 600),
    )
    return dt.timedelta(seconds=int(seconds))


@dataclass(frozen=True)
class Outgoing:
    """What goes to the provider: ``to`` an address or a phone number; SMS have no subject."""

    channel: str
    to: str
    subject: str
    body: str


def send_email(reference: str, to: str, subject: str, body: str, *, connection: Any = None) -> str:
    """Hand an email to the provider under ``reference``; the provider's id (or ours)."""
    email = EmailMessage(
        subject,
        body,
        settings.DEFAULT_FROM_EMAIL,
        [to],
        headers={REFERENCE_HEADER: reference},
        connection=connection,
    )
    email.send()
    status = getattr(email, "anymail_status", None)
    provider_id = getattr(status, "message_id", None) if status is not None else None
    return str(provider_id or reference)


def send_sms(reference: str, to: str, body: str, *, backend: Any = None) -> str:
    """Hand an SMS to the provider under ``reference``; the provider's id."""
    sender = backend or get_sms_backend()
    return str(sender.send(SmsMessage(to=to, body=body, reference=reference)).message_id)


def send(reference: str, outgoing: Outgoing, *, email: Any = None, sms: Any = None) -> str:
    if outgoing.channel == SMS:
        return send_sms(reference, outgoing.to, outgoing.body, backend=sms)
    return send_email(reference, outgoing.to, outgoing.subject, outgoing.body, connection=email)


def provider_has(
    channel: str, reference: str, *, email: Any = None, sms: Any = None
) -> tuple[bool, str]:
    """Ask the channel's provider about ``reference``: ``(asked, provider id or "")``."""
    backend = (sms or get_sms_backend()) if channel == SMS else (email or get_connection())
    return provider_lookup(backend, reference)


class Outbox:
    """Delivery of one model's message rows (see the module's docstring).

    ``prefix``: the references' (``<prefix>-<id>``); ``outgoing(row)``: what to send, or a
    reason not to (a string: the row is ``skipped`` with it), read at send time;
    ``related``: what ``outgoing`` reads beside the row (``select_related``).
    """

    def __init__(
        self,
        model: type[models.Model],
        *,
        prefix: str,
        outgoing: Callable[[Any], Outgoing | str],
        related: Sequence[str] = (),
        chunk: int = 100,
    ) -> None:
        self.model = model
        self.prefix = prefix
        self.outgoing = outgoing
        self.related = tuple(related)
        self.chunk = chunk

    def reference(self, row: Any) -> str:
        return f"{self.prefix}-{row.pk}"

    # Step 1 -------------------------------------------------------------------------
    def claim(self, queryset: models.QuerySet[Any], now: dt.datetime, limit: int) -> list[Any]:
        """The due pending rows of ``queryset``, now ``sending`` and committed."""
        claimed_at = clock.now()
        with transaction.atomic():
            rows = list(
                queryset.filter(status=PENDING, scheduled_for__lte=now)
                .select_related(*self.related)
                .select_for_update(skip_locked=True, of=("self",))
                .order_by("scheduled_for", "pk")[:limit]
            )
            if rows:
                self.model._default_manager.filter(pk__in=[r.pk for r in rows]).update(
                    status=SENDING, claimed_at=claimed_at
                )
        for row in rows:
            row.status, row.claimed_at = SENDING, claimed_at
        return rows

    # Steps 2 and 3 --------------------------------------------------------------------
    def _send_one(self, row: Any, email: Any, sms: Any) -> None:
        what = self.outgoing(row)
        if isinstance(what, str):
            row.status, row.skip_reason = SKIPPED, what[:40]
            return
        try:
            row.provider_message_id = send(self.reference(row), what, email=email, sms=sms)[:200]
        except Exception as exc:  # the provider's failure is recorded, never raised
            logger.warning("Message %s failed: %s", self.reference(row), type(exc).__name__)
            row.status, row.error = FAILED, f"{type(exc).__name__}: {exc}"[:300]
            return
        row.status, row.sent_at = SENT, clock.now()

    def _record(self, rows: Sequence[Any]) -> None:
        fields = [f for f in RECORDED_FIELDS if hasattr(rows[0], f)] if rows else []
        if rows:
            self.model._default_manager.bulk_update(rows, fields)

    def deliver(self, queryset: models.QuerySet[Any] | None = None, *, limit: int = 500) -> int:
        """Send the due pending rows (of ``queryset``), each at most once; how many were
        sent.  Interrupted claims are settled first.  Call it outside any transaction
        (after commit, or in a task): the claim is committed before the provider is called."""
        self.settle_interrupted()
        queryset = queryset if queryset is not None else self.model._default_manager.all()
        now = clock.now()
        sent = 0
        done = 0
        while done < limit:
            rows = self.claim(queryset, now, min(self.chunk, limit - done))
            if not rows:
                break
            email = get_connection()
            sms = get_sms_backend()
            try:
                for row in rows:
                    self._send_one(row, email, sms)
            finally:
                self._record(rows)
            sent += sum(row.status == SENT for row in rows)
            done += len(rows)
        return sent

    # Interrupted sends ----------------------------------------------------------------
    def settle_interrupted(self, now: dt.datetime | None = None) -> dict[str, int]:
        """Settle rows left ``sending`` longer than the decision delay: ask the provider.
        One query when there is nothing to settle."""
        now = now or clock.now()
        stuck: list[Any] = list(
            self.model._default_manager.filter(
                status=SENDING, claimed_at__lte=now - decision_delay()
            ).order_by("pk")[:500]
        )
        outcome = {"sent": 0, "resent": 0, "unsure": 0}
        if not stuck:
            return outcome
        email, sms = get_connection(), get_sms_backend()
        for row in stuck:
            asked, provider_id = provider_has(
                row.channel, self.reference(row), email=email, sms=sms
            )
            rows = self.model._default_manager.filter(pk=row.pk, status=SENDING)
            if asked and provider_id:
                rows.update(
                    status=SENT,
                    sent_at=row.claimed_at,
                    provider_message_id=provider_id[:200],
                    decision=PROVIDER_HAS_IT,
                )
                outcome["sent"] += 1
            elif asked:
                rows.update(
                    status=PENDING,
                    claimed_at=None,
                    scheduled_for=now,
                    decision=PROVIDER_NEVER_GOT_IT,
                )
                outcome["resent"] += 1
            else:
                rows.update(status=UNSURE, error="interrupted: unknown whether sent")
                outcome["unsure"] += 1
        return outcome
