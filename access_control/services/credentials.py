"""Credentials: issuing, losing, revoking and replacing them, and the member's QR pass."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db import IntegrityError, transaction

from config import clock
from members.models import Member

from ..credentials import (
    CredentialValueError,
    normalize_credential,
    qr_new_public_id,
    qr_token,
)
from ..errors import CredentialNotAllowed
from ..models import Credential, CredentialFormat, CredentialKind, CredentialStatus


def _staff(user: Any) -> Any:
    return user if getattr(user, "is_authenticated", False) else None


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
            raise CredentialNotAllowed(str(exc), reason="invalid_value") from exc
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
    return credential


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
    """A lost card: mark it lost and issue the member a new one, in one step."""
    lost = credential_revoke(credential, lost=True)
    return credential_issue(
        lost.member,
        kind=kind or lost.kind,
        value=value,
        input_format=input_format,
        label=label or lost.label,
        issued_by=issued_by,
    )


def qr_pass_current(credential: Credential, at: dt.datetime | None = None) -> str:
    """The text the member's QR pass shows now (it changes every ``ACCESS_QR_STEP_SECONDS``)."""
    if credential.kind != CredentialKind.QR:
        raise CredentialNotAllowed(reason="kind_mismatch")
    if credential.status != CredentialStatus.ACTIVE:
        raise CredentialNotAllowed(reason="not_active")
    return qr_token(credential.value, at or clock.now())
