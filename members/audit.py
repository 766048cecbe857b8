"""Recording to the audit trail (``members.audit_models.AuditRecord``).

Services call ``audit_record`` inside the transaction that makes the change, so the record
and the change commit or roll back together.  Who acted comes from the context: the web
request being served (``config.middleware.AuditContextMiddleware``: staff, an API key or a
member, with the request id and address), or what a job, webhook or device handler
declared with ``acting``; ``system`` otherwise.  See ``docs/audit.md``.

The chain is serialised by a transaction-level advisory lock: a writer holds it from
reading the last hash until its transaction commits, so no two records share a
predecessor.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.db import connection, models, transaction

from config import clock

from .audit_models import GENESIS, ActorKind, AuditRecord

# pg_advisory_xact_lock key for the chain's head ("audit" in ASCII).
CHAIN_LOCK = 0x6175646974


@dataclass(frozen=True)
class Actor:
    kind: str
    label: str = ""
    user_id: int | None = None


@dataclass
class AuditContext:
    actor: Actor | None = None
    request: Any = None
    request_id: str = ""
    ip: str | None = None


_context: ContextVar[AuditContext | None] = ContextVar("audit_context", default=None)


@contextmanager
def acting(
    kind: str, label: str = "", *, user: Any = None, request_id: str = ""
) -> Iterator[AuditContext]:
    """Record what happens inside as done by this actor (a job, a webhook, a device)."""
    outer = _context.get()
    ctx = AuditContext(
        actor=Actor(kind, label or str(user or kind), getattr(user, "pk", None)),
        request_id=request_id or (outer.request_id if outer else ""),
        ip=outer.ip if outer else None,
    )
    token = _context.set(ctx)
    try:
        yield ctx
    finally:
        _context.reset(token)


@contextmanager
def as_job(name: str) -> Iterator[AuditContext | None]:
    """A scheduled job (a Celery task, a management command run by the scheduler): what it
    changes is recorded as done by the job ``name``.  Inside a web request (a task run
    eagerly, a command called from a view) the request's actor stands: they caused it."""
    if _context.get() is not None:
        yield _context.get()
        return
    with acting(ActorKind.JOB, name) as ctx:
        yield ctx


@contextmanager
def serving(request: Any, request_id: str = "") -> Iterator[AuditContext]:
    """The context of a web request: the actor is read from ``request.user`` when a
    record is written (authentication may happen late, as DRF's does)."""
    ctx = AuditContext(
        request=request,
        request_id=request_id or uuid.uuid4().hex,
        ip=request.META.get("REMOTE_ADDR") or None,
    )
    token = _context.set(ctx)
    try:
        yield ctx
    finally:
        _context.reset(token)


def actor_for_user(user: Any, auth: Any = None) -> Actor:
    if user is None or not getattr(user, "is_authenticated", False):
        # A device signs in with its own key (DRF's ``request.auth``), not an account.
        device = getattr(auth, "audit_device_label", None)
        if device:
            return Actor(ActorKind.DEVICE, str(device))
        return Actor(ActorKind.SYSTEM, "system")
    key = getattr(user, "api_key_scopes", None)
    if key is not None:
        return Actor(ActorKind.API_KEY, f"API key {user.first_name}", user.pk)
    if getattr(user, "is_staff", False):
        return Actor(ActorKind.STAFF, user.get_username(), user.pk)
    return Actor(ActorKind.MEMBER, user.get_username(), user.pk)


def _current_actor(ctx: AuditContext | None, explicit: Any) -> Actor:
    if isinstance(explicit, Actor):
        return explicit
    if explicit is not None and getattr(explicit, "is_authenticated", False):
        return actor_for_user(explicit)
    if ctx is None:
        return Actor(ActorKind.SYSTEM, "system")
    if ctx.actor is not None:
        return ctx.actor
    request = ctx.request
    return actor_for_user(getattr(request, "user", None), getattr(request, "auth", None))


def jsonable(value: Any) -> Any:
    """A value as the trail keeps it: JSON types, dates and decimals as text, records by id."""
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float | Decimal | dt.date | dt.datetime | dt.time | uuid.UUID):
        return str(value)
    if isinstance(value, models.Model):
        return value.pk
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [jsonable(v) for v in value]
    return str(value)


def snapshot(obj: models.Model, fields: list[str]) -> dict[str, Any]:
    """The named fields' values of ``obj`` (foreign keys by id)."""
    out = {}
    for name in fields:
        field = obj._meta.get_field(name)
        attname = getattr(field, "attname", name)
        out[name] = jsonable(getattr(obj, attname))
    return out


def changed(before: dict[str, Any], after: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """Only what differs, before and after."""
    keys = [k for k in after if before.get(k) != after.get(k)]
    return {k: before.get(k) for k in keys}, {k: after[k] for k in keys}


def _lock_chain() -> None:
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [CHAIN_LOCK])


@dataclass
class Entry:
    """One record to append with ``audit_records`` (the batch form of ``audit_record``)."""

    action: str
    subject_type: str
    subject_id: Any
    subject_label: str = ""
    member: Any = None
    before: Mapping[str, Any] | None = None
    after: Mapping[str, Any] | None = None
    reason: str = ""
    actor: Any = None


def audit_records(entries: list[Entry]) -> list[AuditRecord]:
    """Append several records in one insert, in the caller's transaction (the billing
    run's batches), chained in order."""
    if not entries:
        return []
    ctx = _context.get()
    with transaction.atomic():
        _lock_chain()
        previous = AuditRecord.objects.order_by("-id").values_list("hash", flat=True).first()
        previous = previous or GENESIS
        records = []
        now = clock.now()
        for entry in entries:
            record = _build(ctx, entry, now, previous)
            previous = record.hash
            records.append(record)
        return AuditRecord.objects.bulk_create(records)


def _without_names(label: str, member: Any) -> str:
    """The trail outlives an erasure and is never rewritten, so it names a member by their
    number, never by their name: "Somchai Jaidee (#1042) — Gold" is kept as "#1042 — Gold"."""
    number = getattr(member, "member_number", None)
    names = [getattr(member, "full_name", ""), getattr(member, "first_name", "")]
    if number is None:
        return label
    label = label.replace(f"{names[0]} (#{number})", f"#{number}") if names[0] else label
    for name in names:
        if name and len(name) > 1:
            label = label.replace(name, f"#{number}")
    return label


def _build(ctx: AuditContext | None, entry: Entry, at: dt.datetime, previous: str) -> AuditRecord:
    who = _current_actor(ctx, entry.actor)
    record = AuditRecord(
        at=at,
        actor_kind=who.kind,
        actor_user_id=who.user_id,
        actor_label=who.label[:200],
        action=entry.action,
        subject_type=entry.subject_type,
        subject_id=str(entry.subject_id),
        subject_label=_without_names(entry.subject_label, entry.member)[:200],
        member_id=getattr(entry.member, "pk", entry.member),
        before=jsonable(dict(entry.before or {})),
        after=jsonable(dict(entry.after or {})),
        reason=entry.reason,
        request_id=ctx.request_id if ctx else "",
        ip_address=ctx.ip if ctx else None,
        prev_hash=previous,
    )
    record.hash = record.compute_hash()
    return record


def audit_record(
    action: str,
    subject: models.Model | None = None,
    *,
    subject_type: str = "",
    subject_id: Any = "",
    subject_label: str = "",
    member: Any = None,
    before: Mapping[str, Any] | None = None,
    after: Mapping[str, Any] | None = None,
    reason: str = "",
    actor: Any = None,
) -> AuditRecord:
    """Append one record to the trail, in the caller's transaction."""
    if subject is not None:
        subject_type = subject_type or subject._meta.label_lower
        subject_id = subject_id or subject.pk
        subject_label = subject_label or str(subject)
        if member is None and hasattr(subject, "member_number"):
            member = subject  # a record about a member is one of theirs
    entry = Entry(
        action, subject_type, subject_id, subject_label, member, before, after, reason, actor
    )
    return audit_records([entry])[0]


@dataclass
class ChainReport:
    checked: int
    broken_at: int | None = None
    problem: str = ""


def chain_verify(*, progress: Any = None, every: int = 10_000) -> ChainReport:
    """Recompute every record's hash in order; the first record that doesn't match (or
    doesn't follow its predecessor) is where the chain was tampered with."""
    previous = GENESIS
    checked = 0
    for record in AuditRecord.objects.order_by("id").iterator(chunk_size=2000):
        if record.prev_hash != previous:
            return ChainReport(checked, record.pk, "does not follow the record before it")
        if record.compute_hash() != record.hash:
            return ChainReport(checked, record.pk, "was changed after it was written")
        previous = record.hash
        checked += 1
        if progress is not None and checked % every == 0:
            progress(checked)
    return ChainReport(checked)


# --- Records of edits made on the admin's own forms ------------------------------------
#
# Catalogue items (plans, add-ons, packs, coupons), dunning policies and staff accounts
# are edited on the admin's forms, whose save is the only path: ``AuditedAdminMixin``
# (``members.audit_admin``) calls these with the state read before the form's save and
# the state after it (and after its many-to-many fields and inlines).


def model_state(obj: models.Model, extra: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Every concrete field's value (foreign keys by id), plus ``extra`` (related rows a
    form edits with the record: groups, permissions, inlines)."""
    state = {
        field.name: jsonable(getattr(obj, field.attname))
        for field in obj._meta.concrete_fields
        if not field.primary_key and field.name not in _NEVER_RECORDED
    }
    state.update(jsonable(dict(extra or {})))
    return state


# Secrets and bookkeeping: never in the trail (a password hash is a secret; the rest
# changes on every save and says nothing).
_NEVER_RECORDED = frozenset({"password", "last_login", "updated_at", "modified_at"})


def _model_action(obj: models.Model, verb: str) -> str:
    return f"{obj._meta.model_name}.{verb}"[:60]


def model_change_record(
    obj: models.Model,
    before: Mapping[str, Any] | None,
    after: Mapping[str, Any],
    *,
    reason: str = "",
    member: Any = None,
) -> AuditRecord | None:
    """Record ``obj`` made (``before`` None: every value after) or changed (only the fields
    that differ; nothing when nothing did)."""
    if before is None:
        return audit_record(
            _model_action(obj, "create"), obj, member=member, after=after, reason=reason
        )
    old, new = changed(dict(before), dict(after))
    if not old and not new:
        return None
    return audit_record(
        _model_action(obj, "change"), obj, member=member, before=old, after=new, reason=reason
    )


def model_delete_record(
    obj: models.Model, before: Mapping[str, Any], *, reason: str = "", member: Any = None
) -> AuditRecord:
    """Record ``obj`` deleted, with every value it had."""
    return audit_record(
        _model_action(obj, "delete"), obj, member=member, before=before, reason=reason
    )


# --- Data protection: copies and erasures ----------------------------------------------


def privacy_export_recorded(
    member: Any, *, files: Mapping[str, int] | None = None, request_id: Any = None, reason: str = ""
) -> AuditRecord:
    """Record that a copy of ``member``'s data was made (``member.export``): call it in the
    transaction that produces the export.  ``files``: each file's row count, as produced
    (never the data itself); ``request_id``: the privacy request answered, if any."""
    after: dict[str, Any] = {"files": dict(files or {})}
    if request_id is not None:
        after["privacy_request"] = request_id
    return audit_record(
        "member.export",
        subject_type="members.member",
        subject_id=getattr(member, "pk", member),
        subject_label=f"#{getattr(member, 'pk', member)}",
        member=member,
        after=after,
        reason=reason,
    )


def privacy_erasure_recorded(
    member: Any,
    *,
    step: str,
    before: Mapping[str, Any] | None = None,
    after: Mapping[str, Any] | None = None,
    request_id: Any = None,
    reason: str = "",
) -> AuditRecord:
    """Record a step of an erasure (``member.erasure_<step>``: ``requested``, ``approved``,
    ``refused``, ``done``, ``retention_done``) in its transaction.  ``before``/``after``: the
    request's status, and for ``done`` which fields were anonymised (names of fields, never
    the personal data erased: the trail must not keep what the member asked to remove)."""
    after = dict(after or {})
    if request_id is not None:
        after.setdefault("privacy_request", request_id)
    return audit_record(
        f"member.erasure_{step}"[:60],
        subject_type="members.member",
        subject_id=getattr(member, "pk", member),
        subject_label=f"#{getattr(member, 'pk', member)}",
        member=member,
        before=before,
        after=after,
        reason=reason,
    )
