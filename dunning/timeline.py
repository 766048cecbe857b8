"""A dunning case's timeline in words, for the desk: each event one sentence, at its local
time, with amounts as money and no ids or raw data.

:func:`timeline_entries` reads a case's events (newest first); :func:`upcoming_entries`
its scheduled retries and messages.  Unknown event kinds (added later) still read: their
label, and whatever plain words their details hold.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import FieldDoesNotExist
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from billing.money import format_amount
from config import clock
from config.dates import format_date

from .models import (
    Channel,
    DeclineCategory,
    DunningCase,
    DunningEvent,
    DunningMessage,
    EventKind,
    LadderStep,
    MessageDecision,
    MessageStatus,
    RecoveryRoute,
    RetryReason,
    RetryStatus,
    ScheduledRetry,
)
from .services.schedule import NEXT_INSTALLMENT, NEXT_MESSAGE, NEXT_RESUME, NEXT_RETRY, NEXT_STEP

# The messages' templates as the desk names them.
TEMPLATE_LABELS = {
    "failed_notice": gettext_lazy("payment failed notice"),
    "reminder": gettext_lazy("reminder"),
    "access_warning": gettext_lazy("access warning"),
    "access_suspended": gettext_lazy("access suspended notice"),
    "final_notice": gettext_lazy("final notice"),
    "friendly_reminder": gettext_lazy("friendly reminder before cancellation"),
    "cancelled": gettext_lazy("cancellation notice"),
    "payment_plan": gettext_lazy("payment plan"),
    "thanks": gettext_lazy("thank-you"),
    "pay_link": gettext_lazy("pay link"),
}
# Why something was not done, as the desk reads it.
SKIP_LABELS = {
    "member_opted_out": gettext_lazy("the member turned these messages off"),
    "no_email_address": gettext_lazy("no email address"),
    "no_phone_number": gettext_lazy("no phone number"),
    "with_collections": gettext_lazy("the case is with collections"),
    "case_closed": gettext_lazy("the case is closed"),
    "no_payment_method": gettext_lazy("no card on file"),
    "card_blocked": gettext_lazy("the card may not be charged again"),
    "recovered": gettext_lazy("already paid"),
    "paid": gettext_lazy("already paid"),
    "asked_with_other_case": gettext_lazy(
        "the member was already asked about this card with another invoice"
    ),
}
ACTION_LABELS = {
    "retry_now": gettext_lazy("retry the card now"),
    "late_fee": gettext_lazy("late fee"),
    "restrictions": gettext_lazy("gate warning and booking limits set"),
}


@dataclass(frozen=True)
class TimelineEntry:
    when: str  # local date and time
    title: str
    text: str
    tone: str = ""  # "good", "warn", "danger"
    who: str = ""  # the staff member, if one did it


def local_time(at: dt.datetime | None) -> str:
    """An instant as the desk reads it: the gym's local date and time, one format."""
    if at is None:
        return "—"
    local = timezone.localtime(at, clock.gym_tz())
    return f"{format_date(local.date(), 'short')} {local:%H:%M}"


def local_date(at: dt.datetime | None) -> str:
    if at is None:
        return "—"
    return format_date(timezone.localtime(at, clock.gym_tz()).date(), "short")


def next_action_label(case: DunningCase) -> str:
    """``DunningCase.next_action`` in words."""
    code, _sep, detail = case.next_action.partition(":")
    labels = {
        NEXT_RETRY: _("Retry the card"),
        NEXT_MESSAGE: _("Send a message"),
        NEXT_RESUME: _("Resume after the promised date"),
    }
    if code == NEXT_STEP:
        return _("Ladder step: %(name)s") % {"name": detail}
    if code == NEXT_INSTALLMENT:
        return _("Charge installment %(number)s") % {"number": detail}
    return str(labels.get(code, "—"))


def _money(case: DunningCase, amount: Any) -> str:
    try:
        return format_amount(int(amount), case.currency)
    except (TypeError, ValueError):
        return str(amount)


def _channel(code: Any) -> str:
    try:
        return str(Channel(code).label)
    except ValueError:
        return str(code or "")


def _template(code: Any) -> str:
    return str(TEMPLATE_LABELS.get(str(code), str(code or "").replace("_", " ")))


def _skip(code: Any) -> str:
    return str(SKIP_LABELS.get(str(code), str(code or "").replace("_", " ")))


def _category(code: Any) -> str:
    try:
        return str(DeclineCategory(code).label)
    except ValueError:
        return str(code or "")


def _action(code: Any) -> str:
    code = str(code or "")
    if code in ACTION_LABELS:
        return str(ACTION_LABELS[code])
    try:
        field = LadderStep._meta.get_field(code)
    except FieldDoesNotExist:
        return code.replace("_", " ")
    return str(getattr(field, "verbose_name", code))


def _times(values: Any) -> str:
    shown = []
    for value in values or []:
        try:
            shown.append(local_time(dt.datetime.fromisoformat(str(value))))
        except ValueError:
            continue
    return ", ".join(shown)


def _sentence(case: DunningCase, event: DunningEvent) -> tuple[str, str]:
    """``(text, tone)`` for one event."""
    d: dict[str, Any] = event.detail or {}
    kind = event.kind
    if kind == EventKind.CASE_OPENED:
        return _("Invoice %(invoice)s of %(amount)s went into dunning.") % {
            "invoice": d.get("invoice", ""),
            "amount": _money(case, d.get("amount", 0)),
        }, "warn"
    if kind in (EventKind.PAYMENT_FAILED, EventKind.MEMBER_PAYMENT_FAILED):
        text = _("Declined: %(category)s (%(code)s).") % {
            "category": _category(d.get("category")),
            "code": d.get("decline_code") or d.get("network_code") or d.get("status") or "—",
        }
        if d.get("card_brand"):
            text += " " + _("Card: %(brand)s.") % {"brand": str(d["card_brand"]).capitalize()}
        return text, "danger"
    if kind == EventKind.RETRY_SCHEDULED:
        return _("Card retries planned: %(times)s.") % {"times": _times(d.get("times"))}, ""
    if kind == EventKind.RETRY_SUBMITTED:
        return _("The card was tried again (invoice %(invoice)s).") % {
            "invoice": d.get("invoice", "")
        }, ""
    if kind in (EventKind.RETRY_SKIPPED, EventKind.RETRY_DEFERRED):
        return _("Retry not made: %(why)s.") % {"why": _skip(d.get("reason"))}, ""
    if kind == EventKind.STEP_FIRED:
        return _("Step “%(step)s” reached on day %(day)s.") % {
            "step": d.get("step", ""),
            "day": d.get("day", ""),
        }, "warn"
    if kind in (EventKind.ACTION_TAKEN, EventKind.ACTION_SKIPPED):
        done = kind == EventKind.ACTION_TAKEN
        template = _("Done: %(action)s.") if done else _("Not possible: %(action)s.")
        return template % {"action": _action(d.get("action"))}, "" if done else "warn"
    if kind in (EventKind.MESSAGE_SCHEDULED, EventKind.MESSAGE_SENT):
        words = {"template": _template(d.get("template")), "channel": _channel(d.get("channel"))}
        if kind == EventKind.MESSAGE_SENT:
            return _("Sent the %(template)s by %(channel)s.") % words, ""
        words["at"] = local_time(_instant(d.get("scheduled_for")))
        return _("Planned the %(template)s by %(channel)s for %(at)s.") % words, ""
    if kind in (EventKind.MESSAGE_SKIPPED, EventKind.MESSAGE_FAILED):
        return _("The %(template)s by %(channel)s was not sent: %(why)s.") % {
            "template": _template(d.get("template")),
            "channel": _channel(d.get("channel")),
            "why": _skip(d.get("reason")) if d.get("reason") else _("the provider refused it"),
        }, "warn"
    if kind == EventKind.MESSAGE_INTERRUPTED:
        return _(
            "Sending the %(template)s by %(channel)s was interrupted and the provider cannot "
            "be asked: resend it or treat it as sent (Dunning messages)."
        ) % {
            "template": _template(d.get("template")),
            "channel": _channel(d.get("channel")),
        }, "warn"
    if kind == EventKind.MESSAGE_DECIDED:
        decision = str(d.get("decision", ""))
        if decision in MessageDecision.values:
            decision = str(MessageDecision(decision).label)
        return _("The interrupted %(template)s by %(channel)s: %(decision)s.") % {
            "template": _template(d.get("template")),
            "channel": _channel(d.get("channel")),
            "decision": decision,
        }, ""
    if kind == EventKind.MESSAGE_TRACKED:
        return _("The member's email: %(event)s.") % {"event": str(d.get("event", ""))}, ""
    if kind == EventKind.LINK_OPENED:
        return _("The member opened the pay link."), "good"
    if kind == EventKind.PAY_LINK_SENT:
        return _("Staff sent the pay link by %(channel)s.") % {
            "channel": _channel(d.get("channel"))
        }, ""
    if kind in (EventKind.MEMBER_PAID, EventKind.PARTIAL_PAYMENT):
        return _("Paid %(amount)s (invoice %(invoice)s).") % {
            "amount": _money(case, d.get("amount", 0)),
            "invoice": d.get("invoice", ""),
        }, "good"
    if kind == EventKind.RECOVERED:
        route = d.get("route", "")
        if route in RecoveryRoute.values:
            route = RecoveryRoute(route).label
        return _("Recovered %(amount)s: %(route)s.") % {
            "amount": _money(case, d.get("amount", 0)),
            "route": route,
        }, "good"
    if kind == EventKind.PAUSED:
        if d.get("until"):
            return _("Paused until %(day)s: %(reason)s") % {
                "day": _day(d.get("until")),
                "reason": d.get("reason") or "—",
            }, ""
        return str(EventKind.PAUSED.label), ""
    if kind == EventKind.METHOD_UPDATED:
        return _("New card on file: %(card)s.") % {"card": d.get("card", "")}, "good"
    if kind == EventKind.LATE_FEE:
        if d.get("paid"):
            return _("The late fee was paid."), "good"
        return _("Late fee of %(amount)s charged.") % {
            "amount": _money(case, d.get("amount", 0))
        }, "warn"
    if kind == EventKind.PLAN_OFFERED:
        return _("Payment plan: %(count)s installments, %(total)s in all.") % {
            "count": d.get("installments", ""),
            "total": d.get("total", ""),
        }, ""
    if kind in (EventKind.INSTALLMENT_PAID, EventKind.PLAN_MISSED):
        return f"{EventKind(kind).label} ({d.get('installment', '')})", ""
    if kind == EventKind.WRITTEN_OFF:
        return _("Written off: %(reason)s") % {"reason": d.get("reason") or "—"}, "danger"
    return _plain_details(d), ""


def _instant(value: Any) -> dt.datetime | None:
    try:
        return dt.datetime.fromisoformat(str(value)) if value else None
    except ValueError:
        return None


def _day(value: Any) -> str:
    try:
        return format_date(dt.date.fromisoformat(str(value)[:10]), "short")
    except ValueError:
        return str(value)


def _plain_details(detail: dict[str, Any]) -> str:
    """Whatever plain words a detail holds: no ids, no nested data."""
    words = [
        str(value)
        for key, value in sorted(detail.items())
        if isinstance(value, str) and value and not key.endswith("id") and len(value) < 80
    ]
    return ", ".join(words)


def timeline_entries(case: DunningCase, limit: int = 200) -> list[TimelineEntry]:
    """The case's events, newest first, in words."""
    events = (
        DunningEvent.objects.filter(case=case)
        .select_related("actor")
        .order_by("-at", "-pk")[:limit]
    )
    entries = []
    for event in events:
        text, tone = _sentence(case, event)
        entries.append(
            TimelineEntry(
                when=local_time(event.at),
                title=event.get_kind_display(),
                text=text,
                tone=tone,
                who=event.actor.get_username() if event.actor else "",
            )
        )
    return entries


def upcoming_entries(case: DunningCase) -> list[TimelineEntry]:
    """What is planned for the case: card retries and messages, soonest first."""
    planned: list[tuple[dt.datetime, TimelineEntry]] = []
    for retry in ScheduledRetry.objects.filter(case=case, status=RetryStatus.PENDING):
        planned.append(
            (
                retry.due_at,
                TimelineEntry(
                    when=local_time(retry.due_at),
                    title=_("Card retry"),
                    text=str(RetryReason(retry.reason).label)
                    if retry.reason in RetryReason.values
                    else "",
                ),
            )
        )
    for message in DunningMessage.objects.filter(case=case, status=MessageStatus.PENDING):
        planned.append(
            (
                message.scheduled_for,
                TimelineEntry(
                    when=local_time(message.scheduled_for),
                    title=_("Message"),
                    text=_("%(template)s by %(channel)s")
                    % {
                        "template": _template(message.template),
                        "channel": _channel(message.channel),
                    },
                ),
            )
        )
    return [entry for _at, entry in sorted(planned, key=lambda item: item[0])]
