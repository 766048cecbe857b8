"""Access control's domain errors.  ``reason`` refines each stable ``code``."""

from __future__ import annotations

from typing import Any, ClassVar

from django.utils.translation import gettext_lazy as _

from config.errors import DomainError


class CredentialNotAllowed(DomainError):
    """Reasons: ``invalid_value``, ``value_in_use``, ``not_active``, ``kind_mismatch``."""

    code = "credential_not_allowed"
    status = 409
    default_message: ClassVar[Any] = _("This credential cannot be issued or changed.")


class OverrideNotAllowed(DomainError):
    """Reasons: ``reason_required``, ``not_denied``, ``already_overridden``, ``no_permission``."""

    code = "override_not_allowed"
    status = 409
    default_message: ClassVar[Any] = _("This denial cannot be overridden.")


class DeviceNotAllowed(DomainError):
    """Reasons: ``revoked``."""

    code = "device_not_allowed"
    status = 409
    default_message: ClassVar[Any] = _("This device cannot be changed.")
