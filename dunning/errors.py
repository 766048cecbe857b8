"""Dunning's domain errors.  ``reason`` is a stable code the API and the admin show."""

from __future__ import annotations

from typing import Any, ClassVar

from django.utils.translation import gettext_lazy as _

from billing.messaging.sms.base import SmsSendError as _SmsSendError
from config.errors import DomainError


class DunningActionRefused(DomainError):
    code = "dunning_action_refused"
    default_message: ClassVar[Any] = _("This cannot be done for this dunning case now.")
    reason_messages: ClassVar[dict[str, Any]] = {
        "member_opted_out": _("The member has turned off billing messages on this channel."),
        "no_email_address": _("The member has no email address."),
        "no_phone_number": _("The member has no phone number."),
        "nothing_due": _("Nothing is due on this invoice."),
        "invoice_not_members": _("This invoice is not open on this member's account."),
        "unknown_channel": _("Choose email or SMS."),
        "invalid_request": _("This page has expired; open it again."),
        "message_not_unsure": _(
            "This message is not waiting for a decision (it was sent, or decided already)."
        ),
    }


# The SMS provider refused or could not be reached (the shared sender's error).
SmsSendError = _SmsSendError
