"""Leads: people who started to join online and stopped after giving their details.

Writes for leads live here (the join records and converts them, the desk works them in
the admin), with the automatic follow-ups:

- a follow-up email one day and three days after the lead came in, only to a lead who
  ticked marketing emails, whose email is known and who is still open (``new`` or
  ``contacted``: not on a trial, joined or lost);
- each goes out once.  The follow-up's row is the claim: inserted (``sending``, unique
  per lead and kind) and committed before the email is handed to the provider, outside
  any transaction, under our reference ``lead-<id>``; the outcome is recorded after.  A
  claim left ``sending`` by a sender that died is settled by asking the provider
  (:func:`config.outbox.provider_lookup`): it has the email (sent), it never got it
  (the claim is released and the next run sends it), or it cannot say (``unsure``,
  for staff; never sent again blindly);
- a follow-up that missed its day (the beat was down) is not sent late past its
  window (:data:`FOLLOW_UPS`), so nobody gets both on one morning.

Every email carries a signed link that withdraws the marketing consent.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core import signing
from django.core.exceptions import ValidationError
from django.core.mail import EmailMessage, get_connection
from django.db import IntegrityError, transaction
from django.db.models import Exists, OuterRef
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.translation import gettext as _

from config import clock
from config.outbox import REFERENCE_HEADER, provider_lookup

from .models import (
    LEAD_OPEN_STATUSES,
    GymProfile,
    JoinStep,
    Language,
    Lead,
    LeadMessage,
    LeadMessageKind,
    LeadMessageStatus,
    LeadStatus,
    Member,
)

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class FollowUp:
    kind: str
    after: dt.timedelta  # due this long after the lead came in
    until: dt.timedelta  # and not sent once the lead is this old


FOLLOW_UPS = (
    FollowUp(LeadMessageKind.FOLLOW_UP_1, dt.timedelta(days=1), dt.timedelta(days=3)),
    FollowUp(LeadMessageKind.FOLLOW_UP_3, dt.timedelta(days=3), dt.timedelta(days=7)),
)
# A claim still ``sending`` this long after it was made was interrupted.
INTERRUPTED_AFTER = dt.timedelta(minutes=10)
UNSUBSCRIBE_SALT = "members.lead-unsubscribe"
BATCH = 200

# What a lead is recorded with (the join's details step).  Anything else is refused.
LEAD_FIELDS = frozenset(
    {"first_name", "last_name", "email", "phone", "language", "interested_in", "source"}
)


# --- Writes -------------------------------------------------------------------------------


@transaction.atomic
def lead_record(
    *,
    marketing_email: bool,
    stopped_at: str = JoinStep.DETAILS,
    lead_id: int | None = None,
    **data: Any,
) -> Lead:
    """Record (or refresh) the lead of a join that reached the details step.

    ``lead_id``: the lead this join already made (the same browser going back a step);
    a lead that has been won or lost is never reopened, a new one is made.
    """
    unknown = set(data) - LEAD_FIELDS
    if unknown:
        raise ValidationError({field: _("This field cannot be set here.") for field in unknown})
    lead = (
        Lead.objects.select_for_update().filter(pk=lead_id, status__in=LEAD_OPEN_STATUSES).first()
        if lead_id
        else None
    ) or Lead()
    for field, value in data.items():
        setattr(lead, field, value.strip() if isinstance(value, str) else value)
    lead.email = lead.email.lower()
    if marketing_email and not lead.marketing_email:
        lead.marketing_consent_at = clock.now()
    elif not marketing_email:
        lead.marketing_consent_at = None
    lead.marketing_email = marketing_email
    lead.stopped_at = stopped_at
    lead.full_clean()
    lead.save()
    return lead


@transaction.atomic
def lead_update(lead: Lead, *, status: str, notes: str) -> Lead:
    """The desk works a lead: its status and notes (the admin's lead page)."""
    if status not in LeadStatus.values:
        raise ValidationError({"status": _("Choose a status from the list.")})
    lead.status, lead.notes = status, (notes or "").strip()
    lead.full_clean()
    lead.save(update_fields=["status", "notes", "updated_at"])
    return lead


def lead_progress(lead_id: int | None, stopped_at: str) -> None:
    """Note the last step an open lead's join reached (shown to staff)."""
    if lead_id:
        Lead.objects.filter(pk=lead_id, status__in=LEAD_OPEN_STATUSES).update(
            stopped_at=stopped_at[:20], updated_at=clock.now()
        )


def lead_won(lead_id: int | None, member: Member) -> None:
    """The lead's join ended in a membership: ``won``, linked to the member; no more
    follow-ups go to them (they are no longer open)."""
    if lead_id:
        Lead.objects.filter(pk=lead_id).exclude(status=LeadStatus.WON).update(
            status=LeadStatus.WON, member=member, stopped_at=JoinStep.JOINED, updated_at=clock.now()
        )


def lead_marketing_withdraw(lead: Lead) -> Lead:
    """The lead asked for no more marketing emails (their unsubscribe link)."""
    Lead.objects.filter(pk=lead.pk).update(
        marketing_email=False, marketing_consent_at=None, updated_at=clock.now()
    )
    lead.marketing_email, lead.marketing_consent_at = False, None
    return lead


def unsubscribe_token(lead: Lead) -> str:
    return signing.dumps(lead.pk, salt=UNSUBSCRIBE_SALT)


def unsubscribe_lead(token: str) -> Lead | None:
    """The lead an unsubscribe link names, or ``None`` for a forged or stale link."""
    try:
        lead_id = signing.loads(token, salt=UNSUBSCRIBE_SALT, max_age=dt.timedelta(days=365))
    except signing.BadSignature:
        return None
    return Lead.objects.filter(pk=lead_id).first() if isinstance(lead_id, int) else None


# --- Follow-ups ---------------------------------------------------------------------------


def _due_leads(follow_up: FollowUp, now: dt.datetime) -> list[Lead]:
    already = LeadMessage.objects.filter(lead=OuterRef("pk"), kind=follow_up.kind)
    return list(
        Lead.objects.filter(
            status__in=LEAD_OPEN_STATUSES,
            marketing_email=True,
            created_at__lte=now - follow_up.after,
            created_at__gt=now - follow_up.until,
        )
        .exclude(email="")
        .exclude(Exists(already))
        .order_by("pk")[:BATCH]
    )


def _claim(lead: Lead, kind: str) -> LeadMessage | None:
    """Step 1: the follow-up's row, inserted and committed; ``None`` if it exists already
    (sent before, or claimed by another worker this instant)."""
    try:
        with transaction.atomic():
            return LeadMessage.objects.create(
                lead=lead, kind=kind, status=LeadMessageStatus.SENDING, claimed_at=clock.now()
            )
    except IntegrityError:
        return None


def message_reference(message: LeadMessage) -> str:
    return f"lead-{message.pk}"


def _gym() -> GymProfile:
    return GymProfile.objects.first() or GymProfile(name="Your gym")


def _unsubscribe_url(lead: Lead) -> str:
    path = reverse("lead-unsubscribe", args=[unsubscribe_token(lead)])
    return f"{settings.JOIN_PUBLIC_BASE_URL.rstrip('/')}{path}"


def follow_up_render(message: LeadMessage, gym: GymProfile) -> tuple[str, str]:
    """``(subject, body)`` in the lead's language."""
    lead = message.lead
    language = lead.language if lead.language in Language.values else Language.ENGLISH
    text = render_to_string(
        f"emails/members/lead_{message.kind}.{language}.txt",
        {
            "lead": lead,
            "gym": gym,
            "join_url": settings.JOIN_PUBLIC_URL,
            "unsubscribe_url": _unsubscribe_url(lead),
        },
    ).strip()
    subject, _sep, body = text.partition("\n")
    return subject.strip()[:200], body.strip() + "\n"


def _send(message: LeadMessage, gym: GymProfile, now: dt.datetime) -> None:
    """Step 2, outside any transaction: hand the email to the provider."""
    subject, body = follow_up_render(message, gym)
    message.subject, message.recipient = subject, message.lead.email
    try:
        EmailMessage(
            subject,
            body,
            settings.DEFAULT_FROM_EMAIL,
            [message.lead.email],
            headers={REFERENCE_HEADER: message_reference(message)},
        ).send()
    except Exception as exc:  # recorded on the row, never raised into the run
        logger.warning("Lead follow-up %s failed: %s", message.pk, type(exc).__name__)
        message.status, message.error = LeadMessageStatus.FAILED, type(exc).__name__[:300]
        return
    message.status, message.sent_at = LeadMessageStatus.SENT, now


def _record(message: LeadMessage) -> None:
    """Step 3: the outcome."""
    LeadMessage.objects.filter(pk=message.pk, status=LeadMessageStatus.SENDING).update(
        status=message.status,
        subject=message.subject,
        recipient=message.recipient,
        error=message.error,
        sent_at=message.sent_at,
    )


def follow_ups_settle_interrupted(now: dt.datetime | None = None) -> dict[str, int]:
    """Settle follow-ups whose send was interrupted (claimed, never recorded): ask the
    provider.  One query when there is nothing to settle."""
    now = now or clock.now()
    stuck = list(
        LeadMessage.objects.filter(
            status=LeadMessageStatus.SENDING, claimed_at__lte=now - INTERRUPTED_AFTER
        ).order_by("pk")[:500]
    )
    outcome = {"sent": 0, "released": 0, "unsure": 0}
    if not stuck:
        return outcome
    backend = get_connection()
    for message in stuck:
        asked, provider_id = provider_lookup(backend, message_reference(message))
        pending = LeadMessage.objects.filter(pk=message.pk, status=LeadMessageStatus.SENDING)
        if asked and provider_id:
            pending.update(
                status=LeadMessageStatus.SENT,
                sent_at=message.claimed_at,
                provider_message_id=provider_id[:200],
            )
            outcome["sent"] += 1
        elif asked:
            pending.delete()  # it never left: the next run claims and sends it again
            outcome["released"] += 1
        else:
            pending.update(status=LeadMessageStatus.UNSURE)
            outcome["unsure"] += 1
    return outcome


def lead_follow_ups_send(now: dt.datetime | None = None) -> Mapping[str, int]:
    """Beat: send the follow-ups that are due now; returns how many of each went out."""
    now = now or clock.now()
    follow_ups_settle_interrupted(now)
    sent: dict[str, int] = {}
    gym: GymProfile | None = None
    for follow_up in FOLLOW_UPS:
        sent[follow_up.kind] = 0
        for lead in _due_leads(follow_up, now):
            message = _claim(lead, follow_up.kind)
            if message is None:
                continue
            message.lead = lead
            gym = gym or _gym()
            _send(message, gym, now)
            _record(message)
            sent[follow_up.kind] += message.status == LeadMessageStatus.SENT
    return sent
