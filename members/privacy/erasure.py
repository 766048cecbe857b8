"""Erasure: a request (from the portal or the desk), a manager's approval, then every
app's erase handler in the registry's order, in one transaction.

- Who approves: a Manager or an Owner (``members.approve_erasure``); never the staff
  member who recorded the request.
- What stops it (``blockers``): what the member still owes, a household they pay for,
  members they are the guardian of.  The approver sees why and settles it first.
- What is kept: invoices, tax documents and money, unchanged, for the legal retention
  period (``settings.PRIVACY_TAX_RETENTION_YEARS``, 5 under the Revenue Code); the
  retention task (``retention``) anonymises them afterwards.
- The audit trail records the erasure by member number and request, never the erased
  details.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils.translation import gettext as _

from config import clock

from ..audit import _context, acting, privacy_erasure_recorded
from ..audit_models import ActorKind
from ..models import (
    ConsentKind,
    ConsentSource,
    Member,
    PrivacyRequest,
    PrivacyRequestKind,
    PrivacyRequestSource,
    PrivacyRequestStatus,
)
from . import registry
from .members_data import PROFILE_BLANKS

APPROVE_PERMISSION = "members.approve_erasure"

# Reasons an erasure cannot go ahead yet: each callable takes the member and returns
# sentences for the approver (empty: nothing in the way).  Apps add theirs from ``ready``.
blockers: list[Callable[[Member], list[str]]] = []


def register_blocker(function: Callable[[Member], list[str]]) -> None:
    if function not in blockers:
        blockers.append(function)


def erasure_blockers(member: Member) -> list[str]:
    return [reason for check in blockers for reason in check(member)]


@transaction.atomic
def erasure_request(
    member: Member,
    *,
    note: str = "",
    source: str = PrivacyRequestSource.PORTAL,
    requested_by: Any = None,
    ip_address: str | None = None,
) -> PrivacyRequest:
    """Record a request to erase ``member``'s data (the portal's, or the desk's on the
    member's behalf).  Asking again while one is open returns that one."""
    if member.erased_at is not None:
        raise ValidationError(_("This member's data has already been erased."), code="erased")
    if source not in PrivacyRequestSource.values:
        raise ValidationError({"source": _("Unknown source.")}, code="source")
    Member.objects.select_for_update().filter(pk=member.pk).first()
    existing = PrivacyRequest.objects.filter(
        member=member, kind=PrivacyRequestKind.ERASURE, status=PrivacyRequestStatus.OPEN
    ).first()
    if existing is not None:
        return existing
    request = PrivacyRequest(
        member=member,
        kind=PrivacyRequestKind.ERASURE,
        note=(note or "").strip(),
        source=source,
        requested_by=requested_by if getattr(requested_by, "pk", None) else None,
        ip_address=ip_address,
    )
    request.full_clean()
    request.save()
    privacy_erasure_recorded(
        member,
        step="requested",
        after={"status": request.status, "source": source},
        request_id=request.pk,
    )
    return request


def _as_staff(user: Any) -> AbstractContextManager[Any]:
    """Outside a web request (a command, a test), record the approver as the actor."""
    if _context.get() is None and getattr(user, "pk", None):
        return acting(ActorKind.STAFF, user.get_username(), user=user)
    return nullcontext()


def may_approve(user: Any, request: PrivacyRequest) -> bool:
    return bool(
        getattr(user, "is_authenticated", False)
        and user.has_perm(APPROVE_PERMISSION)
        and request.requested_by_id != user.pk
    )


def _check_approver(user: Any, request: PrivacyRequest) -> None:
    if not getattr(user, "is_authenticated", False) or not user.has_perm(APPROVE_PERMISSION):
        raise PermissionDenied(_("Only a manager or the owner can approve an erasure."))
    if request.requested_by_id == user.pk:
        raise PermissionDenied(_("Another manager must approve an erasure you recorded yourself."))


def erasure_approve(request: PrivacyRequest, *, by: Any) -> PrivacyRequest:
    """Approve an open erasure request and erase the member's personal data.

    ``PermissionDenied`` for someone who may not approve it; ``ValidationError`` (nothing
    changed) when the request is not open or something stands in the way."""
    _check_approver(by, request)
    with _as_staff(by), transaction.atomic():
        locked = PrivacyRequest.objects.select_for_update().get(pk=request.pk)
        if locked.kind != PrivacyRequestKind.ERASURE:
            raise ValidationError(_("This is not an erasure request."), code="not_erasure")
        if locked.status != PrivacyRequestStatus.OPEN:
            raise ValidationError(_("This request has already been answered."), code="answered")
        member = Member.objects.select_for_update().get(pk=locked.member_id)
        reasons = erasure_blockers(member)
        if reasons:
            raise ValidationError(reasons, code="blocked")
        counts = member_erase(member, request=locked)
        locked.status = PrivacyRequestStatus.DONE
        locked.handled_at = clock.now()
        locked.handled_by = by
        locked.answer = _("Erased. Invoices and tax documents are kept for the legal period.")
        locked.save(update_fields=["status", "handled_at", "handled_by", "answer"])
        # What changed, by model and row count: never the erased values.
        privacy_erasure_recorded(
            member,
            step="done",
            before={"status": PrivacyRequestStatus.OPEN},
            after={
                "status": locked.status,
                "fields": sorted(["first_name", "last_name", "photo", *PROFILE_BLANKS]),
                "records": counts,
            },
            request_id=locked.pk,
            reason=_("Erasure request #%(id)s approved") % {"id": locked.pk},
        )
    return locked


def erasure_decline(request: PrivacyRequest, *, by: Any, answer: str) -> PrivacyRequest:
    """Decline an erasure request, saying why (the member is told)."""
    _check_approver(by, request)
    with _as_staff(by), transaction.atomic():
        return _decline(request, by=by, answer=answer)


def _decline(request: PrivacyRequest, *, by: Any, answer: str) -> PrivacyRequest:
    answer = (answer or "").strip()
    if not answer:
        raise ValidationError({"answer": _("Say why the request is declined.")}, code="required")
    if len(answer) > 500:
        raise ValidationError({"answer": _("Keep the answer under 500 characters.")})
    locked = PrivacyRequest.objects.select_for_update().get(pk=request.pk)
    if locked.status != PrivacyRequestStatus.OPEN:
        raise ValidationError(_("This request has already been answered."), code="answered")
    locked.status = PrivacyRequestStatus.REFUSED
    locked.handled_at = clock.now()
    locked.handled_by = by
    locked.answer = answer
    locked.full_clean()
    locked.save(update_fields=["status", "handled_at", "handled_by", "answer"])
    privacy_erasure_recorded(
        locked.member_id,
        step="refused",
        before={"status": PrivacyRequestStatus.OPEN},
        after={"status": locked.status},
        request_id=locked.pk,
        reason=answer,
    )
    return locked


def member_erase(member: Member, *, request: PrivacyRequest | None = None) -> dict[str, int]:
    """Run every app's erase handler for ``member`` (in the caller's transaction), the
    member's own profile last.  Returns rows changed per model."""
    from ..services import consent_record

    now = clock.now()
    counts: dict[str, int] = {}
    for policy in registry.erase_order():
        if policy.erase is not None:
            counts[policy.label] = policy.erase(member, now)
    # Marketing consents end with the data they were given for.
    for kind in (ConsentKind.MARKETING_EMAIL, ConsentKind.MARKETING_SMS):
        consent_record(member, kind, granted=False, source=ConsentSource.ERASURE)
    return counts


def tax_retention_cutoff(now: dt.datetime | None = None) -> dt.datetime:
    """Records issued before this are past the legal retention period."""
    from django.conf import settings

    now = now or clock.now()
    years = int(settings.PRIVACY_TAX_RETENTION_YEARS)
    try:
        return now.replace(year=now.year - years)
    except ValueError:  # 29 February
        return now.replace(year=now.year - years, day=28)
