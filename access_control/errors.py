"""Access control's domain errors.  ``reason`` refines each stable ``code``, and each
reason has its own translated message (``DomainError.reason_messages``)."""

from __future__ import annotations

from typing import Any, ClassVar

from django.utils.translation import gettext_lazy as _

from config.errors import DomainError


class CredentialNotAllowed(DomainError):
    """Reasons: ``invalid_value``, ``value_in_use``, ``not_active``, ``kind_mismatch``."""

    code = "credential_not_allowed"
    status = 409
    default_message: ClassVar[Any] = _("This credential cannot be issued or changed.")
    reason_messages: ClassVar[dict[str, Any]] = {
        "invalid_value": _("This is not a valid card number for that kind and format."),
        "value_in_use": _("Another active credential already has the number %(value)s."),
        "not_active": _("This credential is already lost or revoked."),
        "kind_mismatch": _("This credential is not a QR pass."),
    }


class OverrideNotAllowed(DomainError):
    """Reasons: ``reason_required``, ``not_denied``, ``already_overridden``, ``no_permission``."""

    code = "override_not_allowed"
    status = 409
    default_message: ClassVar[Any] = _("This denial cannot be overridden.")
    reason_messages: ClassVar[dict[str, Any]] = {
        "reason_required": _("Say why this member may go in."),
        "not_denied": _("This attempt was not denied."),
        "already_overridden": _("This denial is already overridden."),
        "no_permission": _("You may not let denied members in."),
    }


class DeviceNotAllowed(DomainError):
    """Reasons: ``revoked``."""

    code = "device_not_allowed"
    status = 409
    default_message: ClassVar[Any] = _("This device cannot be changed.")
    reason_messages: ClassVar[dict[str, Any]] = {
        "revoked": _("This device is revoked: it cannot be changed or get a new key."),
    }
