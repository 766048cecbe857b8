"""Signed, expiring "update your card and pay" links, scoped to one member and invoice.

Modelled on ``django.contrib.auth.tokens``: the token carries the member, the invoice
and the message it was sent in, signed with ``SECRET_KEY`` under a salt of its own and
stamped by the one clock.  It opens the hosted page without a password for
``DUNNING_LINK_MAX_AGE_DAYS`` (14 by default) and nothing else.
"""

from __future__ import annotations

import datetime as dt
import functools
from dataclasses import dataclass

from django.conf import settings
from django.core import signing
from django.urls import get_script_prefix, get_urlconf, reverse

from config import clock

from . import conf

SALT = "dunning.pay-link.v1"
# Stands for the token while the page's path is reversed once (tokens need no quoting).
_TOKEN_MARK = "0token0"


class LinkInvalid(Exception):
    """The token was not made by us or was altered."""


class LinkExpired(Exception):
    """The token is genuine but older than the maximum age."""


@dataclass(frozen=True)
class PayLink:
    member_id: int
    invoice_id: int
    message_id: int | None
    issued_at: dt.datetime


class _ClockSigner(signing.TimestampSigner):
    """A ``TimestampSigner`` that reads the one clock, so ``--date`` runs and tests agree."""

    def timestamp(self) -> str:
        return signing.b62_encode(int(clock.now().timestamp()))


def _signer() -> _ClockSigner:
    return _ClockSigner(salt=SALT)


def make_token(member_id: int, invoice_id: int, message_id: int | None = None) -> str:
    payload: dict[str, int] = {"m": member_id, "i": invoice_id}
    if message_id is not None:
        payload["s"] = message_id
    # Not compressed: zlib never shortens a payload this small (the signer would keep
    # the plain form anyway), and trying costs more than the rest of the signing.
    return _signer().sign_object(payload)


def read_token(token: str) -> PayLink:
    """The link's scope; raises ``LinkInvalid`` or ``LinkExpired``."""
    signer = _signer()
    try:
        payload = signer.unsign_object(token)
        # The signature covers "<value>:<timestamp>"; read the timestamp it vouches for.
        stamp = signing.Signer.unsign(signer, token).rpartition(signer.sep)[2]
        issued = dt.datetime.fromtimestamp(signing.b62_decode(stamp), tz=dt.UTC)
    except (signing.BadSignature, ValueError, TypeError) as exc:
        raise LinkInvalid from exc
    if not isinstance(payload, dict) or not {"m", "i"} <= set(payload):
        raise LinkInvalid
    if clock.now() - issued > conf.link_max_age():
        raise LinkExpired
    message = payload.get("s")
    return PayLink(
        member_id=int(payload["m"]),
        invoice_id=int(payload["i"]),
        message_id=int(message) if message is not None else None,
        issued_at=issued,
    )


@functools.lru_cache(maxsize=16)
def _pay_path(script_prefix: str, urlconf: str | None, root_urlconf: str) -> tuple[str, str]:
    """The hosted page's path around the token, reversed once per URL configuration."""
    path = reverse("dunning:pay", args=[_TOKEN_MARK], urlconf=urlconf)
    head, _, tail = path.partition(_TOKEN_MARK)
    return head, tail


def pay_url(member_id: int, invoice_id: int, message_id: int | None = None) -> str:
    """The absolute URL of the hosted page for this member and invoice."""
    token = make_token(member_id, invoice_id, message_id)
    head, tail = _pay_path(get_script_prefix(), get_urlconf(), str(settings.ROOT_URLCONF))
    return f"{conf.public_base_url()}{head}{token}{tail}"
