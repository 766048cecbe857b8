"""The stable codes of access decisions and warnings, and their messages.

Codes are an API contract: devices and screens branch on them, never on the message.
Messages are short and take no parameters, so a replayed decision reads the same; they
are shown on the reader or the desk, in the member's language.
"""

from __future__ import annotations

from enum import StrEnum

from django.utils import translation
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _


class Reason(StrEnum):
    # Admitted.
    GRANTED = "granted"
    GRANTED_PACK = "granted_pack"  # admitted by a visit pack or day pass
    STAFF_OVERRIDE = "staff_override"
    # Denied, in the order the rules are checked.
    UNKNOWN_CREDENTIAL = "unknown_credential"
    CREDENTIAL_REVOKED = "credential_revoked"
    QR_EXPIRED = "qr_expired"
    NO_MEMBERSHIP = "no_membership"
    MEMBERSHIP_FROZEN = "membership_frozen"
    MEMBERSHIP_SUSPENDED = "membership_suspended"
    MEMBERSHIP_CANCELLED = "membership_cancelled"
    ZONE_NOT_INCLUDED = "zone_not_included"
    OUTSIDE_HOURS = "outside_hours"
    PACK_EXHAUSTED = "pack_exhausted"
    ANTI_PASSBACK = "anti_passback"
    STAFF_STOP = "staff_stop"
    ZONE_FULL = "zone_full"
    # An entry a device decided while offline, without a reason of its own.
    OFFLINE = "offline"


GRANTING = frozenset({Reason.GRANTED, Reason.GRANTED_PACK, Reason.STAFF_OVERRIDE})


class WarningCode(StrEnum):
    GRACE_PERIOD = "grace_period"
    CARD_EXPIRING = "card_expiring"
    MEMBERSHIP_ENDING = "membership_ending"


REASON_MESSAGES: dict[str, Promise] = {
    Reason.GRANTED: _("Welcome!"),
    Reason.GRANTED_PACK: _("Welcome! This visit is on your pack."),
    Reason.STAFF_OVERRIDE: _("Let in by staff."),
    Reason.UNKNOWN_CREDENTIAL: _("Card not recognised. Please see the front desk."),
    Reason.CREDENTIAL_REVOKED: _("This card is no longer valid. Please see the front desk."),
    Reason.QR_EXPIRED: _("This pass code has expired. Open the app to show a fresh one."),
    Reason.NO_MEMBERSHIP: _("No active membership. Please see the front desk."),
    Reason.MEMBERSHIP_FROZEN: _("Your membership is frozen."),
    Reason.MEMBERSHIP_SUSPENDED: _(
        "Your membership is suspended: a payment is overdue. Please see the front desk."
    ),
    Reason.MEMBERSHIP_CANCELLED: _("Your membership has ended."),
    Reason.ZONE_NOT_INCLUDED: _("Your plan does not include this area."),
    Reason.OUTSIDE_HOURS: _("Your plan does not allow entry at this time."),
    Reason.PACK_EXHAUSTED: _("Your visit pack is used up."),
    Reason.ANTI_PASSBACK: _("This pass was just used here. Please see the front desk."),
    Reason.STAFF_STOP: _("Please see the front desk before entering."),
    Reason.ZONE_FULL: _("This area is full. Please try again shortly."),
    Reason.OFFLINE: _("Decided by the device while offline."),
}

WARNING_MESSAGES: dict[str, Promise] = {
    WarningCode.GRACE_PERIOD: _("A payment is overdue. Please settle it at the front desk."),
    WarningCode.CARD_EXPIRING: _("Your card on file expires soon. Please update it."),
    WarningCode.MEMBERSHIP_ENDING: _(
        "Your membership ends soon. Please see the front desk to renew."
    ),
}


# The reasons as the desk's log and filters name them: shorter than the messages.
REASON_LABELS: dict[str, Promise] = {
    Reason.GRANTED: _("Granted"),
    Reason.GRANTED_PACK: _("Granted on a pack"),
    Reason.STAFF_OVERRIDE: _("Let in by staff"),
    Reason.UNKNOWN_CREDENTIAL: _("Unknown card"),
    Reason.CREDENTIAL_REVOKED: _("Card lost or revoked"),
    Reason.QR_EXPIRED: _("Pass code expired"),
    Reason.NO_MEMBERSHIP: _("No membership"),
    Reason.MEMBERSHIP_FROZEN: _("Membership frozen"),
    Reason.MEMBERSHIP_SUSPENDED: _("Membership suspended"),
    Reason.MEMBERSHIP_CANCELLED: _("Membership ended"),
    Reason.ZONE_NOT_INCLUDED: _("Area not in plan"),
    Reason.OUTSIDE_HOURS: _("Outside plan hours"),
    Reason.PACK_EXHAUSTED: _("Pack used up"),
    Reason.ANTI_PASSBACK: _("Anti-passback"),
    Reason.STAFF_STOP: _("Stopped: see staff"),
    Reason.ZONE_FULL: _("Area full"),
    Reason.OFFLINE: _("Decided offline"),
}


# The warnings as the desk reads them (the messages above are the member's).
WARNING_LABELS: dict[str, Promise] = {
    WarningCode.GRACE_PERIOD: _("Payment overdue: let in on grace"),
    WarningCode.CARD_EXPIRING: _("Card on file expires soon"),
    WarningCode.MEMBERSHIP_ENDING: _("Membership ends soon"),
}


def warning_label(code: str) -> str:
    """The desk's short name of the warning ``code`` in the active language."""
    label = WARNING_LABELS.get(code)
    return code if label is None else str(label)


def reason_label(reason: str) -> str:
    """The short name of ``reason`` in the active language (the code if it has none)."""
    label = REASON_LABELS.get(reason)
    return reason if label is None else str(label)


def _render(template: Promise, language: str | None) -> str:
    with translation.override(language or translation.get_language()):
        return str(template)


def reason_message(reason: str, language: str | None) -> str:
    """The short message for ``reason`` in ``language`` (the active language if ``None``)."""
    template = REASON_MESSAGES.get(reason)
    return reason if template is None else _render(template, language)


def warning_message(code: str, language: str | None) -> str:
    """The short message for the warning ``code`` in ``language``."""
    template = WARNING_MESSAGES.get(code)
    return code if template is None else _render(template, language)
