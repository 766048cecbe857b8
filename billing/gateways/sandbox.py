"""The sandbox gateway: a deterministic stand-in for a card network, for the demo and tests.

No network.  The sandbox plays an external bank, so its books live outside our database:
they survive our transactions rolling back.  ``SANDBOX_GATEWAY_CACHE`` names the Django
cache that decides where (default ``"default"``):

* a Redis cache (``django.core.cache.backends.redis.RedisCache``; tests and production):
  in Redis, as JSON texts and integers, shared by every process and thread.  Each charge
  and refund is settled by a Lua script, atomically, in one round trip (a refund, or a
  charge on an expired card, in two), so concurrent requests with one key move money once;
* a local-memory cache (the demo): in a private, unbounded store in this process behind
  one lock (local-memory caches evict entries, and a bank must not forget a charge).

Other cache backends are refused.

Token grammar
=============

A token is ``<stem>[:<copy>]`` and the stem is ``tok_<words>[.<card>]``:

* ``<words>`` are lower-case words joined by ``_``: one *behaviour* plus any
  *modifiers*, in any position.
* ``.<card>`` (letters, digits, ``-``, ``_``) names a distinct card with the same
  behaviour, e.g. ``tok_ok.member-17``; the demo gives each member its own.
* ``:<copy>`` is another stored token for the same card: same last4 and fingerprint.

The stem names the card: last4 and fingerprint derive from it.

=================================== =======================================================
behaviour                           outcome of ``charge``
=================================== =======================================================
``ok``                              SUCCEEDED
``decline_<code>``                  FAILED with ``<code>`` (any Stripe code in
                                    ``DECLINE_CODES``), its ISO 8583 network code and its
                                    usual advice code: ``tok_decline_lost_card`` gives
                                    ``lost_card`` / ``41`` / ``do_not_try_again``
``advice_<advice>_<code>``          as ``decline_<code>``, with advice code ``<advice>``:
                                    ``do_not_try_again``, ``confirm_card_data`` or
                                    ``try_again_later``
``merchant_advice_<NN>[_<code>]``   a Mastercard decline (``<code>``, default
                                    ``do_not_honor`` / ``05``) whose advice code is the
                                    merchant advice code ``NN``: ``tok_mc_merchant_advice_03``
``succeed_after_<N>``               FAILED ``insufficient_funds`` / ``51`` for the first N
                                    distinct idempotency keys, then SUCCEEDED
``timeout``                         UNKNOWN, every time; the bank *did* charge (once per
                                    key) and ``lookup_charge`` says SUCCEEDED
``timeout_nocharge``                UNKNOWN; nothing reached the bank, ``lookup_charge``
                                    returns ``None``
``requires_action``                 REQUIRES_ACTION with ``authentication_required`` / ``1A``
=================================== =======================================================

=================================== =======================================================
modifier                            effect
=================================== =======================================================
a brand word                        the card's brand: ``visa`` (the default),
                                    ``mastercard`` or ``mc``, ``amex``; ``merchant_advice``
                                    implies Mastercard
``expiring``                        the card expires at the end of the month in which the
                                    sandbox first sees it (otherwise two years later)
=================================== =======================================================

Examples: ``tok_ok``, ``tok_mastercard_ok``, ``tok_amex_expiring_ok.m42``,
``tok_decline_insufficient_funds``, ``tok_advice_try_again_later_do_not_honor``,
``tok_mc_merchant_advice_21``, ``tok_succeed_after_2``, ``tok_timeout``,
``tok_timeout_nocharge``, ``tok_requires_action``.  Anything else raises
``GatewayError``.

Card expiry is fixed the first time the sandbox sees a token (by the gateway clock,
``config.clock``) and changes only through :meth:`SandboxGateway.simulate_card_update`.
A charge on a card whose expiry month has passed fails with ``expired_card`` / ``54``,
whatever the token's behaviour.

PromptPay
=========

:meth:`SandboxGateway.promptpay_charge` creates a payment that waits for its QR to be
paid (REQUIRES_ACTION), with a real EMVCo payload for the amount to a mobile number no
bank has (``000-000-0000``).  The payer's banking app is simulated: :meth:`promptpay_scan`
(the app reads the QR), :meth:`promptpay_pay` (the payer confirms: the money moves) and
:meth:`promptpay_expire` (the QR lapses unpaid: ``expired``); :meth:`cancel_charge`
withdraws it (``canceled``).  A QR also lapses by itself once its ``expires_at`` has
passed on the gateway clock.  The first of these answers stands, atomically.

Sandbox webhooks carry a JSON payload (:meth:`SandboxGateway.event_payload`) signed in
the header ``X-Sandbox-Signature: t=<unix>,v1=<hex HMAC-SHA256 of "<t>.<payload>">``.
"""

from __future__ import annotations

import abc
import dataclasses
import datetime as dt
import hashlib
import hmac
import json
import re
import threading
import time
import weakref
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, Literal, cast

from django.conf import settings
from django.core.cache import caches
from django.core.cache.backends.locmem import LocMemCache
from django.core.cache.backends.redis import RedisCache
from redis.exceptions import NoScriptError

from config import clock

from ..promptpay.payload import MAX_AMOUNT, PromptPayTarget, TargetKind, build_payload
from .http_headers import header_value
from .interface import (
    CardDetails,
    CardSetup,
    ChargeRequest,
    ChargeResult,
    ChargeStatus,
    CustomerRequest,
    EventType,
    GatewayError,
    GatewayEvent,
    PromptPayCharge,
    PromptPayChargeRequest,
    RefundRequest,
    RefundResult,
    WebhookSignatureError,
)
from .redaction import redact

if TYPE_CHECKING:
    from redis import Redis

__all__ = [
    "ADVICE_CODES",
    "DECLINE_CODES",
    "PROMPTPAY_TOKEN",
    "SIGNATURE_HEADER",
    "LedgerEntry",
    "PromptPayScan",
    "SandboxGateway",
    "TokenBehaviour",
    "parse_token",
]

# Every Stripe decline code in the decline policy (shared/reference/declines.md), with a
# plausible ISO 8583 response code ("" where no card network is involved) and the
# advice code Stripe usually sends with it ("" for none).  Advice codes are only given
# where they agree with the code's category, since an advice code overrides it.
DECLINE_CODES: dict[str, tuple[str, str]] = {
    # hard
    "lost_card": ("41", "do_not_try_again"),
    "stolen_card": ("43", "do_not_try_again"),
    "pickup_card": ("04", "do_not_try_again"),
    "restricted_card": ("62", ""),
    "fraudulent": ("59", ""),
    "merchant_blacklist": ("", ""),
    "invalid_account": ("14", ""),
    "incorrect_number": ("14", ""),
    "invalid_number": ("14", ""),
    "revocation_of_authorization": ("R1", "do_not_try_again"),
    "revocation_of_all_authorizations": ("R3", "do_not_try_again"),
    "stop_payment_order": ("R0", "do_not_try_again"),
    "do_not_try_again": ("46", "do_not_try_again"),
    "security_violation": ("63", ""),
    "transaction_not_allowed": ("57", ""),
    "not_permitted": ("57", ""),
    "service_not_allowed": ("57", ""),
    "card_not_supported": ("57", ""),
    "currency_not_supported": ("57", ""),
    "new_account_information_available": ("05", ""),
    # customer_action
    "expired_card": ("54", ""),
    "incorrect_cvc": ("N7", "confirm_card_data"),
    "invalid_cvc": ("N7", "confirm_card_data"),
    "invalid_expiry_month": ("54", "confirm_card_data"),
    "invalid_expiry_year": ("54", "confirm_card_data"),
    "incorrect_zip": ("05", "confirm_card_data"),
    "authentication_required": ("1A", ""),
    "incorrect_pin": ("55", ""),
    "invalid_pin": ("55", ""),
    "pin_try_exceeded": ("75", ""),
    "offline_pin_required": ("70", ""),
    "online_or_offline_pin_required": ("70", ""),
    # funds
    "insufficient_funds": ("51", ""),
    "card_velocity_exceeded": ("61", ""),
    "withdrawal_count_limit_exceeded": ("65", ""),
    # temporary
    "try_again_later": ("19", "try_again_later"),
    "issuer_not_available": ("91", "try_again_later"),
    "reenter_transaction": ("19", "try_again_later"),
    "approve_with_id": ("08", ""),
    "processing_error": ("96", "try_again_later"),
    "duplicate_transaction": ("94", ""),
    # generic
    "generic_decline": ("05", ""),
    "do_not_honor": ("05", ""),
    "call_issuer": ("01", ""),
    "no_action_taken": ("21", ""),
    "testmode_decline": ("", ""),
}

ADVICE_CODES = ("do_not_try_again", "confirm_card_data", "try_again_later")

SIGNATURE_HEADER = "X-Sandbox-Signature"
WEBHOOK_TOLERANCE_SECONDS = 300

_BRAND_WORDS = {"visa": "visa", "mastercard": "mastercard", "mc": "mastercard", "amex": "amex"}
_TOKEN_RE = re.compile(
    r"^(?P<stem>tok_(?P<words>[a-z0-9]+(?:_[a-z0-9]+)*)(?:\.[A-Za-z0-9_-]{1,64})?)"
    r"(?::[A-Za-z0-9_-]{1,64})?$"
)
_MAX_SUCCEED_AFTER = 1000
# The books' namespace in Redis.  "v2": JSON values (v1 kept pickles under
# "sandbox-gateway"; its entries are never read).
_PREFIX = "sandbox-gateway-v2"
# PromptPay payments are kept like card charges, with this in place of a card token.
PROMPTPAY_TOKEN = "promptpay"
# Whom sandbox PromptPay QR codes pay: a mobile number no bank has (a public test vector).
_SANDBOX_PAYEE = PromptPayTarget(TargetKind.MOBILE, "0000000000")
PROMPTPAY_EXPIRED, PROMPTPAY_CANCELED = "expired", "canceled"  # decline codes of lapsed QRs

Outcome = Literal["approve", "decline", "succeed_after", "timeout", "timeout_nocharge", "action"]


@dataclass(frozen=True)
class TokenBehaviour:
    """What a sandbox token does, parsed from its name by :func:`parse_token`."""

    token: str
    stem: str  # the token without its ``:copy`` suffix: names the card
    outcome: Outcome
    brand: str
    expiring: bool = False
    decline_code: str = ""
    network_code: str = ""
    advice_code: str = ""
    succeed_after: int = 0


@dataclass(frozen=True)
class LedgerEntry:
    """One movement of money on the sandbox bank's books."""

    kind: Literal["charge", "refund"]
    idempotency_key: str
    reference: str  # the charge's reference, for refunds too
    token: str
    amount: int
    currency: str
    at: str  # ISO 8601, by the gateway clock


@dataclass(frozen=True)
class PromptPayScan:
    """What the sandbox payer's banking app shows after reading a PromptPay QR."""

    reference: str
    amount: int
    currency: str
    payee: str  # masked, as banking apps show it
    status: ChargeStatus
    decline_code: str
    expires_at: dt.datetime
    scanned_at: dt.datetime  # when the app first read this QR


def parse_token(token: str) -> TokenBehaviour:
    """Parse a sandbox token (see the module docstring); raise ``GatewayError`` if invalid."""
    match = _TOKEN_RE.match(token) if isinstance(token, str) else None
    if match is None:
        raise GatewayError(f"Not a sandbox token: {token!r}.")
    words = match["words"].split("_")
    brands = {_BRAND_WORDS[word] for word in words if word in _BRAND_WORDS}
    expiring = "expiring" in words
    behaviour = [word for word in words if word not in _BRAND_WORDS and word != "expiring"]
    if len(brands) > 1:
        raise GatewayError(f"Sandbox token {token!r} names more than one brand.")
    brand = next(iter(brands), "visa")
    common: dict[str, Any] = {
        "token": token,
        "stem": match["stem"],
        "brand": brand,
        "expiring": expiring,
    }
    joined = "_".join(behaviour)

    if joined == "ok":
        return TokenBehaviour(outcome="approve", **common)
    if joined == "timeout":
        return TokenBehaviour(outcome="timeout", **common)
    if joined == "timeout_nocharge":
        return TokenBehaviour(outcome="timeout_nocharge", **common)
    if joined == "requires_action":
        network_code, _ = DECLINE_CODES["authentication_required"]
        return TokenBehaviour(
            outcome="action",
            decline_code="authentication_required",
            network_code=network_code,
            **common,
        )
    if joined.startswith("decline_"):
        code = _known_decline_code(joined.removeprefix("decline_"), token)
        network_code, advice_code = DECLINE_CODES[code]
        return TokenBehaviour(
            outcome="decline",
            decline_code=code,
            network_code=network_code,
            advice_code=advice_code,
            **common,
        )
    if joined.startswith("advice_"):
        rest = joined.removeprefix("advice_")
        advice = next((a for a in ADVICE_CODES if rest.startswith(a + "_")), None)
        if advice is None:
            raise GatewayError(f"Sandbox token {token!r}: advice must be one of {ADVICE_CODES}.")
        code = _known_decline_code(rest.removeprefix(advice + "_"), token)
        return TokenBehaviour(
            outcome="decline",
            decline_code=code,
            network_code=DECLINE_CODES[code][0],
            advice_code=advice,
            **common,
        )
    if (
        len(behaviour) >= 3
        and behaviour[:2] == ["merchant", "advice"]
        and re.fullmatch(r"\d\d", behaviour[2])
    ):
        if brands and brand != "mastercard":
            raise GatewayError(f"Sandbox token {token!r}: merchant advice codes are Mastercard's.")
        code = _known_decline_code("_".join(behaviour[3:]) or "do_not_honor", token)
        return TokenBehaviour(
            outcome="decline",
            decline_code=code,
            network_code=DECLINE_CODES[code][0],
            advice_code=behaviour[2],
            **{**common, "brand": "mastercard"},
        )
    if len(behaviour) == 3 and behaviour[:2] == ["succeed", "after"] and behaviour[2].isdigit():
        failures = int(behaviour[2])
        if failures > _MAX_SUCCEED_AFTER:
            raise GatewayError(f"Sandbox token {token!r}: at most {_MAX_SUCCEED_AFTER} failures.")
        return TokenBehaviour(outcome="succeed_after", succeed_after=failures, **common)
    raise GatewayError(f"Sandbox token {token!r} names no known behaviour.")


def _known_decline_code(code: str, token: str) -> str:
    if code not in DECLINE_CODES:
        raise GatewayError(f"Sandbox token {token!r}: unknown decline code {code!r}.")
    return code


_LOST_REFUND_REPLIES = "lost-refund-replies"


def _digest(*parts: str) -> str:
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()


def _name(kind: str, value: str) -> str:
    """The name of an entry in the books: every external string is hashed, which keeps
    names short and free of characters some stores refuse."""
    return f"{kind}:{_digest(value)}"


def _json(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"))


def _text(value: bytes | str | None) -> str | None:
    return value.decode() if isinstance(value, bytes) else value


# --- the bank's books -------------------------------------------------------------------
#
# Entries, by name (``<kind>:<digest of the key, token or reference>``):
#
#   charge:<key>          the charge record, JSON {"key", "request", "bank"[, "reply"]};
#                         "reply" only where the caller heard otherwise (tok_timeout)
#   reference:<ref>       the name of the charge record behind a gateway reference
#   card:<token>          the card, JSON {"exp_month", "exp_year", "last4"}
#   attempts:<token>      distinct keys charged on a succeed_after token (integer)
#   charged:<token|ref>   minor units charged on a token or by a charge (integer)
#   refunded:<ref>        minor units refunded on a charge (integer)
#   ledger:<key>          the movements of money under a charge or refund key, in order
#                         (a list of JSON LedgerEntry)
#   refund:<key>          the refund record, JSON {"request", "result",
#                         "charge_idempotency_key"}
#   card-updates:<token>  card updates so far (integer)


@dataclass(frozen=True)
class _ChargePlan:
    """A charge, decided up front as far as it can be; the books settle it atomically.

    If ``record`` exists the charge was settled before: the books answer that record and
    change nothing.  Otherwise they fix the card (``first_seen`` if new) and pick a
    record: ``expired`` if the card expired before ``month`` (or, if ``expired`` is "",
    they change nothing more and answer ``None``: the rare expired card costs a second
    plan, not every charge a record it will not use); else ``failed`` while the counter
    ``attempts`` (succeed_after tokens only) is within ``failures``; else ``outcome``,
    which, when ``moves``, appends ``entry`` to ``ledger`` and adds ``amount`` to both
    ``charged`` counters.  Then they store ``reference`` and the record.
    """

    record: str
    reference: str
    card: str
    first_seen: str
    month: int  # year * 12 + month, today by the gateway clock
    attempts: str  # "" unless succeed_after
    failures: int
    expired: str  # "" if not foreseen
    failed: str
    outcome: str
    moves: bool
    ledger: str
    entry: str
    charged: tuple[str, str]
    amount: int


@dataclass(frozen=True)
class _RefundPlan:
    """A refund that passed every check but the amount; the books settle it atomically.

    If ``record`` exists the refund was settled before: answer it.  If the charge record
    ``charge`` is gone (a reset), or ``amount`` would take ``refunded`` above ``limit``,
    refuse.  Otherwise add ``amount`` to ``refunded``, append ``entry`` to ``ledger``
    and store ``result`` as the record.
    """

    record: str
    charge: str
    refunded: str
    amount: int
    limit: int
    ledger: str
    entry: str
    result: str


RefundSettlement = tuple[Literal["recorded", "no_charge", "exceeds"], str]


@dataclasses.dataclass(frozen=True)
class _AnswerPlan:
    """The cardholder's answer to a charge waiting for confirmation (or its cancellation).

    If the charge ``record`` still waits, store ``answer`` as its record and, if the money
    ``moves``, append ``entry`` to ``ledger`` and add ``amount`` to both ``charged``
    counters, all at once; otherwise leave it.  The record as it then stands is returned.
    """

    record: str
    answer: str
    moves: bool
    ledger: str
    entry: str
    charged: tuple[str, str]
    amount: int


class _Books(abc.ABC):
    """The sandbox bank's books: JSON texts, integer counters and ledgers, by name.

    Every method is atomic; :meth:`reset` starts a fresh, empty bank.
    """

    @abc.abstractmethod
    def get(self, name: str) -> str | None: ...

    @abc.abstractmethod
    def counter(self, name: str) -> int: ...

    @abc.abstractmethod
    def add(self, name: str, delta: int) -> int:
        """Add ``delta`` to the counter (created as 0); its new value."""

    @abc.abstractmethod
    def put(self, name: str, value: str) -> None: ...

    @abc.abstractmethod
    def ledger(self, name: str) -> list[str]: ...

    @abc.abstractmethod
    def answer_charge(self, plan: _AnswerPlan) -> str | None:
        """Settle a waiting charge (see :class:`_AnswerPlan`); ``None`` if there is none."""

    @abc.abstractmethod
    def card(self, name: str, first_seen: str) -> str:
        """The card's state, storing ``first_seen`` if the card is new."""

    def put_new(self, name: str, value: str) -> str:
        """Store ``value`` unless ``name`` holds something already; what it then holds.

        The same atomic store-if-absent as :meth:`card`, for any entry."""
        return self.card(name, value)

    @abc.abstractmethod
    def settle_charge(self, plan: _ChargePlan) -> str | None:
        """The charge record, settling the charge first if it is new (see the plan)."""

    @abc.abstractmethod
    def find_refund(self, record: str, reference: str) -> tuple[str | None, str | None]:
        """The refund record if stored, else ``None`` and the charge record behind the
        gateway reference entry ``reference`` (``None`` if none)."""

    @abc.abstractmethod
    def settle_refund(self, plan: _RefundPlan) -> RefundSettlement:
        """``("recorded", record)``, ``("no_charge", "")`` or ``("exceeds", "")``."""

    @abc.abstractmethod
    def reset(self) -> None: ...


# Each script runs atomically in Redis in one round trip.  ``KEYS[1]`` is the generation
# counter and ``ARGV[1]`` the root; every entry lives under ``<root>:<generation>:``, so a
# reset (a new generation) leaves old entries unread.  Entry keys are built in the script
# from the generation, which a standalone Redis allows (Django's RedisCache is not a
# cluster client).
_LUA_ROOT = "local root = ARGV[1] .. ':' .. (redis.call('GET', KEYS[1]) or '0') .. ':'\n"

# ARGV: root, command, name, arguments...
_LUA_COMMAND = "return redis.call(ARGV[2], root .. ARGV[3], unpack(ARGV, 4))\n"

# ARGV: root, name, first_seen
_LUA_CARD = """
local key = root .. ARGV[2]
redis.call('SET', key, ARGV[3], 'NX')
return redis.call('GET', key)
"""

# ARGV: root, then the _ChargePlan fields in order (moves as 1 or 0, charged as two).
_LUA_CHARGE = """
local record_key = root .. ARGV[2]
local stored = redis.call('GET', record_key)
if stored then return stored end
local card_key = root .. ARGV[4]
redis.call('SET', card_key, ARGV[5], 'NX')
local card = cjson.decode(redis.call('GET', card_key))
local record, moves = ARGV[9], false
if tonumber(card.exp_year) * 12 + tonumber(card.exp_month) >= tonumber(ARGV[6]) then
    record, moves = ARGV[11], ARGV[12] == '1'
    if ARGV[7] ~= '' and redis.call('INCR', root .. ARGV[7]) <= tonumber(ARGV[8]) then
        record, moves = ARGV[10], false
    end
elseif record == '' then
    return false
end
if moves then
    redis.call('RPUSH', root .. ARGV[13], ARGV[14])
    redis.call('INCRBY', root .. ARGV[15], ARGV[17])
    redis.call('INCRBY', root .. ARGV[16], ARGV[17])
end
redis.call('SET', root .. ARGV[3], ARGV[2])
redis.call('SET', record_key, record)
return record
"""

# ARGV: root, refund record, reference entry
_LUA_FIND_REFUND = """
local stored = redis.call('GET', root .. ARGV[2])
if stored then return {stored, false} end
local charge = redis.call('GET', root .. ARGV[3])
if charge then charge = redis.call('GET', root .. charge) end
return {false, charge}
"""

# ARGV: root, then the _RefundPlan fields in order.
_LUA_REFUND = """
local record_key = root .. ARGV[2]
local stored = redis.call('GET', record_key)
if stored then return {'recorded', stored} end
if redis.call('EXISTS', root .. ARGV[3]) == 0 then return {'no_charge', ''} end
local refunded_key = root .. ARGV[4]
local refunded = tonumber(redis.call('GET', refunded_key) or '0')
if refunded + tonumber(ARGV[5]) > tonumber(ARGV[6]) then return {'exceeds', ''} end
redis.call('INCRBY', refunded_key, ARGV[5])
redis.call('RPUSH', root .. ARGV[7], ARGV[8])
redis.call('SET', record_key, ARGV[9])
return {'recorded', ARGV[9]}
"""


# ARGV: root, then the _AnswerPlan fields in order (moves as 1 or 0, charged as two).
_LUA_ANSWER = """
local record_key = root .. ARGV[2]
local stored = redis.call('GET', record_key)
if not stored then return false end
if cjson.decode(stored).bank.status ~= 'requires_action' then return stored end
if ARGV[4] == '1' then
    redis.call('RPUSH', root .. ARGV[5], ARGV[6])
    redis.call('INCRBY', root .. ARGV[7], ARGV[9])
    redis.call('INCRBY', root .. ARGV[8], ARGV[9])
end
redis.call('SET', record_key, ARGV[3])
return ARGV[3]
"""
_WAITING = "requires_action"  # a charge's status while it waits for the cardholder


class _Script:
    """A Lua script, run by EVALSHA, or by EVAL (which caches it) where Redis lacks it."""

    def __init__(self, body: str) -> None:
        self.source = _LUA_ROOT + body
        self.sha = hashlib.sha1(self.source.encode(), usedforsecurity=False).hexdigest()

    def __call__(self, client: Redis, keys: list[str], args: list[Any]) -> Any:
        try:
            return client.evalsha(self.sha, len(keys), *keys, *args)
        except NoScriptError:
            return client.eval(self.source, len(keys), *keys, *args)


_COMMAND = _Script(_LUA_COMMAND)
_CARD = _Script(_LUA_CARD)
_CHARGE = _Script(_LUA_CHARGE)
_FIND_REFUND = _Script(_LUA_FIND_REFUND)
_REFUND = _Script(_LUA_REFUND)
_ANSWER = _Script(_LUA_ANSWER)

# redis-py clients, one per Django cache client (per thread): building one costs ~0.1 ms.
_redis_clients: weakref.WeakKeyDictionary[Any, Redis] = weakref.WeakKeyDictionary()


class _RedisBooks(_Books):
    """The books in Redis, shared by every process and thread: one round trip per call."""

    def __init__(self, cache: RedisCache) -> None:
        backend = cache._cache
        client = _redis_clients.get(backend)
        if client is None:
            # The primary, for reads too: a replica might not have our last write yet.
            client = _redis_clients[backend] = backend.get_client(write=True)
        self.client = client
        self.root = cache.make_key(_PREFIX)
        self.keys = [f"{self.root}:generation"]

    def _run(self, script: _Script, *args: Any) -> Any:
        return script(self.client, self.keys, [self.root, *args])

    def get(self, name: str) -> str | None:
        return _text(self._run(_COMMAND, "GET", name))

    def counter(self, name: str) -> int:
        return int(self._run(_COMMAND, "GET", name) or 0)

    def add(self, name: str, delta: int) -> int:
        return int(self._run(_COMMAND, "INCRBY", name, delta))

    def put(self, name: str, value: str) -> None:
        self._run(_COMMAND, "SET", name, value)

    def ledger(self, name: str) -> list[str]:
        return [str(_text(item)) for item in self._run(_COMMAND, "LRANGE", name, 0, -1)]

    def answer_charge(self, plan: _AnswerPlan) -> str | None:
        return _text(
            self._run(
                _ANSWER,
                plan.record,
                plan.answer,
                int(plan.moves),
                plan.ledger,
                plan.entry,
                *plan.charged,
                plan.amount,
            )
        )

    def card(self, name: str, first_seen: str) -> str:
        return str(_text(self._run(_CARD, name, first_seen)))

    def settle_charge(self, plan: _ChargePlan) -> str | None:
        return _text(
            self._run(
                _CHARGE,
                plan.record,
                plan.reference,
                plan.card,
                plan.first_seen,
                plan.month,
                plan.attempts,
                plan.failures,
                plan.expired,
                plan.failed,
                plan.outcome,
                int(plan.moves),
                plan.ledger,
                plan.entry,
                *plan.charged,
                plan.amount,
            )
        )

    def find_refund(self, record: str, reference: str) -> tuple[str | None, str | None]:
        stored, charge = self._run(_FIND_REFUND, record, reference)
        return _text(stored), _text(charge)

    def settle_refund(self, plan: _RefundPlan) -> RefundSettlement:
        outcome, record = self._run(
            _REFUND,
            plan.record,
            plan.charge,
            plan.refunded,
            plan.amount,
            plan.limit,
            plan.ledger,
            plan.entry,
            plan.result,
        )
        return cast(RefundSettlement, (_text(outcome), _text(record)))

    def reset(self) -> None:
        self.client.incr(self.keys[0])


class _LocalBooks(_Books):
    """The books in this process, for a local-memory cache (the demo).

    One store per cache alias, shared by the process's threads, behind one lock, so each
    call is atomic.  Unbounded: local-memory caches evict entries, and a bank must not
    forget a charge.
    """

    _stores: ClassVar[dict[str, tuple[threading.Lock, dict[str, Any]]]] = {}
    _stores_lock = threading.Lock()

    def __init__(self, alias: str) -> None:
        store = self._stores.get(alias)
        if store is None:
            with self._stores_lock:
                store = self._stores.setdefault(alias, (threading.Lock(), {}))
        self._lock, self._data = store

    def get(self, name: str) -> str | None:
        with self._lock:
            return cast(str | None, self._data.get(name))

    def counter(self, name: str) -> int:
        with self._lock:
            return int(self._data.get(name, 0))

    def add(self, name: str, delta: int) -> int:
        with self._lock:
            return self._add(name, delta)

    def _add(self, name: str, delta: int) -> int:
        value: int = self._data.get(name, 0) + delta
        self._data[name] = value
        return value

    def put(self, name: str, value: str) -> None:
        with self._lock:
            self._data[name] = value

    def ledger(self, name: str) -> list[str]:
        with self._lock:
            return list(self._data.get(name, ()))

    def answer_charge(self, plan: _AnswerPlan) -> str | None:
        data = self._data
        with self._lock:
            stored: str | None = data.get(plan.record)
            if stored is None or json.loads(stored)["bank"]["status"] != _WAITING:
                return stored
            if plan.moves:
                data.setdefault(plan.ledger, []).append(plan.entry)
                for name in plan.charged:
                    self._add(name, plan.amount)
            data[plan.record] = plan.answer
            return plan.answer

    def card(self, name: str, first_seen: str) -> str:
        with self._lock:
            return cast(str, self._data.setdefault(name, first_seen))

    def settle_charge(self, plan: _ChargePlan) -> str | None:
        data = self._data
        with self._lock:
            stored: str | None = data.get(plan.record)
            if stored is not None:
                return stored
            card = json.loads(data.setdefault(plan.card, plan.first_seen))
            record, moves = plan.expired, False
            if int(card["exp_year"]) * 12 + int(card["exp_month"]) >= plan.month:
                record, moves = plan.outcome, plan.moves
                if plan.attempts and self._add(plan.attempts, 1) <= plan.failures:
                    record, moves = plan.failed, False
            elif not record:
                return None
            if moves:
                data.setdefault(plan.ledger, []).append(plan.entry)
                for name in plan.charged:
                    self._add(name, plan.amount)
            data[plan.reference] = plan.record
            data[plan.record] = record
            return record

    def find_refund(self, record: str, reference: str) -> tuple[str | None, str | None]:
        data = self._data
        with self._lock:
            stored: str | None = data.get(record)
            if stored is not None:
                return stored, None
            charge = data.get(reference)
            return None, (data.get(charge) if charge is not None else None)

    def settle_refund(self, plan: _RefundPlan) -> RefundSettlement:
        data = self._data
        with self._lock:
            stored: str | None = data.get(plan.record)
            if stored is not None:
                return "recorded", stored
            if plan.charge not in data:
                return "no_charge", ""
            if data.get(plan.refunded, 0) + plan.amount > plan.limit:
                return "exceeds", ""
            self._add(plan.refunded, plan.amount)
            data.setdefault(plan.ledger, []).append(plan.entry)
            data[plan.record] = plan.result
            return "recorded", plan.result

    def reset(self) -> None:
        with self._lock:
            self._data.clear()


class SandboxGateway:
    """A deterministic card network behind the :class:`PaymentGateway` interface.

    Contracts beyond the interface's:

    * one idempotency key moves money at most once, across threads and processes, and
      always answers the same result; reusing a key with a different amount, currency,
      token or customer raises ``GatewayError`` (as Stripe does);
    * a refund never takes the refunded total of a charge above its amount;
    * :meth:`ledger_for`, :meth:`total_charged` and :meth:`total_refunded` read the
      bank's books, so tests can prove money moved exactly once; :meth:`reset` empties
      them.
    """

    name = "sandbox"
    hosted_card_form = False  # its test tokens are typed in
    publishable_key = ""
    supports_promptpay = True
    # How long a sandbox PromptPay QR can be paid before it lapses by itself.
    promptpay_lifetime = dt.timedelta(hours=1)

    def __init__(
        self,
        *,
        latency_ms: int | None = None,
        webhook_secret: str | None = None,
        cache_alias: str | None = None,
    ) -> None:
        """``latency_ms``: how long each charge and refund takes (``SANDBOX_GATEWAY_LATENCY_MS``,
        default 0).  ``webhook_secret``: ``SANDBOX_WEBHOOK_SECRET`` by default.
        ``cache_alias``: the cache holding the books (``SANDBOX_GATEWAY_CACHE``, default
        ``"default"``): a Redis cache, or a local-memory one (replaced by a private,
        unbounded in-process store).
        """
        if latency_ms is None:
            latency_ms = int(getattr(settings, "SANDBOX_GATEWAY_LATENCY_MS", 0))
        if latency_ms < 0:
            raise GatewayError("The sandbox latency cannot be negative.")
        self.latency_ms = latency_ms
        self.webhook_secret = (
            webhook_secret
            if webhook_secret is not None
            else str(getattr(settings, "SANDBOX_WEBHOOK_SECRET", "sandbox-webhook-secret"))
        )
        self._cache_alias = cache_alias or str(
            getattr(settings, "SANDBOX_GATEWAY_CACHE", "default")
        )

    @property
    def _books(self) -> _Books:
        # Looked up per call: Django's cache handles are per thread.
        configured = caches[self._cache_alias]
        if isinstance(configured, RedisCache):
            return _RedisBooks(configured)
        if isinstance(configured, LocMemCache):
            return _LocalBooks(self._cache_alias)
        raise GatewayError(
            f"The sandbox keeps its books in a Redis or local-memory cache; cache "
            f"{self._cache_alias!r} is a {type(configured).__name__}."
        )

    # --- PaymentGateway -------------------------------------------------------------

    def charge(self, request: ChargeRequest) -> ChargeResult:
        """Charge the card behind ``request.payment_token`` as its token's name says.

        Raises ``GatewayError`` for a malformed request (unknown token, non-positive
        amount, bad currency, empty key, or a key reused with other parameters).
        """
        _check_charge_request(request)
        behaviour = parse_token(request.payment_token)
        self._simulate_latency()
        if behaviour.outcome == "timeout_nocharge":
            return ChargeResult(
                status=ChargeStatus.UNKNOWN,
                message="Sandbox: the request timed out before it reached the bank.",
            )
        books = self._books
        stored = books.settle_charge(_charge_plan(request, behaviour))
        if stored is None:
            # The card has expired, which the plan did not foresee: settle it as such.
            stored = books.settle_charge(_charge_plan(request, behaviour, card_expired=True))
            if stored is None:
                raise GatewayError("Sandbox: the bank could not settle the charge.")
        record = json.loads(stored)
        if record["request"] != _charge_fingerprint(request):
            raise GatewayError(
                "Sandbox: this idempotency key was used with different charge parameters."
            )
        return _charge_from_dict(record.get("reply") or record["bank"])

    def lookup_charge(self, idempotency_key: str) -> ChargeResult | None:
        """The bank's own record of the charge with this key.

        The bank settles a charge atomically, so it never answers ``UNKNOWN``: a charge
        still on its way (in the simulated latency) has not reached the bank, ``None``.
        """
        stored = self._books.get(_name("charge", idempotency_key))
        return None if stored is None else _charge_from_dict(json.loads(stored)["bank"])

    def refund(self, request: RefundRequest) -> RefundResult:
        """Refund part or all of a recorded, succeeded charge, once per idempotency key.

        A refund that would exceed what is left of the charge, or names an unknown or
        unsuccessful charge, fails (``succeeded=False``) and moves nothing; such failures
        are not remembered, so the same key may succeed later.  Raises ``GatewayError``
        for a malformed request or a key reused with other parameters.
        """
        _check_refund_request(request)
        self._simulate_latency()
        books = self._books
        record_name = _name("refund", request.idempotency_key)
        stored, charge = books.find_refund(
            record_name, _name("reference", request.gateway_reference)
        )
        record = (
            json.loads(stored)
            if stored is not None
            else _settle_refund(books, request, record_name, charge)
        )
        if record["request"] != _refund_fingerprint(request):
            raise GatewayError(
                "Sandbox: this idempotency key was used with different refund parameters."
            )
        if books.counter(_LOST_REFUND_REPLIES) > 0:
            if books.add(_LOST_REFUND_REPLIES, -1) >= 0:
                raise GatewayError(
                    "Sandbox: the refund's reply was lost (timeout); the bank did act. "
                    "Retry with the same idempotency key."
                )
            books.add(_LOST_REFUND_REPLIES, 1)  # another request took the last one
        return _refund_from_dict(record["result"])

    def lose_refund_replies(self, count: int = 1) -> None:
        """Make the next ``count`` refunds time out *after* the bank acted, as a network
        failure on the way back would: the caller hears nothing and must retry."""
        self._books.add(_LOST_REFUND_REPLIES, count)

    def card_details(self, token: str) -> CardDetails:
        """Display details of a sandbox card; raises ``GatewayError`` for an unknown token."""
        behaviour = parse_token(token)
        return self._card(self._books, behaviour)

    def parse_webhook(self, payload: bytes, headers: Mapping[str, str]) -> GatewayEvent:
        """Verify ``X-Sandbox-Signature`` and decode the event.

        Raises ``WebhookSignatureError`` if the header is missing or malformed, the
        signature does not match, the timestamp is more than 300 s from the gateway
        clock, or the payload is not a sandbox event.
        """
        header = header_value(headers, SIGNATURE_HEADER)
        if not header:
            raise WebhookSignatureError(f"Missing {SIGNATURE_HEADER} header.")
        timestamp, signatures = _parse_signature_header(header)
        if abs(clock.now().timestamp() - timestamp) > WEBHOOK_TOLERANCE_SECONDS:
            raise WebhookSignatureError("The webhook timestamp is outside the tolerance.")
        expected = _sign(self.webhook_secret, timestamp, payload)
        if not any(hmac.compare_digest(expected, candidate) for candidate in signatures):
            raise WebhookSignatureError("The webhook signature does not match.")
        return _event_from_payload(payload)

    # --- webhooks and events ----------------------------------------------------------

    def sign_webhook(self, payload: bytes, *, timestamp: int | None = None) -> dict[str, str]:
        """Headers that make ``payload`` pass :meth:`parse_webhook` (now, by the clock)."""
        if timestamp is None:
            timestamp = int(clock.now().timestamp())
        signature = _sign(self.webhook_secret, timestamp, payload)
        return {SIGNATURE_HEADER: f"t={timestamp},v1={signature}"}

    @staticmethod
    def event_payload(event: GatewayEvent) -> bytes:
        """The JSON body the sandbox posts for ``event``; :meth:`parse_webhook` reverses it."""
        body = dataclasses.asdict(event)
        body["id"] = body.pop("event_id")
        return json.dumps(body, sort_keys=True, separators=(",", ":")).encode()

    def payment_event(self, idempotency_key: str) -> GatewayEvent:
        """The webhook event the bank sends for the charge with this key.

        PAYMENT_SUCCEEDED or PAYMENT_FAILED by the bank's record (a ``tok_timeout``
        charge did succeed); a charge awaiting authentication gives IGNORED with
        ``raw_type`` ``"payment.requires_action"``.  ``GatewayError`` if no such charge.
        """
        charge = self.lookup_charge(idempotency_key)
        if charge is None or charge.status == ChargeStatus.UNKNOWN:
            raise GatewayError("Sandbox: no charge was recorded with this idempotency key.")
        event_type, raw_type = {
            ChargeStatus.SUCCEEDED: (EventType.PAYMENT_SUCCEEDED, "payment.succeeded"),
            ChargeStatus.FAILED: (EventType.PAYMENT_FAILED, "payment.failed"),
            ChargeStatus.REQUIRES_ACTION: (EventType.IGNORED, "payment.requires_action"),
        }[charge.status]
        if charge.status == ChargeStatus.FAILED and charge.decline_code == PROMPTPAY_CANCELED:
            event_type, raw_type = EventType.PAYMENT_CANCELED, "payment.canceled"
        return GatewayEvent(
            # A charge changes status once at most (confirmed later): one event per status.
            event_id="evt_sbx_" + _digest("payment", idempotency_key, charge.status)[:24],
            type=event_type,
            charge=charge,
            idempotency_key=idempotency_key,
            raw_type=raw_type,
        )

    def refund_event(self, idempotency_key: str) -> GatewayEvent:
        """The REFUND_SUCCEEDED event for the refund with this key; ``GatewayError`` if none.

        ``charge`` is the refunded charge and ``idempotency_key`` the charge's key; the
        refund carries its own key, as Stripe's refund metadata does.
        """
        stored = self._books.get(_name("refund", idempotency_key))
        if stored is None:
            raise GatewayError("Sandbox: no refund was recorded with this idempotency key.")
        record = json.loads(stored)
        charge_key = str(record["charge_idempotency_key"])
        return GatewayEvent(
            event_id="evt_sbx_" + _digest("refund", idempotency_key)[:24],
            type=EventType.REFUND_SUCCEEDED,
            charge=self.lookup_charge(charge_key),
            idempotency_key=charge_key,
            refund=dataclasses.replace(
                _refund_from_dict(record["result"]), idempotency_key=idempotency_key
            ),
            raw_type="refund.succeeded",
        )

    def simulate_card_update(
        self, token: str, exp_month: int, exp_year: int, *, last4: str | None = None
    ) -> GatewayEvent:
        """The card updater brings a new expiry (and optionally number) behind ``token``.

        The token and fingerprint stay; later charges and :meth:`card_details` see the
        new details.  Returns the CARD_UPDATED event the bank would post.
        """
        behaviour = parse_token(token)
        if not 1 <= exp_month <= 12 or not 2000 <= exp_year <= 2200:
            raise GatewayError("Sandbox: an expiry needs a month 1–12 and a four-digit year.")
        if last4 is not None and not re.fullmatch(r"\d{4}", last4):
            raise GatewayError("Sandbox: last4 must be four digits.")
        books = self._books
        current = self._card(books, behaviour)
        state = {
            "exp_month": exp_month,
            "exp_year": exp_year,
            "last4": last4 if last4 is not None else current.last4,
        }
        books.put(_name("card", token), _json(state))
        sequence = books.add(_name("card-updates", token), 1)
        return GatewayEvent(
            event_id="evt_sbx_" + _digest("card", token, str(sequence))[:24],
            type=EventType.CARD_UPDATED,
            card=self._card(books, behaviour),
            raw_type="card.updated",
        )

    def charge_authentication(self, gateway_reference: str) -> str:
        """No browser step: the sandbox's own bank page answers (:meth:`authenticate`)."""
        return ""

    def authenticate(self, idempotency_key: str, *, approve: bool) -> ChargeResult:
        """The cardholder answers the bank's confirmation page (3-D Secure) for the charge
        with this key: approved, the money moves; refused, the charge fails with
        ``authentication_required``.  Settled atomically, once: the first answer (or a
        cancellation) stands, and the bank's record after it is returned.
        ``GatewayError`` if no charge was made with this key.
        """
        return self._answer(_name("charge", idempotency_key), approve=approve)

    def cancel_charge(self, gateway_reference: str) -> ChargeResult:
        """Stop a charge that waits for the cardholder, so it can never go through later.

        Returns the bank's record after it: failed if it was cancelled now, or what the
        charge had already become (the cardholder may have confirmed it first).
        ``GatewayError`` if there is no such charge.
        """
        record = self._books.get(_name("reference", gateway_reference))
        if record is None:
            raise GatewayError("Sandbox: no charge has this reference.")
        return self._answer(record, approve=False, cancelled=True)

    def _answer(
        self, record: str, *, approve: bool, cancelled: bool = False, lapsed: bool = False
    ) -> ChargeResult:
        """Settle the waiting charge ``record``: paid (``approve``), or refused, or for a
        PromptPay QR withdrawn (``cancelled``) or lapsed (``lapsed``)."""
        books = self._books
        stored = books.get(record)
        if stored is None:
            raise GatewayError("Sandbox: no charge was recorded with this idempotency key.")
        body = json.loads(stored)
        bank = _charge_from_dict(body["bank"])
        if bank.status != ChargeStatus.REQUIRES_ACTION:
            return bank
        if "promptpay" in body and not approve and not cancelled:
            lapsed = True
        request = ChargeRequest(
            amount=bank.amount,
            currency=bank.currency,
            payment_token=str(body["request"]["token"]),
            customer_reference=str(body["request"]["customer"]),
            idempotency_key=str(body["key"]),
        )
        reference = bank.gateway_reference
        if "promptpay" in body:
            answer = _promptpay_answer(request, reference, approve=approve, lapsed=lapsed)
        elif approve:
            answer = dataclasses.replace(
                _approved(request, reference), message="Sandbox: approved after authentication."
            )
        else:
            answer = _declined(request, reference, "authentication_required", "1A", "")
            if cancelled:
                answer = dataclasses.replace(
                    answer, message="Sandbox: cancelled before the cardholder confirmed it."
                )
        entry = LedgerEntry(
            kind="charge",
            idempotency_key=request.idempotency_key,
            reference=reference,
            token=request.payment_token,
            amount=request.amount,
            currency=request.currency,
            at=clock.now().isoformat(),
        )
        settled = books.answer_charge(
            _AnswerPlan(
                record=record,
                answer=_json({**body, "bank": _charge_to_dict(answer)}),
                moves=approve,
                ledger=_name("ledger", request.idempotency_key),
                entry=_json(vars(entry)),
                charged=(
                    _name("charged", request.payment_token),
                    _name("charged", reference),
                ),
                amount=request.amount,
            )
        )
        if settled is None:
            raise GatewayError("Sandbox: the charge disappeared (the books were reset).")
        return _charge_from_dict(json.loads(settled)["bank"])

    # --- PromptPay --------------------------------------------------------------------

    def promptpay_charge(self, request: PromptPayChargeRequest) -> PromptPayCharge:
        """A PromptPay payment waiting for its QR to be paid; once per idempotency key.

        The same key answers the payment as it now stands (paid, lapsed...).  Raises
        ``GatewayError`` for a malformed request or a key reused with other parameters.
        """
        _check_promptpay_request(request)
        self._simulate_latency()
        books = self._books
        key = request.idempotency_key
        reference = "sbx_pp_" + _digest("promptpay", key)[:24]
        now = clock.now()
        charge_request = _promptpay_as_charge(request)
        waiting = ChargeResult(
            status=ChargeStatus.REQUIRES_ACTION,
            gateway_reference=reference,
            amount=request.amount,
            currency=request.currency,
            message="Sandbox: the PromptPay QR waits to be paid.",
            raw=_raw(reference, "requires_action", charge_request),
        )
        fresh = {
            "key": key,
            "request": _charge_fingerprint(charge_request),
            "bank": _charge_to_dict(waiting),
            "promptpay": {
                "qr": build_payload(_SANDBOX_PAYEE, request.amount),
                "expires_at": (now + self.promptpay_lifetime).isoformat(),
            },
        }
        record_name = _name("charge", key)
        body = json.loads(books.put_new(record_name, _json(fresh)))
        if body["request"] != fresh["request"] or "promptpay" not in body:
            raise GatewayError(
                "Sandbox: this idempotency key was used with different payment parameters."
            )
        books.put(_name("reference", reference), record_name)
        return self._promptpay_charge_from(record_name, body)

    def promptpay_status(self, gateway_reference: str) -> ChargeResult:
        """The PromptPay payment as the bank's books stand (a QR past its expiry lapses)."""
        record = self._promptpay_record(gateway_reference)
        return self._promptpay_settled(record, json.loads(self._books.get(record) or "{}"))

    def promptpay_scan(self, gateway_reference: str) -> PromptPayScan:
        """The payer's banking app reads the QR: what it shows them before they pay."""
        record = self._promptpay_record(gateway_reference)
        books = self._books
        scanned = books.put_new(_name("scanned", gateway_reference), clock.now().isoformat())
        body = json.loads(books.get(record) or "{}")
        charge = self._promptpay_settled(record, body)
        return PromptPayScan(
            reference=gateway_reference,
            amount=charge.amount,
            currency=charge.currency,
            payee=_SANDBOX_PAYEE.masked,
            status=charge.status,
            decline_code=charge.decline_code,
            expires_at=dt.datetime.fromisoformat(body["promptpay"]["expires_at"]),
            scanned_at=dt.datetime.fromisoformat(scanned),
        )

    def promptpay_pay(self, gateway_reference: str) -> ChargeResult:
        """The payer confirms in their banking app: the money moves, unless the QR has
        lapsed or was withdrawn first (then that answer stands and nothing moves)."""
        record = self._promptpay_record(gateway_reference)
        charge = self._promptpay_settled(record, json.loads(self._books.get(record) or "{}"))
        if charge.status != ChargeStatus.REQUIRES_ACTION:
            return charge
        return self._answer(record, approve=True)

    def promptpay_expire(self, gateway_reference: str) -> ChargeResult:
        """The QR lapses unpaid now (as it would at its ``expires_at``)."""
        return self._answer(self._promptpay_record(gateway_reference), approve=False, lapsed=True)

    def promptpay_event(self, gateway_reference: str) -> GatewayEvent:
        """The webhook event the bank sends about the PromptPay payment as it now stands
        (:meth:`payment_event` by its key): paid, lapsed (failed) or withdrawn (canceled)."""
        record = self._books.get(self._promptpay_record(gateway_reference))
        return self.payment_event(str(json.loads(record or "{}")["key"]))

    def _promptpay_record(self, gateway_reference: str) -> str:
        record = self._books.get(_name("reference", gateway_reference))
        if record is None or not gateway_reference.startswith("sbx_pp_"):
            raise GatewayError("Sandbox: no PromptPay payment has this reference.")
        return record

    def _promptpay_settled(self, record: str, body: Mapping[str, Any]) -> ChargeResult:
        """The payment's record, lapsing it first if its QR is past its expiry."""
        if "promptpay" not in body:
            raise GatewayError("Sandbox: no PromptPay payment has this reference.")
        charge = _charge_from_dict(body["bank"])
        expires_at = dt.datetime.fromisoformat(body["promptpay"]["expires_at"])
        if charge.status == ChargeStatus.REQUIRES_ACTION and clock.now() >= expires_at:
            return self._answer(record, approve=False, lapsed=True)
        return charge

    def _promptpay_charge_from(self, record: str, body: Mapping[str, Any]) -> PromptPayCharge:
        return PromptPayCharge(
            charge=self._promptpay_settled(record, body),
            qr_data=str(body["promptpay"]["qr"]),
            expires_at=dt.datetime.fromisoformat(body["promptpay"]["expires_at"]),
        )

    def begin_card_setup(self, customer_reference: str, idempotency_key: str) -> CardSetup | None:
        """The sandbox has no hosted card form: its test tokens are typed in."""
        return None

    def create_customer(self, request: CustomerRequest) -> str:
        """A customer id derived from the key: the same key, the same customer."""
        if not request.idempotency_key:
            raise GatewayError("A customer needs an idempotency key.")
        return "cus_sbx_" + _digest("customer", request.idempotency_key)[:20]

    # --- the bank's books, for tests and the demo ---------------------------------------

    def ledger_for(self, idempotency_key: str) -> list[LedgerEntry]:
        """Every movement of money made under this charge or refund key, in order."""
        entries = self._books.ledger(_name("ledger", idempotency_key))
        return [LedgerEntry(**json.loads(entry)) for entry in entries]

    def total_charged(self, token_or_reference: str) -> int:
        """Minor units charged on a token, or by the charge with a gateway reference."""
        return self._books.counter(_name("charged", token_or_reference))

    def total_refunded(self, reference: str) -> int:
        """Minor units refunded on the charge with this gateway reference."""
        return self._books.counter(_name("refunded", reference))

    def reset(self) -> None:
        """Forget every charge, refund, counter and card update (a fresh bank)."""
        self._books.reset()

    # --- internals --------------------------------------------------------------------

    def _simulate_latency(self) -> None:
        if self.latency_ms:
            time.sleep(self.latency_ms / 1000)

    @staticmethod
    def _card(books: _Books, behaviour: TokenBehaviour) -> CardDetails:
        """The card behind a token, fixing its expiry the first time it is seen."""
        first_seen = _first_seen(behaviour, clock.today())
        state = json.loads(books.card(_name("card", behaviour.token), first_seen))
        return CardDetails(
            token=behaviour.token,
            brand=behaviour.brand,
            last4=str(state["last4"]),
            exp_month=int(state["exp_month"]),
            exp_year=int(state["exp_year"]),
            fingerprint="sbxfp_" + _digest("fingerprint", behaviour.stem)[:16],
        )


def _first_seen(behaviour: TokenBehaviour, today: dt.date) -> str:
    """The card's state (JSON) when the sandbox first sees it ``today``."""
    return _json(
        {
            "exp_month": today.month,
            "exp_year": today.year if behaviour.expiring else today.year + 2,
            "last4": f"{int(_digest('last4', behaviour.stem)[:8], 16) % 10000:04d}",
        }
    )


def _charge_plan(
    request: ChargeRequest, behaviour: TokenBehaviour, *, card_expired: bool = False
) -> _ChargePlan:
    """Decide the charge as far as can be without the books (see :class:`_ChargePlan`).

    The record for an expired card is only prepared if ``card_expired``.
    """
    key = request.idempotency_key
    reference = "sbx_ch_" + _digest("charge", key)[:24]
    fingerprint = _charge_fingerprint(request)

    def record(bank: ChargeResult) -> str:
        body = {"key": key, "request": fingerprint, "bank": _charge_to_dict(bank)}
        if behaviour.outcome == "timeout":
            # The bank acted; its answer was lost on the way back.
            body["reply"] = _TIMEOUT_REPLY
        return _json(body)

    approved = behaviour.outcome in ("approve", "timeout", "succeed_after")
    failed = attempts = ""
    if approved:
        outcome = record(_approved(request, reference))
        if behaviour.outcome == "succeed_after":
            attempts = _name("attempts", request.payment_token)
            failed = record(_declined(request, reference, "insufficient_funds", "51", ""))
    elif behaviour.outcome == "action":
        outcome = record(
            ChargeResult(
                status=ChargeStatus.REQUIRES_ACTION,
                gateway_reference=reference,
                amount=request.amount,
                currency=request.currency,
                decline_code=behaviour.decline_code,
                network_code=behaviour.network_code,
                message="Sandbox: the issuer requires the cardholder to authenticate.",
                raw=_raw(
                    reference,
                    "requires_action",
                    request,
                    behaviour.decline_code,
                    behaviour.network_code,
                ),
            )
        )
    else:
        outcome = record(
            _declined(
                request,
                reference,
                behaviour.decline_code,
                behaviour.network_code,
                behaviour.advice_code,
            )
        )
    now = clock.now()
    today = now.astimezone(clock.gym_tz()).date()
    entry = LedgerEntry(
        kind="charge",
        idempotency_key=key,
        reference=reference,
        token=request.payment_token,
        amount=request.amount,
        currency=request.currency,
        at=now.isoformat(),
    )
    return _ChargePlan(
        record=_name("charge", key),
        reference=_name("reference", reference),
        card=_name("card", request.payment_token),
        first_seen=_first_seen(behaviour, today),
        month=today.year * 12 + today.month,
        attempts=attempts,
        failures=behaviour.succeed_after,
        expired=(
            record(_declined(request, reference, "expired_card", "54", "")) if card_expired else ""
        ),
        failed=failed,
        outcome=outcome,
        moves=approved,
        ledger=_name("ledger", key),
        entry=_json(vars(entry)) if approved else "",  # flat: as dataclasses.asdict
        charged=(_name("charged", request.payment_token), _name("charged", reference)),
        amount=request.amount,
    )


def _settle_refund(
    books: _Books, request: RefundRequest, record_name: str, charge_record: str | None
) -> dict[str, Any]:
    """Check the charge, then reserve the amount and post the refund, atomically."""
    fingerprint = _refund_fingerprint(request)
    if charge_record is None:
        return _refund_failure(fingerprint, "Sandbox: no such charge.")
    stored_charge = json.loads(charge_record)
    charge = _charge_from_dict(stored_charge["bank"])
    if charge.status != ChargeStatus.SUCCEEDED:
        return _refund_failure(fingerprint, "Sandbox: the charge did not succeed.")
    if charge.currency != request.currency:
        return _refund_failure(fingerprint, "Sandbox: the currency differs from the charge's.")
    charge_key = str(stored_charge["key"])
    reference = "sbx_re_" + _digest("refund", request.idempotency_key)[:24]
    result = RefundResult(
        succeeded=True,
        gateway_reference=reference,
        message="Sandbox: refunded.",
        raw=redact(
            {
                "id": reference,
                "object": "refund",
                "status": "succeeded",
                "charge": request.gateway_reference,
                "amount": request.amount,
                "currency": request.currency,
            }
        ),
    )
    entry = LedgerEntry(
        kind="refund",
        idempotency_key=request.idempotency_key,
        reference=request.gateway_reference,
        token=str(stored_charge["request"]["token"]),
        amount=request.amount,
        currency=request.currency,
        at=clock.now().isoformat(),
    )
    record = {
        "request": fingerprint,
        "result": _refund_to_dict(result),
        "charge_idempotency_key": charge_key,
    }
    outcome, stored = books.settle_refund(
        _RefundPlan(
            record=record_name,
            charge=_name("charge", charge_key),
            refunded=_name("refunded", request.gateway_reference),
            amount=request.amount,
            limit=charge.amount,
            ledger=_name("ledger", request.idempotency_key),
            entry=_json(dataclasses.asdict(entry)),
            result=_json(record),
        )
    )
    if outcome == "no_charge":
        return _refund_failure(fingerprint, "Sandbox: no such charge.")
    if outcome == "exceeds":
        message = "Sandbox: the refund exceeds what is left of the charge."
        return _refund_failure(fingerprint, message)
    return dict(json.loads(stored))


# --- requests and results -------------------------------------------------------------


def _check_charge_request(request: ChargeRequest) -> None:
    if not request.idempotency_key:
        raise GatewayError("A charge needs an idempotency key.")
    if not isinstance(request.amount, int) or request.amount <= 0:
        raise GatewayError("A charge needs a positive amount in minor units.")
    if not re.fullmatch(r"[A-Z]{3}", request.currency):
        raise GatewayError("A charge needs an upper-case ISO 4217 currency.")


def _check_refund_request(request: RefundRequest) -> None:
    if not request.idempotency_key:
        raise GatewayError("A refund needs an idempotency key.")
    if not isinstance(request.amount, int) or request.amount <= 0:
        raise GatewayError("A refund needs a positive amount in minor units.")
    if not re.fullmatch(r"[A-Z]{3}", request.currency):
        raise GatewayError("A refund needs an upper-case ISO 4217 currency.")


def _check_promptpay_request(request: PromptPayChargeRequest) -> None:
    if not request.idempotency_key:
        raise GatewayError("A PromptPay payment needs an idempotency key.")
    if not isinstance(request.amount, int) or not 0 < request.amount <= MAX_AMOUNT:
        raise GatewayError("A PromptPay payment needs an amount from 1 satang to the QR's limit.")
    if request.currency != "THB":
        raise GatewayError("PromptPay pays in THB only.")
    if "@" not in request.payer_email:
        raise GatewayError("A PromptPay payment needs the payer's email (for refunds).")


def _promptpay_as_charge(request: PromptPayChargeRequest) -> ChargeRequest:
    """The PromptPay payment in the shape the books keep charges in."""
    return ChargeRequest(
        amount=request.amount,
        currency=request.currency,
        payment_token=PROMPTPAY_TOKEN,
        customer_reference=request.customer_reference,
        idempotency_key=request.idempotency_key,
    )


def _promptpay_answer(
    request: ChargeRequest, reference: str, *, approve: bool, lapsed: bool
) -> ChargeResult:
    if approve:
        return dataclasses.replace(
            _approved(request, reference), message="Sandbox: paid by PromptPay."
        )
    code = PROMPTPAY_EXPIRED if lapsed else PROMPTPAY_CANCELED
    return ChargeResult(
        status=ChargeStatus.FAILED,
        gateway_reference=reference,
        amount=request.amount,
        currency=request.currency,
        decline_code=code,
        message=f"Sandbox: the PromptPay QR was {'not paid in time' if lapsed else 'withdrawn'}.",
        raw=_raw(reference, "failed", request, code),
    )


def _charge_fingerprint(request: ChargeRequest) -> dict[str, Any]:
    return {
        "amount": request.amount,
        "currency": request.currency,
        "token": request.payment_token,
        "customer": request.customer_reference,
    }


def _refund_fingerprint(request: RefundRequest) -> dict[str, Any]:
    return {
        "charge": request.gateway_reference,
        "amount": request.amount,
        "currency": request.currency,
    }


def _raw(
    reference: str,
    status: str,
    request: ChargeRequest,
    decline_code: str = "",
    network_code: str = "",
    advice_code: str = "",
) -> dict[str, Any]:
    """The small, redacted response the sandbox keeps as evidence: ids, status, codes."""
    return redact(
        {
            "id": reference,
            "object": "charge",
            "status": status,
            "amount": request.amount,
            "currency": request.currency,
            "decline_code": decline_code,
            "network_code": network_code,
            "advice_code": advice_code,
        }
    )


def _approved(request: ChargeRequest, reference: str) -> ChargeResult:
    return ChargeResult(
        status=ChargeStatus.SUCCEEDED,
        gateway_reference=reference,
        amount=request.amount,
        currency=request.currency,
        message="Sandbox: approved.",
        raw=_raw(reference, "succeeded", request),
    )


def _declined(
    request: ChargeRequest, reference: str, decline_code: str, network_code: str, advice_code: str
) -> ChargeResult:
    network = f", network code {network_code}" if network_code else ""
    advice = f", advice {advice_code}" if advice_code else ""
    return ChargeResult(
        status=ChargeStatus.FAILED,
        gateway_reference=reference,
        amount=request.amount,
        currency=request.currency,
        decline_code=decline_code,
        network_code=network_code,
        advice_code=advice_code,
        message=f"Sandbox: declined ({decline_code}{network}{advice}).",
        raw=_raw(reference, "failed", request, decline_code, network_code, advice_code),
    )


def _refund_failure(fingerprint: dict[str, Any], message: str) -> dict[str, Any]:
    result = RefundResult(succeeded=False, message=message, raw={"status": "failed"})
    return {"request": fingerprint, "result": _refund_to_dict(result), "charge_idempotency_key": ""}


def _charge_to_dict(result: ChargeResult) -> dict[str, Any]:
    # As dataclasses.asdict, without its deep copies (charges build several of these).
    return {
        "status": str(result.status),
        "gateway_reference": result.gateway_reference,
        "amount": result.amount,
        "currency": result.currency,
        "decline_code": result.decline_code,
        "network_code": result.network_code,
        "advice_code": result.advice_code,
        "message": result.message,
        "raw": dict(result.raw),
    }


# What a tok_timeout charge answers, whatever the bank did.
_TIMEOUT_REPLY = _charge_to_dict(
    ChargeResult(
        status=ChargeStatus.UNKNOWN,
        message="Sandbox: the request timed out; the outcome is unknown.",
    )
)


def _charge_from_dict(data: Mapping[str, Any]) -> ChargeResult:
    return ChargeResult(
        status=ChargeStatus(data["status"]),
        gateway_reference=str(data.get("gateway_reference", "")),
        amount=int(data.get("amount", 0)),
        currency=str(data.get("currency", "")),
        decline_code=str(data.get("decline_code", "")),
        network_code=str(data.get("network_code", "")),
        advice_code=str(data.get("advice_code", "")),
        message=str(data.get("message", "")),
        raw=dict(data.get("raw") or {}),
    )


def _refund_to_dict(result: RefundResult) -> dict[str, Any]:
    return dataclasses.asdict(result)


def _refund_from_dict(data: Mapping[str, Any]) -> RefundResult:
    return RefundResult(
        succeeded=bool(data["succeeded"]),
        gateway_reference=str(data.get("gateway_reference", "")),
        message=str(data.get("message", "")),
        raw=dict(data.get("raw") or {}),
        idempotency_key=str(data.get("idempotency_key", "")),
    )


def _card_from_dict(data: Mapping[str, Any]) -> CardDetails:
    return CardDetails(
        token=str(data["token"]),
        brand=str(data["brand"]),
        last4=str(data["last4"]),
        exp_month=int(data["exp_month"]),
        exp_year=int(data["exp_year"]),
        fingerprint=str(data["fingerprint"]),
        customer_reference=str(data.get("customer_reference", "")),
    )


# --- webhooks -------------------------------------------------------------------------


def _parse_signature_header(header: str) -> tuple[int, list[str]]:
    timestamp: int | None = None
    signatures: list[str] = []
    for part in header.split(","):
        key, sep, value = part.strip().partition("=")
        if not sep:
            raise WebhookSignatureError("Malformed signature header.")
        if key == "t":
            if not value.isdigit():
                raise WebhookSignatureError("Malformed signature timestamp.")
            timestamp = int(value)
        elif key == "v1":
            signatures.append(value)
    if timestamp is None or not signatures:
        raise WebhookSignatureError("The signature header needs t= and v1=.")
    return timestamp, signatures


def _sign(secret: str, timestamp: int, payload: bytes) -> str:
    message = f"{timestamp}.".encode() + payload
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def _event_from_payload(payload: bytes) -> GatewayEvent:
    try:
        body = json.loads(payload)
        raw_type = str(body.get("raw_type", ""))
        try:
            event_type = EventType(body["type"])
        except ValueError:
            event_type = EventType.IGNORED
        return GatewayEvent(
            event_id=str(body["id"]),
            type=event_type,
            charge=_charge_from_dict(body["charge"]) if body.get("charge") else None,
            idempotency_key=str(body.get("idempotency_key", "")),
            refund=_refund_from_dict(body["refund"]) if body.get("refund") else None,
            card=_card_from_dict(body["card"]) if body.get("card") else None,
            raw_type=raw_type or str(body["type"]),
        )
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise WebhookSignatureError("The webhook payload is not a sandbox event.") from exc
