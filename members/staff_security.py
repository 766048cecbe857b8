"""Staff sign-in security: who needs a second factor, setting one up, recovery codes and
an owner's reset.  Every change is recorded (``StaffSecurityEvent``).

The second factor is a TOTP app (django-otp's ``TOTPDevice``) with one-time recovery codes
(``members.models.RecoveryCodes``: each code works once, and only its keyed hash is
stored).  Managers and owners (and superusers) always
need one; the front desk when ``STAFF_2FA_FRONT_DESK`` is on; anyone who set one up
uses it.
"""

from __future__ import annotations

import secrets
from typing import Any

from django.conf import settings
from django.db import transaction
from django_otp.plugins.otp_totp.models import TOTPDevice

from config.keyed_hash import keyed_digest

from . import roles
from .audit import audit_record
from .models import (
    RECOVERY_CODE_PURPOSE,
    RecoveryCode,
    RecoveryCodes,
    StaffSecurityEvent,
    StaffSecurityKind,
    normalise_recovery_code,
)

TOTP_NAME = "Authenticator app"
RECOVERY_NAME = "Recovery codes"


def needs_second_factor(user: Any) -> bool:
    """Whether ``user`` may only reach the admin after a second factor."""
    if not getattr(user, "is_authenticated", False) or not user.is_staff:
        return False
    if user.is_superuser or has_second_factor(user):
        return True
    names = set(user.groups.values_list("name", flat=True))
    if names & {roles.MANAGER, roles.OWNER}:
        return True
    return bool(settings.STAFF_2FA_FRONT_DESK)


def has_second_factor(user: Any) -> bool:
    return TOTPDevice.objects.filter(user=user, confirmed=True).exists()


def pending_totp(user: Any) -> TOTPDevice:
    """The unconfirmed authenticator being set up (a new secret each time none is)."""
    device = TOTPDevice.objects.filter(user=user, confirmed=False).first()
    if device is None:
        device = TOTPDevice.objects.create(user=user, name=TOTP_NAME, confirmed=False)
    return device


@transaction.atomic
def second_factor_enrol(user: Any, token: str, *, ip: str | None = None) -> list[str] | None:
    """Confirm the pending authenticator with a code from it; on success, new recovery
    codes (shown once) replace any old ones.  ``None`` if the code is wrong."""
    device = pending_totp(user)
    if not device.verify_token(token):
        return None
    TOTPDevice.objects.filter(user=user, confirmed=True).exclude(pk=device.pk).delete()
    device.confirmed = True
    device.save(update_fields=["confirmed"])
    StaffSecurityEvent.objects.create(
        user=user, kind=StaffSecurityKind.SECOND_FACTOR_ENROLLED, actor=user, ip_address=ip
    )
    return recovery_codes_issue(user)


def recovery_codes_issue(user: Any) -> list[str]:
    """New one-time recovery codes; the old ones stop working.  The caller shows them
    once, now: no screen shows them again."""
    device, _created = RecoveryCodes.objects.get_or_create(
        user=user, name=RECOVERY_NAME, defaults={"confirmed": True}
    )
    device.codes.all().delete()
    codes = [
        f"{secrets.token_hex(3)}-{secrets.token_hex(3)}"
        for _i in range(settings.STAFF_RECOVERY_CODES)
    ]
    RecoveryCode.objects.bulk_create(
        [
            RecoveryCode(
                device=device,
                digest=keyed_digest(RECOVERY_CODE_PURPOSE, normalise_recovery_code(code)),
            )
            for code in codes
        ]
    )
    return codes


def recovery_code_used(user: Any, *, ip: str | None = None) -> None:
    StaffSecurityEvent.objects.create(
        user=user, kind=StaffSecurityKind.RECOVERY_CODE_USED, actor=user, ip_address=ip
    )


@transaction.atomic
def second_factor_reset(user: Any, *, actor: Any, ip: str | None = None) -> None:
    """An owner clears a staff member's authenticator and recovery codes (a lost phone):
    they set up a new one at their next sign-in.  Recorded with who did it."""
    TOTPDevice.objects.filter(user=user).delete()
    RecoveryCodes.objects.filter(user=user).delete()
    StaffSecurityEvent.objects.create(
        user=user, kind=StaffSecurityKind.SECOND_FACTOR_RESET, actor=actor, ip_address=ip
    )
    audit_record(
        "staff.second_factor_reset",
        user,
        subject_type="auth.user",
        before={"second_factor": True},
        after={"second_factor": False},
        actor=actor,
    )
