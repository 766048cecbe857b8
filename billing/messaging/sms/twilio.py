"""Twilio's Programmable Messaging REST API, over the standard library's HTTP client.

``POST https://api.twilio.com/2010-04-01/Accounts/{sid}/Messages.json`` with HTTP basic
auth (account SID and auth token) and a form body (``To``, ``From`` or
``MessagingServiceSid``, ``Body``).  Configured by ``TWILIO_ACCOUNT_SID``,
``TWILIO_AUTH_TOKEN`` and ``TWILIO_FROM_NUMBER`` (or ``TWILIO_MESSAGING_SERVICE_SID``).

The HTTP opener is injectable, so tests exercise the exchange without a network.  The
auth token never appears in errors or logs.
"""

from __future__ import annotations

import base64
import json
import urllib.error
import urllib.parse
import urllib.request
from typing import Any, Protocol, cast

from django.conf import settings

from .base import SmsMessage, SmsResult, SmsSendError

API_BASE = "https://api.twilio.com/2010-04-01"
TIMEOUT_SECONDS = 10


class Opener(Protocol):
    def open(self, request: urllib.request.Request, timeout: float = ...) -> Any: ...


class TwilioSmsBackend:
    def __init__(
        self,
        *,
        account_sid: str | None = None,
        auth_token: str | None = None,
        from_number: str | None = None,
        messaging_service_sid: str | None = None,
        status_callback: str | None = None,
        opener: Opener | None = None,
    ) -> None:
        self.account_sid = account_sid or str(getattr(settings, "TWILIO_ACCOUNT_SID", ""))
        self.auth_token = auth_token or str(getattr(settings, "TWILIO_AUTH_TOKEN", ""))
        self.from_number = from_number or str(getattr(settings, "TWILIO_FROM_NUMBER", ""))
        self.messaging_service_sid = messaging_service_sid or str(
            getattr(settings, "TWILIO_MESSAGING_SERVICE_SID", "")
        )
        self.status_callback = status_callback or str(
            getattr(settings, "TWILIO_STATUS_CALLBACK_URL", "")
        )
        self.opener: Opener = opener or cast(Opener, urllib.request.build_opener())

    def _request(self, message: SmsMessage) -> urllib.request.Request:
        if not (self.account_sid and self.auth_token):
            raise SmsSendError("Twilio is not configured (TWILIO_ACCOUNT_SID/AUTH_TOKEN).")
        if not (self.from_number or self.messaging_service_sid):
            raise SmsSendError("Twilio needs TWILIO_FROM_NUMBER or a messaging service SID.")
        form = {"To": message.to, "Body": message.body}
        if self.messaging_service_sid:
            form["MessagingServiceSid"] = self.messaging_service_sid
        else:
            form["From"] = self.from_number
        if self.status_callback:
            form["StatusCallback"] = self.status_callback
        sid = urllib.parse.quote(self.account_sid, safe="")
        credentials = base64.b64encode(f"{self.account_sid}:{self.auth_token}".encode()).decode()
        return urllib.request.Request(  # noqa: S310 - a fixed https URL
            f"{API_BASE}/Accounts/{sid}/Messages.json",
            data=urllib.parse.urlencode(form).encode(),
            headers={
                "Authorization": f"Basic {credentials}",
                "Content-Type": "application/x-www-form-urlencoded",
                "Accept": "application/json",
            },
            method="POST",
        )

    def send(self, message: SmsMessage) -> SmsResult:
        request = self._request(message)
        try:
            with self.opener.open(request, timeout=TIMEOUT_SECONDS) as response:
                body = json.loads(response.read().decode() or "{}")
        except urllib.error.HTTPError as exc:
            detail = _error_detail(exc)
            raise SmsSendError(
                f"Twilio refused the message ({exc.code}): {detail.get('message', '')}"[:300],
                code=str(detail.get("code", exc.code)),
            ) from None
        except (urllib.error.URLError, TimeoutError, OSError) as exc:
            raise SmsSendError(f"Twilio could not be reached: {type(exc).__name__}") from None
        except ValueError:
            raise SmsSendError("Twilio answered with something that is not JSON.") from None
        message_id = str(body.get("sid", ""))
        if not message_id:
            raise SmsSendError("Twilio did not return a message SID.")
        return SmsResult(message_id=message_id, status=str(body.get("status", "queued")))


def _error_detail(exc: urllib.error.HTTPError) -> dict[str, Any]:
    try:
        data = json.loads(exc.read().decode() or "{}")
    except (ValueError, OSError):
        return {}
    return data if isinstance(data, dict) else {}
