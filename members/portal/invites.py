"""The desk's "send portal invite": a signed link that lets a member set a password.

Modelled on ``django.contrib.auth.tokens`` under a salt of its own: the token is signed
with ``SECRET_KEY``, carries the time it was made (the one clock), is good for
``PORTAL_INVITE_MAX_AGE_DAYS`` and stops working once the member has set a password or
signed in (both change what it was made from).
"""

from __future__ import annotations

import datetime as dt
from enum import Enum
from typing import Any

from django.conf import settings
from django.contrib.auth.tokens import PasswordResetTokenGenerator
from django.utils.crypto import constant_time_compare
from django.utils.encoding import force_bytes, force_str
from django.utils.http import base36_to_int, urlsafe_base64_decode, urlsafe_base64_encode

from config import clock


class InviteCheck(Enum):
    OK = "ok"
    EXPIRED = "expired"
    INVALID = "invalid"


class InviteTokenGenerator(PasswordResetTokenGenerator):
    key_salt = "members.portal.invite.v1"

    def _now(self) -> dt.datetime:
        return clock.now().astimezone(dt.UTC).replace(tzinfo=None)

    def check(self, user: Any, token: str) -> InviteCheck:
        try:
            ts_b36, _hash = token.split("-")
            ts = base36_to_int(ts_b36)
        except ValueError:
            return InviteCheck.INVALID
        for secret in [self.secret, *self.secret_fallbacks]:
            if constant_time_compare(self._make_token_with_timestamp(user, ts, secret), token):
                break
        else:
            return InviteCheck.INVALID
        max_age = int(settings.PORTAL_INVITE_MAX_AGE_DAYS) * 86400
        if self._num_seconds(self._now()) - ts > max_age:
            return InviteCheck.EXPIRED
        return InviteCheck.OK


invite_tokens = InviteTokenGenerator()


def invite_path_parts(user: Any) -> tuple[str, str]:
    """``(uid, token)`` for the invite page's URL."""
    return urlsafe_base64_encode(force_bytes(user.pk)), invite_tokens.make_token(user)


def invite_user_id(uid: str) -> int | None:
    try:
        return int(force_str(urlsafe_base64_decode(uid)))
    except (TypeError, ValueError, OverflowError):
        return None
