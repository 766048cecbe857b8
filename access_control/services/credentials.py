"""Credentials: issuing, losing, revoking and replacing them, and the member's QR pass."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db import IntegrityError, transaction
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from config import clock
from members.audit import audit_record
from members.models import Member

from ..credentials import (
    CredentialValueError,
    normalize_credential,
    qr_new_public_id,
    qr_token,
)
from ..errors import CredentialNotAllowed
from ..models import Credential, CredentialFormat, CredentialKind, CredentialStatus

# What the desk reads when a typed number is refused, for each kind and RFID format: the
# normaliser's own words are for developers, in English (kept as ``problem`` for the API).
_INVALID_RFID: dict[str, Promise] = {
    CredentialFormat.AUTO: _(
        "This is not a card number. Type it as the card or the reader shows it, e.g. "
        "04:A1:B2:C3 or 123:45678; for a number of digits only, choose its format."
    ),
    CredentialFormat.HEX: _(
        "This is not a card UID in hexadecimal: 6 to 20 hex digits, an even number."
    ),
    CredentialFormat.WIEGAND26: _(
        "This is not a Wiegand-26 number: facility 0-255 and card 0-65535 "
        "(123:45678), or one decimal number up to 16777215."
    ),
    CredentialFormat.WIEGAND34: _(
        "This is not a Wiegand-34 number: one decimal number up to 4294967295."
    ),
}
_INVALID_BARCODE = _("This is not a barcode: 1 to 64 printable characters, without spaces.")


def _staff(user: Any) -> Any:
    return user if getattr(user, "is_authenticated", False) else None


def _invalid_value(
    kind: str, input_format: str, problem: CredentialValueError
) -> CredentialNotAllowed:
    if kind == CredentialKind.RFID:
        message = _INVALID_RFID.get(input_format)
    elif kind == CredentialKind.BARCODE:
        message = _INVALID_BARCODE
    else:
        message = None  # the reason's own message
    return CredentialNotAllowed(
        None if message is None else str(message), reason="invalid_value", problem=str(problem)
    )


@transaction.atomic
def credential_issue(
    member: Member,
    *,
    kind: str,
    value: str = "",
    input_format: str = CredentialFormat.AUTO,
    label: str = "",
    issued_by: Any = None,
) -> Credential:
    """Give ``member`` a credential.  RFID values are normalised (see
    ``access_control.credentials``); a QR pass gets a fresh random id and ``value`` is
    ignored.  An active credential of the same kind and value refuses the new one."""
    if kind == CredentialKind.QR:
        stored = qr_new_public_id()
    else:
        try:
            stored = normalize_credential(kind, value, input_format)
        except CredentialValueError as exc:
            raise _invalid_value(kind, input_format, exc) from exc
    if Credential.objects.filter(kind=kind, value=stored, status=CredentialStatus.ACTIVE).exists():
        raise CredentialNotAllowed(reason="value_in_use", value=stored)
    credential = Credential(
        member=member,
        kind=kind,
        value=stored,
        label=label[:80],
        issued_at=clock.now(),
        issued_by=_staff(issued_by),
    )
    try:
        with transaction.atomic():
            credential.save()
    except IntegrityError as exc:  # issued elsewhere a moment ago
        raise CredentialNotAllowed(reason="value_in_use", value=stored) from exc
    audit_record(
        "credential.issue",
        credential,
        subject_label=_credential_label(credential),
        member=member,
        after=_credential_state(credential),
        actor=issued_by,
    )
    return credential


def _credential_state(credential: Credential) -> dict[str, Any]:
    """A credential as the trail keeps it.  Never its value: a QR pass's id is a secret,
    and a card's number would let an erased member be found in a trail that can't be
    anonymised (the trail names the credential by id; its row keeps the value)."""
    return {"kind": credential.kind, "label": credential.label, "status": credential.status}


def _credential_label(credential: Credential) -> str:
    return f"{credential.get_kind_display()} #{credential.pk}"


@transaction.atomic
def credential_revoke(credential: Credential, *, lost: bool = False) -> Credential:
    """Switch a credential off at once: ``lost`` for a lost card, else ``revoked``.

    Revoking an already inactive credential changes nothing.
    """
    locked = Credential.objects.select_for_update().get(pk=credential.pk)
    if locked.status == CredentialStatus.ACTIVE:
        locked.status = CredentialStatus.LOST if lost else CredentialStatus.REVOKED
        locked.revoked_at = clock.now()
        locked.save(update_fields=["status", "revoked_at", "updated_at"])
        audit_record(
            "credential.revoke",
            locked,
            subject_label=_credential_label(locked),
            member=locked.member_id,
            before={"status": CredentialStatus.ACTIVE, "revoked_at": None},
            after={"status": locked.status, "revoked_at": locked.revoked_at},
        )
    credential.status, credential.revoked_at = locked.status, locked.revoked_at
    return locked


@transaction.atomic
def credential_replace(
    credential: Credential,
    *,
    value: str = "",
    input_format: str = CredentialFormat.AUTO,
    kind: str | None = None,
    label: str = "",
    issued_by: Any = None,
) -> Credential:
    """A lost card: mark it lost and issue the member a new one, in one step.

    Only an active credential is replaced (``not_active`` otherwise): replacing a card
    twice, or two clicks at once, must not leave the member with two new ones.
    """
    locked = Credential.objects.select_for_update().get(pk=credential.pk)
    if locked.status != CredentialStatus.ACTIVE:
        raise CredentialNotAllowed(reason="not_active")
    lost = credential_revoke(locked, lost=True)
    new = credential_issue(
        lost.member,
        kind=kind or lost.kind,
        value=value,
        input_format=input_format,
        label=label or lost.label,
        issued_by=issued_by,
    )
    credential.status, credential.revoked_at = lost.status, lost.revoked_at
    return new


def qr_pass_current(credential: Credential, at: dt.datetime | None = None) -> str:
    """The text the member's QR pass shows now (it changes every ``ACCESS_QR_STEP_SECONDS``)."""
    if credential.kind != CredentialKind.QR:
        raise CredentialNotAllowed(reason="kind_mismatch")
    if credential.status != CredentialStatus.ACTIVE:
        raise CredentialNotAllowed(reason="not_active")
    return qr_token(credential.value, at or clock.now())


@transaction.atomic
def member_qr_pass(member: Member) -> Credential:
    """The member's QR pass, for the portal: their active one, or a new one on first need
    (one per member; the member's lock keeps two phones opening the pass at once from
    making two)."""
    Member.objects.select_for_update().filter(pk=member.pk).first()
    existing = (
        Credential.objects.filter(
            member=member, kind=CredentialKind.QR, status=CredentialStatus.ACTIVE
        )
        .order_by("-issued_at", "-pk")
        .first()
    )
    return existing or credential_issue(member, kind=CredentialKind.QR, label="Portal")
