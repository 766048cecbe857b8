"""Messages to members: planned inside the case's transaction, sent after it commits.

A message row is the intent (unique per case, step and channel, so a second run never
plans it again).  :func:`messages_deliver` sends due rows while holding their row locks
(``FOR UPDATE SKIP LOCKED``): two runs never send one row twice, and the row records
what was sent, to whom, when, and later what the provider reported.

Quiet hours (``DUNNING_QUIET_HOURS_START``–``END``, gym local time) move a message to
the end of the window.  Members' transactional preferences decide the channels; a
marketing opt-out changes nothing.  A message not sent is kept with the reason.
"""

from __future__ import annotations

import contextvars
import datetime as dt
import logging
import queue
import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from email.utils import make_msgid
from typing import Any, TypeVar

from django.conf import settings
from django.core.mail import EmailMessage, get_connection
from django.core.mail.backends.base import BaseEmailBackend
from django.db import DEFAULT_DB_ALIAS, OperationalError, connections, transaction
from django.db import connection as db_connection
from django.db.models import Q
from django.db.models.functions import Coalesce, Least
from django.template import Context
from django.template.loader import get_template
from django.utils import translation

from billing.models import Invoice, InvoiceStatus
from billing.money import format_amount
from billing.promptpay import conf as promptpay_conf
from config import clock
from config.db import bulk_insert_rows, bulk_update_rows
from config.outbox import REFERENCE_HEADER, provider_lookup
from members.models import GymProfile, Member

from .. import conf, links
from ..errors import DunningActionRefused
from ..models import (
    ACTIVE_CASE_STATUSES,
    WAIT_FOR_MEMBER,
    CaseStatus,
    Channel,
    DunningCase,
    DunningEvent,
    DunningMessage,
    EventKind,
    LadderStep,
    MessageDecision,
    MessageStatus,
)
from ..selectors import ask_leads, installments_by_case, ladders_for, pay_page_invoices
from ..sms import SmsMessage, get_sms_backend
from ..timing import quiet_hours_end
from .events import event_build
from .schedule import SCHEDULE_FIELDS, cases_reschedule, cases_schedule, step_date

logger = logging.getLogger(__name__)
T = TypeVar("T")

LANGUAGES = ("en", "th")
# Messages that still go out after the case has closed (they are about the closing).
CLOSING_TEMPLATES = ("thanks",)
DELIVERY_CHUNK = 100
DELIVERY_FIELDS = [
    "status",
    "scheduled_for",
    "skip_reason",
    "recipient",
    "subject",
    "body",
    "provider_message_id",
    "error",
    "sent_at",
]


def send_time(at: dt.datetime) -> dt.datetime:
    """``at``, or the end of the quiet hours if ``at`` falls inside them."""
    start, end = conf.quiet_hours()
    return quiet_hours_end(at, start, end, clock.gym_tz())


def channel_refusal(member: Member, channel: str) -> str:
    """Why ``member`` cannot get a billing message by ``channel`` ("" when they can)."""
    if channel == Channel.EMAIL:
        if not member.transactional_email:
            return "member_opted_out"
        if not member.email:
            return "no_email_address"
    elif channel == Channel.SMS:
        if not member.transactional_sms:
            return "member_opted_out"
        if not member.phone:
            return "no_phone_number"
    return ""


def message_plan(
    case: DunningCase,
    *,
    template: str,
    channel: str,
    now: dt.datetime,
    step: LadderStep | None = None,
    skip_reason: str = "",
) -> DunningMessage:
    """An unsaved message for ``case``: pending at the next sendable instant, or skipped."""
    member = case.member
    reason = skip_reason or channel_refusal(member, channel)
    if not reason and case.status == CaseStatus.COLLECTIONS and template not in CLOSING_TEMPLATES:
        reason = "with_collections"
    return DunningMessage(
        case=case,
        member=member,
        step=step,
        template=template,
        channel=channel,
        language=member.language if member.language in LANGUAGES else "en",
        status=MessageStatus.SKIPPED if reason else MessageStatus.PENDING,
        skip_reason=reason,
        scheduled_for=send_time(now),
        created_at=now,
    )


def messages_one_ask_per_card(messages: Sequence[DunningMessage]) -> int:
    """A payer whose card was hard declined on several renewals is asked for a new card
    once, not once per membership: only the oldest open case waiting on that card
    speaks (its page pays every invoice on the card); the others' messages are kept as
    not sent (``asked_with_other_case``).  Returns how many were silenced."""
    asking = [
        message
        for message in messages
        if message.status == MessageStatus.PENDING
        and message.template not in CLOSING_TEMPLATES
        and message.case.block_reason in WAIT_FOR_MEMBER
        and message.case.blocked_fingerprint
    ]
    if not asking:
        return 0
    leads = ask_leads({message.case.pk: message.case for message in asking}.values())
    silenced = 0
    for message in asking:
        case = message.case
        lead = leads.get((case.member_id, case.blocked_fingerprint))
        if lead is not None and lead != case.pk:
            message.status, message.skip_reason = MessageStatus.SKIPPED, "asked_with_other_case"
            silenced += 1
    return silenced


def messages_save(messages: Sequence[DunningMessage], now: dt.datetime) -> None:
    """Store planned messages and put each on the timeline (scheduled or not sent, and why)."""
    bulk_insert_rows(messages)
    events = []
    for message in messages:
        if message.status == MessageStatus.SKIPPED:
            kind = EventKind.MESSAGE_SKIPPED
        else:
            kind = EventKind.MESSAGE_SCHEDULED
        events.append(
            event_build(
                message.case,
                kind,
                message=message,
                at=now,
                template=message.template,
                channel=message.channel,
                scheduled_for=message.scheduled_for,
                reason=message.skip_reason,
            )
        )
    bulk_insert_rows(events)


def messages_cancel(case: DunningCase, reason: str, now: dt.datetime) -> int:
    """Cancel the case's pending messages (not the ones about closing it)."""
    return messages_cancel_many([case.pk], reason)


def messages_cancel_many(case_ids: Sequence[int], reason: str) -> int:
    """:func:`messages_cancel` for several cases, in one statement."""
    if not case_ids:
        return 0
    return (
        DunningMessage.objects.filter(case_id__any=list(case_ids), status=MessageStatus.PENDING)
        .exclude(template__in=CLOSING_TEMPLATES)
        .update(status=MessageStatus.CANCELLED, skip_reason=reason[:40])
    )


# The decline code of a charge the bank wants the cardholder to confirm (3-D Secure).
AUTHENTICATION_REQUIRED = "authentication_required"


# --- Rendering ---------------------------------------------------------------------------


def gym_profile() -> GymProfile:
    return GymProfile.objects.first() or GymProfile(name="Your gym")


def _consequence_dates(case: DunningCase, ladder: list[LadderStep]) -> dict[str, dt.date | None]:
    suspend = next((s for s in ladder if s.suspend_access), None)
    cancel = next((s for s in ladder if s.cancel_membership), None)
    collections = next((s for s in ladder if s.flag_collections), None)
    return {
        "suspend_on": step_date(case, suspend) if suspend else None,
        "cancel_on": step_date(case, cancel) if cancel else None,
        "collections_on": step_date(case, collections) if collections else None,
    }


def _promptpay_offer(case: DunningCase) -> dict[str, bool]:
    """``promptpay``: the link's page offers PromptPay beside the card.
    ``lead_with_promptpay``: the card cannot pay again until the member acts (a hard or
    customer-action decline), so the message leads with "pay by PromptPay or add a new
    card" (unless only the bank's confirmation is missing: the same card can pay)."""
    offered = case.currency == "THB" and promptpay_conf.available()
    card_stuck = case.block_reason in WAIT_FOR_MEMBER or case.last_decline_category in (
        WAIT_FOR_MEMBER
    )
    return {
        "promptpay": offered,
        "lead_with_promptpay": offered
        and card_stuck
        and case.last_decline_code != AUTHENTICATION_REQUIRED,
    }


def message_context(
    message: DunningMessage, gym: GymProfile, ladder: list[LadderStep]
) -> dict[str, Any]:
    """Everything a template may use.  Amounts are formatted; no card number ever appears."""
    case = message.case
    invoice = case.invoice
    dates = _consequence_dates(case, ladder)
    step = message.step
    upcoming = [
        step_date(case, s)
        for s in ladder
        if (s.suspend_access or s.cancel_membership)
        and (step is None or s.days_since_failure > step.days_since_failure)
    ]
    fee = case.late_fee_invoice
    context: dict[str, Any] = {
        "member": message.member,
        "gym": gym,
        "case": case,
        "invoice": invoice,
        "amount": format_amount(case.amount_due or invoice.amount_due, case.currency),
        "invoice_total": format_amount(invoice.total, invoice.currency),
        "due_on": invoice.due_on,
        "link": links.pay_url(case.member_id, case.invoice_id, message.pk),
        "deadline": upcoming[0] if upcoming else None,
        "needs_new_card": case.block_reason in WAIT_FOR_MEMBER,
        # Only the cardholder can confirm (3-D Secure): the same card can still pay.
        "needs_confirmation": case.last_decline_code == AUTHENTICATION_REQUIRED,
        "problem": case.last_decline_category or "generic",
        **_promptpay_offer(case),
        "late_fee": (
            format_amount(fee.amount_due, fee.currency)
            if fee is not None and fee.status == InvoiceStatus.OPEN and fee.amount_due
            else ""
        ),
        "recovered_amount": format_amount(case.recovered_amount, case.currency),
        "access_restored": bool(
            case.membership is not None and case.membership.status in ("active", "trialing")
        ),
        **dates,
        "invoice_numbers": invoice.number,
        "page_invoices": [],
    }
    if (
        case.block_reason in WAIT_FOR_MEMBER
        and case.blocked_fingerprint
        and message.template not in CLOSING_TEMPLATES
        and not (step is not None and step.cancel_membership)
    ):
        # The payer is asked once for a new card for every renewal on it, and the link's
        # page collects them all: the message shows what the page will collect.
        collected = pay_page_invoices(
            case, installments_by_case([case.pk]).get(case.pk), clock.today()
        )
        # The late fee keeps its own line (``late_fee``).
        principal = [i for i in collected if fee is None or i.pk != fee.pk]
        if any(i.pk != invoice.pk for i in principal):
            context["amount"] = format_amount(sum(i.amount_due for i in principal), case.currency)
            context["invoice_numbers"] = ", ".join(i.number or "" for i in principal)
            context["page_invoices"] = [
                {"number": i.number, "amount": format_amount(i.amount_due, i.currency)}
                for i in principal
            ]
    if message.template == "payment_plan":
        installments = installments_by_case([case.pk]).get(case.pk, [])
        context["installments"] = [
            {
                "number": i.number,
                "invoice": i.invoice.number,
                "amount": format_amount(i.invoice.total, i.invoice.currency),
                "due_on": i.due_on,
            }
            for i in installments
        ]
    return context


def message_render(message: DunningMessage, context: dict[str, Any]) -> tuple[str, str]:
    """``(subject, body)`` in the member's language; SMS have no subject."""
    folder = "sms/" if message.channel == Channel.SMS else ""
    name = f"emails/dunning/{folder}{message.template}.{message.language}.txt"
    template = get_template(name).template  # type: ignore[attr-defined]
    with translation.override(message.language):
        # Plain text: nothing is HTML-escaped (a name like O'Brien stays as it is).
        text = template.render(Context(context, autoescape=False)).strip()
    if message.channel == Channel.SMS:
        return "", " ".join(text.split())
    subject, _, body = text.partition("\n")
    return subject.strip()[:200], body.strip() + "\n"


# --- Delivery ----------------------------------------------------------------------------


def message_reference(message: DunningMessage) -> str:
    """Our reference of a message at its provider (an email header, an SMS reference)."""
    return f"dunning-{message.pk}"


def _send_email(
    message: DunningMessage, subject: str, body: str, connection: BaseEmailBackend | None = None
) -> str:
    domain = settings.DEFAULT_FROM_EMAIL.rpartition("@")[2].rstrip(">") or "localhost"
    message_id = make_msgid(idstring=f"dunning-{message.pk}", domain=domain)
    email = EmailMessage(
        subject,
        body,
        settings.DEFAULT_FROM_EMAIL,
        [message.member.email],
        headers={"Message-ID": message_id, REFERENCE_HEADER: message_reference(message)},
        connection=connection,
    )
    # django-anymail reads these; Django's own backends ignore them.
    email.tags = ["dunning", message.template]  # type: ignore[attr-defined]
    email.metadata = {"dunning_message": str(message.pk)}  # type: ignore[attr-defined]
    email.track_clicks = True  # type: ignore[attr-defined]
    email.track_opens = True  # type: ignore[attr-defined]
    email.send()
    status = getattr(email, "anymail_status", None)
    provider_id = getattr(status, "message_id", None) if status is not None else None
    return str(provider_id) if provider_id else message_id


def _send_sms(message: DunningMessage, body: str) -> str:
    result = get_sms_backend().send(
        SmsMessage(to=message.member.phone, body=body, reference=message_reference(message))
    )
    return result.message_id


def _send_claimed(
    message: DunningMessage,
    now: dt.datetime,
    gym: GymProfile,
    ladder: list[LadderStep],
    connection: BaseEmailBackend | None = None,
) -> DunningEvent | None:
    """Send one claimed message (outside any transaction) and note the outcome on it;
    return its event.  A message the quiet hours hold goes back to ``pending``."""
    case = message.case
    if not case.is_active and message.template not in CLOSING_TEMPLATES:
        message.status, message.skip_reason = MessageStatus.CANCELLED, "case_closed"
        return event_build(
            case, EventKind.MESSAGE_SKIPPED, message=message, at=now, reason="case_closed"
        )
    later = send_time(now)
    if later != now:
        message.status, message.scheduled_for, message.claimed_at = (
            MessageStatus.PENDING,
            later,
            None,
        )
        return None
    refusal = channel_refusal(message.member, message.channel)
    if refusal:
        message.status, message.skip_reason = MessageStatus.SKIPPED, refusal
        return event_build(
            case,
            EventKind.MESSAGE_SKIPPED,
            message=message,
            at=now,
            reason=refusal,
            template=message.template,
            channel=message.channel,
        )
    subject, body = message_render(message, message_context(message, gym, ladder))
    message.subject, message.body = subject, body
    message.recipient = (
        message.member.email if message.channel == Channel.EMAIL else message.member.phone
    )
    try:
        if message.channel == Channel.EMAIL:
            message.provider_message_id = _send_email(message, subject, body, connection)[:200]
        else:
            message.provider_message_id = _send_sms(message, body)[:200]
    except Exception as exc:  # the provider's failure is recorded, never raised into the run
        logger.warning("Dunning message %s failed: %s", message.pk, type(exc).__name__)
        message.status = MessageStatus.FAILED
        message.error = f"{type(exc).__name__}: {exc}"[:300]
        return event_build(
            case,
            EventKind.MESSAGE_FAILED,
            message=message,
            at=now,
            template=message.template,
            channel=message.channel,
            error=message.error,
        )
    message.status, message.sent_at = MessageStatus.SENT, now
    return event_build(
        case,
        EventKind.MESSAGE_SENT,
        message=message,
        at=now,
        template=message.template,
        channel=message.channel,
        to=message.recipient,
    )


def messages_deliver(
    *, case_ids: Sequence[int] | None = None, now: dt.datetime | None = None
) -> int:
    """Send every pending message that is due (of ``case_ids`` only, if given).

    Returns how many were sent.  Messages found inside quiet hours move to their end.
    Each message is sent at most once: it is claimed (``sending``) and committed before
    the provider is called, outside any transaction, and the outcome is recorded after.
    A claim left behind by an interrupted send is settled first
    (:func:`messages_settle_interrupted`), never sent again blindly.
    """
    now = now or clock.now()
    messages_settle_interrupted(case_ids=case_ids, now=now)
    due = DunningMessage.objects.filter(status=MessageStatus.PENDING, scheduled_for__lte=now)
    if case_ids is not None:
        due = due.filter(case_id__any=list(case_ids))
    ids = list(due.order_by("scheduled_for", "pk").values_list("pk", flat=True))
    if not ids:
        return 0
    chunks = [ids[start : start + DELIVERY_CHUNK] for start in range(0, len(ids), DELIVERY_CHUNK)]
    return _chunks_delivered(chunks, now, gym_profile())


def _chunks_delivered(chunks: list[list[int]], now: dt.datetime, gym: GymProfile) -> int:
    """:func:`_deliver_chunk` for each chunk; with ``DUNNING_DELIVERY_WORKERS`` above 1,
    that many chunks at a time, each in a worker thread with its own database connection.

    A chunk spends much of its time waiting: for the database (claim, record) and, in
    production, for the provider.  Two chunks at once overlap one's waits with the
    other's work.  The chunks hold disjoint messages and each step locks as it would
    alone (claims ``SKIP LOCKED``; the record step locks cases in id order), so this is
    what two delivery tasks running at once already do.  Inside a transaction (or on
    SQLite) the chunks go one after the other, since other connections could not see
    its rows.  Each worker runs in a copy of the caller's context (its clock, language
    and audit context) with the caller's statement hooks, and closes its connections.
    """
    caller = connections[DEFAULT_DB_ALIAS]
    workers = min(conf.delivery_workers(), len(chunks))
    if workers <= 1 or caller.vendor != "postgresql" or caller.in_atomic_block:
        return sum(_deliver_chunk(chunk, now, gym) for chunk in chunks)
    hooks = list(caller.execute_wrappers)
    work: queue.SimpleQueue[list[int]] = queue.SimpleQueue()
    for chunk in chunks:
        work.put(chunk)

    def drain_queue() -> int:
        connections[DEFAULT_DB_ALIAS].execute_wrappers = list(hooks)
        sent = 0
        try:
            while True:
                try:
                    chunk = work.get_nowait()
                except queue.Empty:
                    return sent
                sent += _deliver_chunk(chunk, now, gym)
        finally:
            connections.close_all()  # this worker thread's own connections

    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="dunning-delivery") as pool:
        running = [pool.submit(contextvars.copy_context().run, drain_queue) for _ in range(workers)]
        return sum(worker.result() for worker in running)


def messages_deliver_soon(case_ids: Sequence[int]) -> int:
    """Hand the cases' due messages to delivery: one ``deliver_messages`` task (the
    ``notifications`` queue) for the whole batch.  Returns how many were sent when the
    task ran at once (eager tasks), else 0."""
    from ..tasks import deliver_messages

    result = deliver_messages.delay(list(case_ids))
    return int(result.result or 0) if result.ready() else 0


def _open_connection() -> BaseEmailBackend | None:
    """One open connection to the email provider, or ``None`` (then each message opens
    its own, and a provider that is down fails each message on its own record)."""
    try:
        connection = get_connection()
        connection.open()
    except Exception as exc:
        logger.warning("Email connection failed: %s", type(exc).__name__)
        return None
    return connection


# The case's rows a message needs to be rendered, read in one statement after the claim;
# the message's member is its case's member (one row, built once), its step comes from
# the ladder already loaded, and a late-fee invoice is read only for cases that have one.
_CLAIM_RELATED = ("case__invoice", "case__member", "case__membership")


def _claim(ids: Sequence[int], now: dt.datetime) -> list[DunningMessage]:
    """Step 1: claim the due messages among ``ids`` (``sending``) and commit.

    One statement: ``UPDATE … WHERE id IN (SELECT … FOR UPDATE SKIP LOCKED) RETURNING``.
    A message another sender is claiming is left to it.  Only message rows are locked
    and written, so the claim waits for nobody.  What the send needs is read after the
    commit: the claimed rows are this sender's until it records their outcome.
    """
    claimed_at = clock.now()
    table = DunningMessage._meta.db_table
    with transaction.atomic(), db_connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {table} SET status = %s, claimed_at = %s WHERE id IN ("  # noqa: S608
            f"SELECT id FROM {table} WHERE id = ANY(%s::bigint[]) AND status = %s"
            " AND scheduled_for <= %s ORDER BY id FOR UPDATE SKIP LOCKED) RETURNING id",
            [MessageStatus.SENDING, claimed_at, list(ids), MessageStatus.PENDING, now],
        )
        claimed = [row[0] for row in cursor.fetchall()]
    if not claimed:
        return []
    return list(
        DunningMessage.objects.filter(pk__any=claimed)
        .select_related(*_CLAIM_RELATED)
        .order_by("pk")
    )


def _attach_related(
    messages: Sequence[DunningMessage], ladders: dict[Any, list[LadderStep]]
) -> None:
    """Fill in what :func:`_claim` did not join: the member (the case's own row when it
    is the same member), the step (from the ladders loaded for the chunk) and the late-fee
    invoice; one query each only for what is left (usually nothing)."""
    steps = {step.pk: step for ladder in ladders.values() for step in ladder}
    others: set[int] = set()
    for message in messages:
        case = message.case
        if message.member_id == case.member_id:
            message.member = case.member
        else:
            others.add(message.member_id)
        if message.step_id is not None and message.step_id in steps:
            message.step = steps[message.step_id]
    if others:
        members = Member.objects.in_bulk(list(others))
        for message in messages:
            if message.member_id in members:
                message.member = members[message.member_id]
    missing_steps = {
        m.step_id for m in messages if m.step_id is not None and m.step_id not in steps
    }
    if missing_steps:
        steps.update(LadderStep.objects.in_bulk(list(missing_steps)))
        for message in messages:
            if message.step_id in missing_steps:
                message.step = steps[message.step_id]
    fees = {m.case.late_fee_invoice_id for m in messages if m.case.late_fee_invoice_id}
    if fees:
        invoices = Invoice.objects.in_bulk(list(fees))
        for message in messages:
            if message.case.late_fee_invoice_id in invoices:
                message.case.late_fee_invoice = invoices[message.case.late_fee_invoice_id]


def _deliver_chunk(ids: Sequence[int], now: dt.datetime, gym: GymProfile) -> int:
    messages = _claim(ids, now)
    if not messages:
        return 0
    ladders = ladders_for({m.case.plan_id for m in messages})
    _attach_related(messages, ladders)
    events = []
    held: dict[int, dt.datetime] = {}
    # Step 2, outside any transaction: one connection to the email provider for the
    # chunk (each message still succeeds or fails on its own).
    connection = _open_connection()
    try:
        for message in messages:
            event = _send_claimed(message, now, gym, ladders[message.case.plan_id], connection)
            if event is not None:
                events.append(event)
            elif message.status == MessageStatus.PENDING:
                held[message.case_id] = min(
                    message.scheduled_for, held.get(message.case_id, message.scheduled_for)
                )
    finally:
        if connection is not None:
            connection.close()
    # Step 3: record the outcomes.
    retried_on_conflict(lambda: _record_outcomes(messages, events, held))
    return sum(m.status == MessageStatus.SENT for m in messages)


def retried_on_conflict(work: Callable[[], T], attempts: int = 5) -> T:
    """Run ``work`` (a transaction of its own); again if PostgreSQL aborted it for a
    deadlock or a serialisation failure.  Work that must not be lost (a message's
    outcome, a payment's hook) is never given up for one of those."""
    if db_connection.in_atomic_block:
        return work()  # inside the caller's transaction: only the caller can run it again
    for attempt in range(1, attempts + 1):
        try:
            return work()
        except OperationalError as exc:
            if attempt == attempts or not _is_conflict(exc):
                raise
            logger.warning("Retrying after a database conflict: %s", type(exc.__cause__))
            time.sleep(0.05 * attempt)
    raise AssertionError("unreachable")  # pragma: no cover


def _is_conflict(exc: OperationalError) -> bool:
    code = getattr(exc.__cause__, "sqlstate", None)
    return code in ("40P01", "40001")  # deadlock_detected, serialization_failure


def cases_lock(case_ids: Iterable[int]) -> list[DunningCase]:
    """Lock these cases in id order (the revenue loop's first lock; docs/locking.md) and
    return them as they are now.

    ``FOR NO KEY UPDATE``: it serialises with the run, recovery and staff (who lock a
    case ``FOR UPDATE``) and covers the foreign-key checks of the events written next;
    their schedule (not a key) may then be written.
    """
    ids = sorted(set(case_ids))
    if not ids:
        return []
    return list(
        DunningCase.objects.select_for_update(no_key=True).filter(pk__any=ids).order_by("pk")
    )


def _record_outcomes(
    messages: Sequence[DunningMessage], events: Sequence[DunningEvent], held: dict[int, dt.datetime]
) -> None:
    """Write what the sends did: cases first, then their messages (docs/locking.md)."""
    with transaction.atomic():
        cases = cases_lock(message.case_id for message in messages)
        bulk_update_rows(list(messages), [*DELIVERY_FIELDS, "claimed_at"])
        bulk_insert_rows(list(events))
        # The run looks at each case again at its next pending message (or other action),
        # so a message held by the quiet hours is sent when they end.  The cases were
        # read with their locks: rescheduled without reading them again.
        live = [case for case in cases if case.status in ACTIVE_CASE_STATUSES]
        cases_schedule(live)
        bulk_update_rows(live, SCHEDULE_FIELDS)
        rescheduled = {case.pk for case in live}
        for case_id, at in held.items():
            if case_id in rescheduled:
                continue
            DunningCase.objects.filter(pk=case_id).update(
                next_action_at=Least(Coalesce("next_action_at", at), at)
            )


# --- Interrupted sends -------------------------------------------------------------------

SETTLE_FIELDS = [
    "status",
    "decision",
    "sent_at",
    "provider_message_id",
    "scheduled_for",
    "claimed_at",
]


def _provider_for(message: DunningMessage, email: BaseEmailBackend | None) -> object:
    return get_sms_backend() if message.channel == Channel.SMS else email


def messages_settle_interrupted(
    *, case_ids: Sequence[int] | None = None, now: dt.datetime | None = None
) -> int:
    """Settle claims left ``sending`` longer than ``DUNNING_SEND_DECISION_DELAY_SECONDS``
    (the sender died, or could not record the outcome).  The provider is asked whether
    it has the message: if it has, the message was sent; if it has not, it is sent
    again (no duplicate is possible); if it cannot be asked, the message waits for
    staff (``unsure``: resend, or treat as sent) and the case's timeline says so.

    Returns how many were settled.  One query when there is nothing to settle.
    """
    now = now or clock.now()
    stuck = DunningMessage.objects.filter(
        status=MessageStatus.SENDING, claimed_at__lte=now - conf.send_decision_delay()
    )
    if case_ids is not None:
        stuck = stuck.filter(case_id__any=list(case_ids))
    found = list(stuck.select_related("case").order_by("pk")[:500])
    if not found:
        return 0
    email = get_connection()
    answers: dict[int, tuple[bool, str]] = {}
    for message in found:
        answers[message.pk] = provider_lookup(
            _provider_for(message, email), message_reference(message)
        )

    def record() -> int:
        settled = 0
        with transaction.atomic():
            cases_lock(message.case_id for message in found)
            locked = list(
                DunningMessage.objects.select_for_update(of=("self",))
                .filter(pk__any=[m.pk for m in found], status=MessageStatus.SENDING)
                .select_related("case")
                .order_by("pk")
            )
            events: list[DunningEvent] = []
            for message in locked:
                asked, provider_id = answers[message.pk]
                words: dict[str, Any] = {"template": message.template, "channel": message.channel}
                if asked and provider_id:
                    message.status, message.decision = (
                        MessageStatus.SENT,
                        MessageDecision.PROVIDER_HAS_IT,
                    )
                    message.sent_at = message.claimed_at
                    message.provider_message_id = provider_id[:200]
                elif asked:
                    message.status, message.decision = (
                        MessageStatus.PENDING,
                        MessageDecision.PROVIDER_NEVER_GOT_IT,
                    )
                    message.scheduled_for, message.claimed_at = now, None
                else:
                    message.status = MessageStatus.UNSURE
                    events.append(
                        event_build(
                            message.case,
                            EventKind.MESSAGE_INTERRUPTED,
                            message=message,
                            at=now,
                            **words,
                        )
                    )
                    continue
                events.append(
                    event_build(
                        message.case,
                        EventKind.MESSAGE_DECIDED,
                        message=message,
                        at=now,
                        decision=message.decision,
                        by="provider",
                        **words,
                    )
                )
                settled += 1
            bulk_update_rows(
                locked,
                [*SETTLE_FIELDS],
            )
            bulk_insert_rows(events)
            cases_reschedule({message.case_id for message in locked})
        return settled

    return retried_on_conflict(record)


def message_decide(message_id: int, *, resend: bool, user: Any = None) -> DunningMessage:
    """Staff decide about a message whose interrupted send could not be checked:
    send it again, or treat it as sent.  Only an ``unsure`` message can be decided."""
    now = clock.now()
    with transaction.atomic():
        case_id = DunningMessage.objects.values_list("case_id", flat=True).get(pk=message_id)
        cases_lock([case_id])
        message = (
            DunningMessage.objects.select_for_update(of=("self",))
            .select_related("case")
            .get(pk=message_id)
        )
        if message.status != MessageStatus.UNSURE:
            raise DunningActionRefused(reason="message_not_unsure")
        if resend:
            message.status, message.decision = MessageStatus.PENDING, MessageDecision.RESEND
            message.scheduled_for, message.claimed_at = now, None
        else:
            message.status, message.decision = MessageStatus.SENT, MessageDecision.TREAT_AS_SENT
            message.sent_at = message.claimed_at or now
        message.save(update_fields=["status", "decision", "scheduled_for", "claimed_at", "sent_at"])
        event_build(
            message.case,
            EventKind.MESSAGE_DECIDED,
            message=message,
            at=now,
            decision=message.decision,
            template=message.template,
            channel=message.channel,
            by=str(getattr(user, "username", "") or "staff"),
        ).save()
        cases_reschedule({message.case_id})
    if resend:
        transaction.on_commit(lambda: messages_deliver_soon([message.case_id]))
    return message


# --- Provider tracking (anymail) ---------------------------------------------------------

_TRACKED = {
    "delivered": ("delivered_at", MessageStatus.DELIVERED),
    "opened": ("opened_at", MessageStatus.OPENED),
    "clicked": ("clicked_at", MessageStatus.CLICKED),
    "bounced": ("bounced_at", MessageStatus.BOUNCED),
    "rejected": ("bounced_at", MessageStatus.BOUNCED),
    "failed": ("bounced_at", MessageStatus.BOUNCED),
}
_RANK = {
    MessageStatus.SENT: 1,
    MessageStatus.DELIVERED: 2,
    MessageStatus.OPENED: 3,
    MessageStatus.CLICKED: 4,
}
# The statuses a click moves forward to "clicked".
BEFORE_CLICKED = [status for status, rank in _RANK.items() if rank < _RANK[MessageStatus.CLICKED]]


def message_track(
    *,
    event_type: str,
    message_id: str = "",
    metadata: dict[str, Any] | None = None,
    timestamp: dt.datetime | None = None,
    description: str = "",
) -> DunningMessage | None:
    """Record what the email provider reported about a message (an anymail tracking event).

    The message is found by our id in the metadata, else by the provider's message id.
    Statuses only move forward (sent → delivered → opened → clicked); a bounce is kept
    unless the member already opened or clicked.  Returns the message, or ``None``.
    """
    if event_type not in _TRACKED:
        return None
    our_id = str((metadata or {}).get("dunning_message", ""))
    condition = Q(pk=int(our_id)) if our_id.isdigit() else Q(provider_message_id=message_id)
    if not our_id.isdigit() and not message_id:
        return None
    at = timestamp or clock.now()
    field, status = _TRACKED[event_type]
    with transaction.atomic():
        message = (
            DunningMessage.objects.select_for_update()
            .select_related("case")
            .filter(condition)
            .first()
        )
        if message is None:
            return None
        first_time = getattr(message, field) is None
        if first_time:
            setattr(message, field, at)
        if status == MessageStatus.BOUNCED:
            if _RANK.get(MessageStatus(message.status), 0) < _RANK[MessageStatus.OPENED]:
                message.status = status
        elif _RANK[status] > _RANK.get(MessageStatus(message.status), 0) and message.status != (
            MessageStatus.BOUNCED
        ):
            message.status = status
        message.save(update_fields=[field, "status"])
        if first_time:
            event_build(
                message.case,
                EventKind.MESSAGE_TRACKED,
                message=message,
                at=at,
                event=event_type,
                channel=message.channel,
                description=description[:200],
            ).save()
    return message
