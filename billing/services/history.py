"""A membership's history: its own events (``MembershipEvent``, for its screen), each
also written to the audit trail in the same transaction (``docs/audit.md``)."""

from __future__ import annotations

from collections.abc import Sequence

from members.audit import Entry, audit_records

from ..models import MembershipEvent


def membership_events_save(events: Sequence[MembershipEvent]) -> None:
    """Save the events and their audit records (one insert each for a batch)."""
    if not events:
        return
    if len(events) == 1:
        events[0].save()
    else:
        MembershipEvent.objects.bulk_create(list(events))
    membership_events_audit(events)


def membership_events_audit(events: Sequence[MembershipEvent]) -> None:
    """The events' audit records (one insert), for events the caller inserted itself (the
    set-based paths: past due, settled, dunning's levers)."""
    if not events:
        return
    audit_records(
        [
            Entry(
                action=f"membership.{event.kind}",
                subject_type="billing.membership",
                subject_id=event.membership_id,
                subject_label=f"#{event.membership_id}",
                member=event.membership.member_id,
                before={"status": event.from_status} if event.from_status else {},
                after={"status": event.to_status, **event.detail}
                if event.to_status
                else dict(event.detail),
                reason=str(event.detail.get("reason", "")),
                actor=event.actor,
            )
            for event in events
        ]
    )
