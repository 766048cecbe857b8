"""Domain errors: services raise them, the API and the admin translate them.

Every error has a stable ``code`` (an API contract) and a human-readable, translated
message.  Subclasses set ``code`` and ``status``; ``reason`` refines the code, and a
subclass may give each reason its own message (``reason_messages``, formatted with the
error's ``extra``), so the desk reads what went wrong in its language.
"""

from __future__ import annotations

from typing import Any, ClassVar

from django.utils.translation import gettext_lazy as _


class DomainError(Exception):
    code: ClassVar[str] = "domain_error"
    status: ClassVar[int] = 409
    default_message: ClassVar[Any] = _("The request cannot be carried out.")
    reason_messages: ClassVar[dict[str, Any]] = {}

    def __init__(self, message: str | None = None, *, reason: str | None = None, **extra: Any):
        template = self.reason_messages.get(reason or "")
        if message is None and template is not None:
            message = str(template) % extra if extra else str(template)
        self.message = str(message or self.default_message)
        self.reason = reason
        self.extra = extra
        super().__init__(self.message)

    def as_dict(self) -> dict[str, Any]:
        body: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.reason:
            body["reason"] = self.reason
        if self.extra:
            body["detail"] = {k: str(v) for k, v in self.extra.items()}
        return body


class NotFound(DomainError):
    code = "not_found"
    status = 404
    default_message: ClassVar[Any] = _("Not found.")


class InvalidInput(DomainError):
    """A rule on the input failed; ``fields`` maps field names to messages."""

    code = "invalid"
    status = 400
    default_message: ClassVar[Any] = _("Some fields are not valid.")

    def __init__(self, fields: dict[str, list[str]], message: str | None = None):
        self.fields = fields
        super().__init__(message)

    def as_dict(self) -> dict[str, Any]:
        body = super().as_dict()
        body["fields"] = self.fields
        return body
