"""Dunning's domain errors.  ``reason`` is a stable code the API and the admin show."""

from __future__ import annotations

from typing import Any, ClassVar

from django.utils.translation import gettext_lazy as _

from config.errors import DomainError


class DunningActionRefused(DomainError):
    code = "dunning_action_refused"
    default_message: ClassVar[Any] = _("This cannot be done for this dunning case now.")


class SmsSendError(Exception):
    """The SMS provider refused or could not be reached; ``code`` is the provider's."""

    def __init__(self, message: str, *, code: str = "") -> None:
        self.code = code
        super().__init__(message)
