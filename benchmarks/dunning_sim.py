"""Recovery simulation: Thai members' failed renewals replayed through dunning's real policy.

    .venv/bin/python benchmarks/dunning_sim.py                  # 20,000 failed payments
    .venv/bin/python benchmarks/dunning_sim.py --payments 5000 --seed 11
    .venv/bin/python benchmarks/dunning_sim.py --batch-payers 120   # + the real batch path

One command; it prints a table of recovery (overall, then by decline category) for three
policies, and the network-rule violations of each, billing's own first attempts
included:

* **default**: the project's default policy (an unsaved ``RetryPolicy()``: decline-aware
  timing, 8 retries until the ladder's cancellation step; the Thai payday calendar;
  "do not honor" as ``maybe_funds``; the ladder with its day-3 reminder by SMS too and
  its day-21 friendly reminder; a family's renewals on one card charged one after the
  other, the rest withheld in that run after a never-retry or a low-funds decline);
* **old 14-day**: the policy on main before issue 18 (8 retries within 14 days, paydays
  as fixed dates 1st–2nd, 15th–16th, 25th–last, "do not honor" as ``generic``, no
  day-21 message, every renewal of a family sent to the bank at once);
* **fixed-schedule**: the project's ``fixed`` mode (every 3 days, 8 retries until the
  cancellation step), which keeps the network rules and the new ladder.

Then, with ``--batch-payers N`` (default 120; 0 to skip), it runs N payers with 2–4
memberships on one card through the real batch path on PostgreSQL and Redis
(``billing_run`` and the hourly ``dunning_run``, sandbox gateway) for 30 days and
counts what reached the bank: charges after a never-retry decline and cap breaches,
billing's first attempts included.  That part needs a database of its own
(``--database-url``, default ``gym_bench_recov``), recreated each time.

What is real and what is adapted
================================
Called as they are: ``dunning.timing.retry_times`` (the default and fixed policies),
``dunning.paydays`` (the Thai calendar, holidays from the ``holidays`` library),
``dunning.declines.classify`` (fed the seeded ``DeclineRule`` table of migrations 0002
and 0008, or 0002 alone for the old policy), ``dunning.caps.cap_rules`` /
``cap_free_at``, ``WAIT_FOR_MEMBER``, ``CURABLE_HARD_CODES`` and
``MASTERCARD_NO_RETRY_ADVICE``.  The old policy's timing is main's code before issue 18,
copied below (:class:`OldTiming`), since it no longer exists in ``dunning.timing``.
The services that glue them together read and write the database, so :class:`Replay`
mirrors their decisions on in-memory cases (``cases._apply_failure``,
``retries.retries_replan``, ``retries._claim``, ``retry_after_method_update``,
``billing.services.payments.attempts_process``'s one-charge-per-card rounds).  The
batch-path part runs the real code end to end.

The world, from published figures
=================================
Sources (numbered; figures used are quoted in the constants below):

[1] Host Merchant Services, "Credit card declines" (May 2025): "by some estimates,
    almost half of all declines are due to insufficient funds".
[2] Adyen, refusal reasons documentation: "Do not honor" (05) is the issuer's generic
    refusal, 10–60% of refusals depending on the market (as quoted in issue 18).
[3] Recurly, "Credit card decline messages" (blog): "Temporary hold ... known as a 'Do
    Not Honor' response"; insufficient funds is the most common decline; Stripe's
    decline-code guide lists ``do_not_honor`` causes, insufficient funds among them.
[4] Issue 18's independent simulation (a world built from published figures): "about
    28% of failures can be fixed only by the member (dead, lost or expired cards)".
[5] Agile Payments, "Credit card decline management" (2024), citing Visa, Mastercard
    and PLC: "an approximate 5% success rate in obtaining new information from
    customers on the first attempt after a card is declined"; 30% of cards are
    re-issued each year.
[6] National Statistical Office of Thailand, Labour Force Survey Q3/2020, table 3.17:
    18.02 million employees, of whom 3.52 million government (19.5%) and 14.50 million
    private (80.5%).
[7] Comptroller General's Department via NNT / Pattaya Mail (4 Nov 2023) and Bangkok
    Post (2023): civil servants are paid three working days before the end of the
    month (an optional first half on the 16th since 2024).
[8] Thai public and bank holidays: the ``holidays`` library (``dunning.paydays``).
[9] SMS: "98% of text messages are read" (Gartner, as widely quoted); email: average
    open rates around 20–35% (Mailchimp's all-industry benchmark about 21%).
[10] Bank of Thailand, Payment Systems Report: PromptPay had over 70 million registered
    IDs (2022) for a population of 66 million; QR payment by banking app is the
    country's everyday way to pay.

Where no published figure exists the value is an assumption, marked ``ASSUMED``; none
was tuned to reach a result (they were set before the first run and kept).

Who fails (shares of failed renewals): funds 43% [1] ("almost half"); "do not honor"
17% and other generic declines 5% [2] (inside Adyen's 10–60%); member-only 28% [4],
split expired or authentication-needed (``customer_action``) 17% and hard (lost,
stolen, closed) 11% (ASSUMED split); temporary 5% and processing 2% (ASSUMED, the
rest).  "Do not honor" is in truth a funds shortfall for half of the members who get
it (ASSUMED midpoint of "a large part" [3]); the other half behave as generic.

When members have money: employees are 85% of members (ASSUMED: gym members with a
card on file; the other 15% have irregular income, 12% chance per attempt).  Of the
employees, 19.5% are government [6], paid three working days before the last working
day [7]; the private 80.5% [6] are paid on the last working day (60%), the 25th (20%)
or another fixed day, the 5th, 7th, 10th or 20th (5% each) (ASSUMED split, after issue
18's description).  Fixed days on a weekend or holiday [8] are paid on the working day
before.  After each payday the member has money for 2–8 days (ASSUMED), then spends
it; 20% are short all month (3% per attempt; ASSUMED).

Members and messages: each message of the ladder is read by email with probability
0.35 and by SMS 0.90 [9]; a member who reads one acts with probability 0.15 (email) or
0.06 (SMS), so one message reaches about 5% per channel [5].  A member who acts pays
everything open: with their card on file if it can pay, else by PromptPay (offered on
every page; 60% of those who act choose it [10], ASSUMED share) or a new card (92% of
new cards pay; ASSUMED).  PromptPay needs money in the account: a funds-short member
who acts without money pays at the start of the next money window (50%, ASSUMED).
Responses are drawn per household, message day and channel, so two policies that send
the same message get the same answer.

Households (ASSUMED): 90% of payers have one failing renewal, 6% two, 3% three, 1%
four (a parent paying for the family on one card).  Cards: Visa 55%, Mastercard 40%,
Amex 5% (ASSUMED); on Mastercard half the hard declines carry merchant advice 03 or 21.

The referee counts every attempt that reaches the bank (billing's first attempts
included): any attempt on a card after a never-retry decline on it, and any attempt
that makes a rolling window exceed Visa 15 in 30 days or Mastercard 10 in 24 hours or
35 in 30 days.  Recovery is counted until the ladder's cancellation (day 30).
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import importlib
import math
import os
import random
import statistics
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from unittest import mock
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

CANCEL_DAY = 30
BILLING_RUN_HOUR = 2

# Truth categories of the world ([1], [2], [4]); "do_not_honor" is its own row.
CATEGORY_MIX = {
    "funds": 0.43,
    "do_not_honor": 0.17,
    "generic": 0.05,
    "customer_action": 0.17,
    "hard": 0.11,
    "temporary": 0.05,
    "processing": 0.02,
}
CODES = {
    "funds": {"insufficient_funds": 0.95, "card_velocity_exceeded": 0.05},
    "do_not_honor": {"do_not_honor": 1.0},
    "generic": {"generic_decline": 0.7, "call_issuer": 0.3},
    "customer_action": {
        "expired_card": 0.6,
        "authentication_required": 0.25,
        "incorrect_cvc": 0.15,
    },
    "temporary": {"issuer_not_available": 0.5, "try_again_later": 0.3, "reenter_transaction": 0.2},
    "hard": {
        "lost_card": 0.25,
        "stolen_card": 0.15,
        "pickup_card": 0.1,
        "transaction_not_allowed": 0.15,
        "invalid_account": 0.15,
        "do_not_try_again": 0.1,
        "restricted_card": 0.1,
    },
    "processing": {"": 1.0},
}
DNH_IS_FUNDS = 0.5  # ASSUMED midpoint of "a large part" [3]
BRANDS = {"visa": 0.55, "mastercard": 0.40, "amex": 0.05}
HOUSEHOLD_SIZES = {1: 0.90, 2: 0.06, 3: 0.03, 4: 0.01}
MC_HARD_ADVICE_SHARE = 0.5
IRREGULAR_INCOME = 0.15  # ASSUMED
GOVERNMENT_SHARE = 3_520.2 / 18_022.6  # [6]
PRIVATE_PAYDAYS = {"last": 0.60, "25": 0.20, "5": 0.05, "7": 0.05, "10": 0.05, "20": 0.05}
SHORT_ALL_MONTH = 0.20
MONEY_DAYS = (2, 8)
READ = {"email": 0.35, "sms": 0.90}  # [9]
ACT_IF_READ = {"email": 0.15, "sms": 0.06}  # about 5% per message and channel [5]
CHOOSES_PROMPTPAY = 0.60  # ASSUMED share [10]
NEW_CARD_SUCCESS = 0.92
PAYS_AT_NEXT_MONEY = 0.50
# The ladders' messages: (day, channels).
OLD_LADDER = ((0, ("email", "sms")), (3, ("email",)), (7, ("email", "sms")),
              (10, ("email", "sms")), (14, ("email", "sms")))  # fmt: skip
# The default ladder now (migrations 0008 and 0009): the day-3 reminder goes by SMS as well,
# and a friendly reminder fills the silent stretch on day 21.
NEW_LADDER = (
    (0, ("email", "sms")), (3, ("email", "sms")), (7, ("email", "sms")),
    (10, ("email", "sms")), (14, ("email", "sms")), (21, ("email", "sms")),
)  # fmt: skip

NEVER_RETRY_CODES = frozenset(
    {
        "lost_card", "stolen_card", "pickup_card", "restricted_card", "fraudulent",
        "merchant_blacklist", "invalid_account", "incorrect_number", "invalid_number",
        "revocation_of_authorization", "revocation_of_all_authorizations",
        "stop_payment_order", "do_not_try_again", "security_violation",
        "transaction_not_allowed", "not_permitted", "service_not_allowed",
        "card_not_supported", "currency_not_supported",
    }
)  # fmt: skip
VISA_CATEGORY_1 = frozenset(
    {"04", "07", "12", "14", "15", "41", "43", "46", "57", "R0", "R1", "R3"}
)
MC_NO_RETRY_ADVICE = frozenset({"03", "21"})
LIMITS = {
    "visa_30d": (15, dt.timedelta(days=30)),
    "mc_24h": (10, dt.timedelta(hours=24)),
    "mc_30d": (35, dt.timedelta(days=30)),
}
VIOLATION_KINDS = ("never_retry", "visa_30d", "mc_24h", "mc_30d")


def setup_django() -> None:
    from django.apps import apps

    if apps.ready:
        return
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    os.environ.setdefault("SECRET_KEY", "simulation-only-secret-key-0123456789-abcdefghijkl")
    import django

    django.setup()


def _pick(rng: random.Random, shares: dict[Any, float]) -> Any:
    return rng.choices(list(shares), weights=list(shares.values()))[0]


# --- The world -------------------------------------------------------------------------


@dataclass(frozen=True)
class Decline:
    code: str
    network: str
    advice: str


@dataclass
class Household:
    number: int
    invoices: int
    failed_at: dt.datetime
    cancel_at: dt.datetime
    brand: str
    category: str  # the world's truth
    decline: Decline
    behaves_as: str  # funds, generic, temporary, dead
    payday: str
    short_all_month: bool
    money_windows: list[tuple[dt.datetime, dt.datetime]]
    issuer_back_at: dt.datetime


class World:
    def __init__(self, seed: int) -> None:
        setup_django()
        from billing.gateways.sandbox import DECLINE_CODES
        from config import clock
        from dunning import conf

        self.seed = seed
        self.tz: ZoneInfo = clock.gym_tz()
        self.sandbox_codes = DECLINE_CODES
        self.quiet = conf.quiet_hours()

    def uniform(self, *key: object) -> float:
        digest = hashlib.blake2b(repr((self.seed, *key)).encode(), digest_size=8).digest()
        return int.from_bytes(digest, "big") / 2**64

    def households(self, payments: int) -> Iterator[Household]:
        rng = random.Random(self.seed)
        first_day = dt.date(2027, 1, 1)
        made = number = 0
        while made < payments:
            size = min(_pick(rng, HOUSEHOLD_SIZES), payments - made)
            day = first_day + dt.timedelta(days=rng.randrange(365))
            yield self._household(rng, number, size, day)
            made += size
            number += 1

    def _household(self, rng: random.Random, number: int, size: int, day: dt.date) -> Household:
        failed_at = dt.datetime.combine(
            day, dt.time(BILLING_RUN_HOUR, rng.randrange(60)), tzinfo=self.tz
        ).astimezone(dt.UTC)
        cancel_at = dt.datetime.combine(
            day + dt.timedelta(days=CANCEL_DAY), dt.time.min, tzinfo=self.tz
        ).astimezone(dt.UTC)
        category = _pick(rng, CATEGORY_MIX)
        brand = _pick(rng, BRANDS)
        code = _pick(rng, CODES[category])
        network, advice = self.sandbox_codes.get(code, ("", ""))
        if brand == "mastercard" and category == "hard" and rng.random() < MC_HARD_ADVICE_SHARE:
            advice = rng.choice(sorted(MC_NO_RETRY_ADVICE))
        behaves_as = {
            "funds": "funds",
            "do_not_honor": "funds" if rng.random() < DNH_IS_FUNDS else "generic",
            "generic": "generic",
            "customer_action": "dead",
            "hard": "dead",
            "temporary": "temporary",
            "processing": "temporary",
        }[category]
        if rng.random() < IRREGULAR_INCOME:
            payday = "irregular"
        elif rng.random() < GOVERNMENT_SHARE:
            payday = "civil"
        else:
            payday = _pick(rng, PRIVATE_PAYDAYS)
        spend = [rng.randint(*MONEY_DAYS) for _ in range(6)]
        mean_hours = 1 if category == "processing" else (96 if rng.random() < 0.08 else 6)
        return Household(
            number=number,
            invoices=size,
            failed_at=failed_at,
            cancel_at=cancel_at,
            brand=brand,
            category=category,
            decline=Decline(code, network, advice),
            behaves_as=behaves_as,
            payday=payday,
            short_all_month=rng.random() < SHORT_ALL_MONTH,
            money_windows=self._money_windows(day, payday, spend),
            issuer_back_at=failed_at + dt.timedelta(hours=rng.expovariate(1 / mean_hours)),
        )

    def _money_windows(
        self, failed_on: dt.date, payday: str, spend: list[int]
    ) -> list[tuple[dt.datetime, dt.datetime]]:
        """The member's real paydays after the failure (moved as banks move them [8])."""
        from dunning.paydays import moved_to_working_day, working_days_of_month

        days: list[dt.date] = []
        year, month = failed_on.year, failed_on.month
        for _ in range(3):
            working = working_days_of_month(year, month)
            if payday == "last":
                days.append(working[-1])
            elif payday == "civil":
                days.append(working[-4])
            elif payday.isdigit():
                days.append(moved_to_working_day(dt.date(year, month, int(payday))))
            year, month = (year + 1, 1) if month == 12 else (year, month + 1)
        windows = []
        for day, length in zip((d for d in days if d > failed_on), spend, strict=False):
            opens = dt.datetime.combine(day, dt.time(6), tzinfo=self.tz).astimezone(dt.UTC)
            windows.append((opens, opens + dt.timedelta(days=length)))
        return windows

    def has_money(self, h: Household, at: dt.datetime) -> bool:
        return any(opens <= at < closes for opens, closes in h.money_windows)

    def next_money(self, h: Household, at: dt.datetime) -> dt.datetime | None:
        return min((opens for opens, _ in h.money_windows if opens > at), default=None)

    def charge(self, h: Household, card: str, at: dt.datetime) -> Decline | None:
        """``None`` if a charge at ``at`` succeeds, else the bank's decline."""
        hour = int(at.timestamp()) // 3600
        if card != "original":
            if self.uniform(h.number, card, hour) < NEW_CARD_SUCCESS:
                return None
            return Decline("insufficient_funds", "51", "")
        draw = self.uniform(h.number, "original", hour)
        succeeds = False
        if h.behaves_as == "funds":
            if h.short_all_month:
                succeeds = draw < 0.03
            elif h.payday == "irregular":
                succeeds = draw < 0.12
            else:
                succeeds = self.has_money(h, at) or draw < 0.03
        elif h.behaves_as == "temporary":
            succeeds = at >= h.issuer_back_at and draw < 0.95
        elif h.behaves_as == "generic":
            days = (at - h.failed_at) / dt.timedelta(days=1)
            succeeds = draw < 0.30 * math.exp(-days / 10)
        return None if succeeds else h.decline

    def responses(
        self, h: Household, ladder: Sequence[tuple[int, Sequence[str]]]
    ) -> list[dt.datetime]:
        """When the member acts after the ladder's messages (one draw per message and channel)."""
        from dunning.timing import quiet_hours_end

        acts = []
        for day, channels in ladder:
            if day == 0:
                sent = h.failed_at
            else:
                local = h.failed_at.astimezone(self.tz).date() + dt.timedelta(days=day)
                sent = dt.datetime.combine(local, dt.time.min, tzinfo=self.tz)
            sent = quiet_hours_end(sent, *self.quiet, self.tz)
            for channel in channels:
                read = self.uniform(h.number, "read", day, channel) < READ[channel]
                if read and self.uniform(h.number, "act", day, channel) < ACT_IF_READ[channel]:
                    delay = min(self.uniform(h.number, "delay", day, channel), 0.95)
                    acts.append(sent + dt.timedelta(hours=-6 * math.log(1 - delay)))
        return sorted(acts)


# --- The referee -----------------------------------------------------------------------


class Referee:
    """Counts attempts that reach the bank and break a card-network rule, per card."""

    def __init__(self) -> None:
        self.history: dict[str, list[dt.datetime]] = {}
        self.never: set[str] = set()
        self.violations: Counter[str] = Counter()

    def attempt(self, card: str, brand: str, at: dt.datetime) -> None:
        history = self.history.setdefault(card, [])
        broken = []
        if card in self.never:
            broken.append("never_retry")
        for rule in ("mc_24h", "mc_30d") if brand == "mastercard" else ("visa_30d",):
            limit, period = LIMITS[rule]
            if sum(1 for t in history if at - period < t <= at) + 1 > limit:
                broken.append(rule)
        self.violations.update(broken)
        if broken:
            self.violations["attempts"] += 1
        history.append(at)

    def declined(self, card: str, brand: str, decline: Decline) -> None:
        if (
            decline.code in NEVER_RETRY_CODES
            or decline.network in VISA_CATEGORY_1
            or decline.advice == "do_not_try_again"
            or (brand == "mastercard" and decline.advice in MC_NO_RETRY_ADVICE)
        ):
            self.never.add(card)


# --- The old policy's timing (main before issue 18, verbatim in substance) ---------------


class OldTiming:
    """``dunning.timing.retry_times`` as it was: fixed payday dates, no calendar."""

    def __init__(self, new_timing: Any) -> None:
        self.new = new_timing

    @staticmethod
    def _is_payday(day: dt.date) -> bool:
        return day.day in (1, 2, 15, 16) or day.day >= 25

    @staticmethod
    def _priority(day: dt.date) -> int:
        import calendar

        if day.day in (1, 15, 25):
            return 0
        if day.day == calendar.monthrange(day.year, day.month)[1] or day.day in (2, 16):
            return 1
        return 2

    def retry_times(self, category: str, **kw: Any) -> list[dt.datetime]:
        after, until, count, tz = kw["after"], kw["until"], kw["count"], kw["tz"]
        retry_time = kw["retry_time"]
        if count <= 0 or until <= after or category in ("hard", "customer_action"):
            return []
        if category == "funds":
            first, last = after.astimezone(tz).date(), until.astimezone(tz).date()
            days = [first + dt.timedelta(days=n) for n in range((last - first).days + 1)]
            candidates = [
                at
                for day in days
                if self._is_payday(day)
                for at in [dt.datetime.combine(day, retry_time, tzinfo=tz).astimezone(dt.UTC)]
                if after + self.new.MIN_GAP <= at <= until
            ]
            chosen = sorted(
                candidates, key=lambda at: (self._priority(at.astimezone(tz).date()), at)
            )
            if chosen:
                return sorted(chosen[:count])
            return self.new.generic_retry_times(after, until, count, retry_time, tz)
        if category in ("temporary", "processing"):
            return self.new.temporary_retry_times(after, until, count)
        return self.new.generic_retry_times(after, until, count, retry_time, tz)


# --- The policies ----------------------------------------------------------------------


@dataclass
class Retry:
    due: dt.datetime
    reason: str
    category: str
    card: str | None = None


@dataclass
class Case:
    index: int
    window_end: dt.datetime
    block_reason: str = ""
    blocked_card: str = ""
    retries_made: int = 0
    pending: list[Retry] = field(default_factory=list)
    recovered_at: dt.datetime | None = None


@dataclass
class Outcome:
    attempts: int = 0
    withheld: int = 0
    recovered_at: list[dt.datetime | None] = field(default_factory=list)


@dataclass(frozen=True)
class PolicySpec:
    name: str
    mode: str
    timing: Callable[..., list[dt.datetime]]
    window: Callable[[Household], dt.datetime]
    table: dict[str, dict[str, str]]
    ladder: Sequence[tuple[int, Sequence[str]]]
    one_card_at_a_time: bool


LOW_FUNDS = ("funds", "maybe_funds")  # billing.declines.LOW_FUNDS


def _same_pass(declined_at: dt.datetime, at: dt.datetime, tz: ZoneInfo) -> bool:
    """Whether a retry due at ``at`` goes out in the same hourly dunning pass (one
    ``attempts_process`` call) as the decline at ``declined_at``."""
    hour = dt.timedelta(hours=1)
    return (
        declined_at <= at
        and (at - declined_at) < hour
        and (
            at.astimezone(tz).replace(minute=0, second=0, microsecond=0)
            == declined_at.astimezone(tz).replace(minute=0, second=0, microsecond=0)
        )
    )


class Replay:
    """dunning's services' decisions on in-memory cases, calling the real policy code."""

    def __init__(self, spec: PolicySpec) -> None:
        from dunning import caps, conf, declines, models

        self.spec = spec
        self.name = spec.name
        self.caps, self.models = caps, models
        self.policy = models.RetryPolicy(mode=spec.mode)
        self.retry_time = conf.retry_local_time()
        self.declines = declines

    def classify(self, d: Decline) -> str:
        with mock.patch.object(self.declines, "decline_table", new=lambda: self.spec.table):
            return self.declines.classify(d.code, d.network, d.advice)

    def _never_again(self, d: Decline, category: str, brand: str) -> bool:
        hard = category == "hard" and d.code not in self.caps.CURABLE_HARD_CODES
        return hard or (brand == "mastercard" and d.advice in self.caps.MASTERCARD_NO_RETRY_ADVICE)

    def _replan(self, case: Case, category: str, now: dt.datetime, tz: ZoneInfo) -> None:
        policy_reason = "policy"
        planned = [r for r in case.pending if r.reason == policy_reason]
        waiting = category in self.models.WAIT_FOR_MEMBER
        if not waiting and planned and all(r.category == category for r in planned):
            return
        case.pending = [r for r in case.pending if r.reason != policy_reason]
        if waiting:
            return
        times = self.spec.timing(
            category,
            after=now,
            until=case.window_end,
            count=self.policy.max_attempts - case.retries_made,
            mode=self.policy.mode,
            fixed_interval_days=self.policy.fixed_interval_days,
            retry_time=self.retry_time,
            tz=tz,
        )
        case.pending += [Retry(at, policy_reason, category) for at in times]

    def _failed(self, case: Case, card: str, d: Decline, now: dt.datetime, tz: ZoneInfo) -> str:
        category = self.classify(d)
        if category in self.models.WAIT_FOR_MEMBER:
            case.block_reason, case.blocked_card = category, card
        elif case.blocked_card != card:
            case.block_reason, case.blocked_card = "", ""
        self._replan(case, category, now, tz)
        return category

    def replay(self, world: World, h: Household, referee: Referee) -> Outcome:
        tz = world.tz
        end = self.spec.window(h)
        cases = [Case(i, end) for i in range(h.invoices)]
        history: dict[str, list[dt.datetime]] = {"original": []}
        dead: set[str] = set()
        # Cards declined for low funds, and when: their other charges in the same run
        # (the same hourly pass) are withheld as ``card_resting``.
        resting: dict[str, dt.datetime] = {}
        outcome = Outcome()
        # The billing run: one charge per card at a time (new), or all at once (old).
        for case in cases:
            at = h.failed_at + dt.timedelta(milliseconds=case.index)
            if self.spec.one_card_at_a_time and "original" in dead:
                outcome.withheld += 1
                case.block_reason, case.blocked_card = "hard", "original"
                continue
            if self.spec.one_card_at_a_time and "original" in resting:
                # ``card_resting``: not sent; the case opens with the decline's category.
                outcome.withheld += 1
                self._failed(case, "original", h.decline, at, tz)
                continue
            history["original"].append(at)
            referee.attempt("original", h.brand, at)
            outcome.attempts += 1
            referee.declined("original", h.brand, h.decline)
            category = self._failed(case, "original", h.decline, at, tz)
            if self._never_again(h.decline, category, h.brand):
                dead.add("original")
            if category in LOW_FUNDS:
                resting["original"] = at
        on_file = "original"
        acts = world.responses(h, self.spec.ladder)
        stop = h.cancel_at
        while True:
            open_cases = [c for c in cases if c.recovered_at is None]
            if not open_cases:
                break
            due = [(r.due, c.index, r) for c in open_cases for r in c.pending]
            next_retry = min(due, key=lambda item: (item[0], item[1]), default=None)
            act = acts[0] if acts else None
            if act is not None and act < stop and (next_retry is None or act <= next_retry[0]):
                acts.pop(0)
                on_file = self._member_acts(world, h, act, open_cases, on_file, dead, acts)
                continue
            if next_retry is None or next_retry[0] >= stop:
                break
            at, index, retry = next_retry
            case = cases[index]
            case.pending.remove(retry)
            card = self._card_for(case, retry, on_file, dead)
            if card is None:
                continue
            brand = h.brand if card == "original" else "visa"
            if (
                self.spec.one_card_at_a_time
                and card in resting
                and _same_pass(resting[card], at, tz)
                and retry.reason == "policy"
            ):
                # Not sent; a policy retry gives its place in the budget back (it was
                # never counted here).
                outcome.withheld += 1
                continue
            recent = [
                t for t in history.setdefault(card, []) if at - self.caps.LONGEST_PERIOD < t <= at
            ]
            capped = self.caps.cap_free_at(recent, at, self.caps.cap_rules(brand))
            if capped is not None:
                if retry.reason == "policy" and capped[1] <= case.window_end:
                    retry.due = capped[1]
                    case.pending.append(retry)
                continue
            if retry.reason == "policy":
                case.retries_made += 1
            history[card].append(at)
            referee.attempt(card, brand, at)
            outcome.attempts += 1
            decline = world.charge(h, card, at)
            if decline is None:
                case.recovered_at, case.pending = at, []
                continue
            referee.declined(card, brand, decline)
            category = self._failed(case, card, decline, at, tz)
            if self._never_again(decline, category, brand):
                dead.add(card)
            if category in LOW_FUNDS:
                resting[card] = at
        outcome.recovered_at = [c.recovered_at for c in cases]
        return outcome

    def _member_acts(
        self,
        world: World,
        h: Household,
        at: dt.datetime,
        open_cases: list[Case],
        on_file: str,
        dead: set[str],
        acts: list[dt.datetime],
    ) -> str:
        """The member opens the page and pays everything open (PromptPay, card, new card)."""
        card_stuck = h.behaves_as == "dead" or on_file in dead
        if card_stuck and world.uniform(h.number, "promptpay", at) >= CHOOSES_PROMPTPAY:
            # A new card: ``retry_after_method_update`` charges it at once.
            new = f"new{len(dead)}"
            for case in open_cases:
                case.block_reason, case.blocked_card = "", ""
                case.pending.append(Retry(at, "method_updated", "", new))
            return new
        money = (
            world.has_money(h, at)
            if h.behaves_as == "funds"
            else (world.uniform(h.number, "money", at) < 0.95)
        )
        if money:
            for case in open_cases:
                case.recovered_at, case.pending = at, []
            return on_file
        later = world.next_money(h, at)
        if later is not None and world.uniform(h.number, "later", at) < PAYS_AT_NEXT_MONEY:
            acts.append(later + dt.timedelta(hours=2))
            acts.sort()
        return on_file

    def _card_for(self, case: Case, retry: Retry, on_file: str, dead: set[str]) -> str | None:
        candidates = [c for c in (retry.card, on_file) if c is not None]
        usable = [
            c for c in candidates
            if not (case.block_reason and c == case.blocked_card) and c not in dead
        ]  # fmt: skip
        return usable[0] if usable else None


# --- The three policies ------------------------------------------------------------------


def seeded_tables() -> tuple[dict[str, dict[str, str]], dict[str, dict[str, str]]]:
    """The ``DeclineRule`` table as migration 0002 seeds it (old), and after 0008 (new)."""
    seed = importlib.import_module("dunning.migrations.0002_seed_policy")
    old: dict[str, dict[str, str]] = {"decline": {}, "network": {}, "advice": {}}
    for category, codes in seed.DECLINE_CODES.items():
        old["decline"].update(dict.fromkeys(codes.split(), category))
    old["network"].update(seed.NETWORK_CODES)
    old["advice"].update({code: category for code, (category, _) in seed.ADVICE_CODES.items()})
    new = {kind: dict(rules) for kind, rules in old.items()}
    new["decline"]["do_not_honor"] = "maybe_funds"
    new["network"].setdefault("05", "maybe_funds")
    return old, new


def policies(world: World) -> list[Replay]:
    from dunning import timing
    from dunning.timing import MIN_GAP

    old_table, new_table = seeded_tables()

    def until_cancellation(h: Household) -> dt.datetime:
        return h.cancel_at - MIN_GAP

    def fourteen_days(h: Household) -> dt.datetime:
        return h.failed_at + dt.timedelta(days=14)

    return [
        Replay(PolicySpec("default (new)", "smart", timing.retry_times, until_cancellation,
                          new_table, NEW_LADDER, True)),
        Replay(PolicySpec("old 14-day (main)", "smart", OldTiming(timing).retry_times,
                          fourteen_days, old_table, OLD_LADDER, False)),
        Replay(PolicySpec("fixed-schedule mode", "fixed", timing.retry_times,
                          until_cancellation, new_table, NEW_LADDER, True)),
    ]  # fmt: skip


# --- Running it --------------------------------------------------------------------------


@dataclass
class PolicyResult:
    name: str
    failed: int = 0
    recovered: int = 0
    attempts: int = 0
    withheld: int = 0
    violations: Counter[str] = field(default_factory=Counter)
    failed_by_category: Counter[str] = field(default_factory=Counter)
    recovered_by_category: Counter[str] = field(default_factory=Counter)
    days_to_recover: list[float] = field(default_factory=list)

    @property
    def recovery_rate(self) -> float:
        return self.recovered / self.failed if self.failed else 0.0

    @property
    def attempts_per_recovery(self) -> float:
        return self.attempts / self.recovered if self.recovered else math.inf

    @property
    def violating_attempts(self) -> int:
        return self.violations["attempts"]

    @property
    def median_days(self) -> float:
        return statistics.median(self.days_to_recover) if self.days_to_recover else math.nan


def simulate(payments: int = 20_000, seed: int = 2027) -> list[PolicyResult]:
    world = World(seed)
    replays = policies(world)
    results = [PolicyResult(r.name) for r in replays]
    for household in world.households(payments):
        for replay, result in zip(replays, results, strict=True):
            referee = Referee()
            outcome = replay.replay(world, household, referee)
            result.failed += household.invoices
            result.failed_by_category[household.category] += household.invoices
            result.attempts += outcome.attempts
            result.withheld += outcome.withheld
            result.violations.update(referee.violations)
            for recovered_at in outcome.recovered_at:
                if recovered_at is None:
                    continue
                result.recovered += 1
                result.recovered_by_category[household.category] += 1
                result.days_to_recover.append(
                    (recovered_at - household.failed_at) / dt.timedelta(days=1)
                )
    return results


def format_table(results: list[PolicyResult]) -> str:
    head = (
        f"{'policy':<24}{'failed':>8}{'recovered':>11}{'rate':>8}{'attempts':>10}"
        f"{'att/rec':>9}{'median d':>10}{'withheld':>10}{'violations':>12}  "
        + " ".join(f"{kind:>11}" for kind in VIOLATION_KINDS)
    )
    lines = [head, "-" * len(head)]
    for r in results:
        lines.append(
            f"{r.name:<24}{r.failed:>8,}{r.recovered:>11,}{r.recovery_rate:>8.1%}"
            f"{r.attempts:>10,}{r.attempts_per_recovery:>9.2f}{r.median_days:>10.1f}"
            f"{r.withheld:>10,}{r.violating_attempts:>12,}  "
            + " ".join(f"{r.violations[kind]:>11,}" for kind in VIOLATION_KINDS)
        )
    lines.append("")
    categories = list(CATEGORY_MIX)
    lines.append(f"{'recovery by category':<24}" + "".join(f"{c:>17}" for c in categories))
    for r in results:
        cells = []
        for c in categories:
            failed = r.failed_by_category[c]
            rate = r.recovered_by_category[c] / failed if failed else 0.0
            cells.append(f"{rate:>9.1%} of {failed:>5,}")
        lines.append(f"{r.name:<24}" + "".join(f"{cell:>17}" for cell in cells))
    return "\n".join(lines)


# --- The real batch path ----------------------------------------------------------------

BATCH_TOKENS = {  # what the family card answers (ASSUMED mix, the world's categories)
    "tok_decline_lost_card": 0.25,
    "tok_mc_merchant_advice_03": 0.10,
    "tok_decline_expired_card": 0.15,
    "tok_decline_insufficient_funds": 0.30,
    "tok_decline_do_not_honor": 0.15,
    "tok_mastercard_decline_insufficient_funds": 0.05,
}


@dataclass
class BatchPathResult:
    payers: int = 0
    memberships: int = 0
    sent: int = 0
    withheld: int = 0
    never_retry: int = 0
    caps: int = 0
    asks: Counter[int] = field(default_factory=Counter)  # new-card requests per payer
    seconds: float = 0.0


def configure_batch_path(database_url: str, redis_url: str) -> None:
    """The settings the batch path runs with (before Django is set up)."""
    os.environ.update(
        {
            "DJANGO_SETTINGS_MODULE": "config.settings",
            "DATABASE_URL": database_url,
            "REDIS_URL": redis_url,
            "SECRET_KEY": "benchmark-only-secret-key-0123456789-abcdefghijklmnop",
            "DEBUG": "0",
            "SECURE_SSL_REDIRECT": "0",
            "CACHE_KEY_PREFIX": "gym-bench-recov-sim",
            "CELERY_TASK_ALWAYS_EAGER": "1",
            "SANDBOX_GATEWAY_LATENCY_MS": "0",
            "LOG_LEVEL": "WARNING",
            "EMAIL_BACKEND": "django.core.mail.backends.locmem.EmailBackend",
            "DUNNING_SMS_BACKEND": "dunning.sms.locmem.LocmemSmsBackend",
            "DUNNING_PUBLIC_BASE_URL": "https://gym.example",
        }
    )


def batch_path(payers: int, seed: int, database_url: str) -> BatchPathResult:
    """Families on one card through ``billing_run`` and 30 days of ``dunning_run``
    (Django set up by :func:`configure_batch_path`'s settings)."""
    setup_django()
    import psycopg
    import time_machine
    from django.core.management import call_command
    from django.db import connections
    from django.db.models import Min

    from billing.gateways import get_gateway
    from billing.models import Membership, PaymentAttempt, Plan
    from billing.services.payments import (
        NOT_SENT_CODES,
        payment_method_attach,
        payment_method_set_default,
    )
    from billing.services.run import billing_run
    from dunning.models import ACTIVE_CASE_STATUSES, DunningCase, DunningMessage, MessageStatus
    from dunning.services.run import dunning_run
    from members.models import GymProfile, Member
    from members.services import household_add_member, household_create
    from tests.billing.factories import PlanFactory, signed_up
    from tests.factories import MemberFactory

    connections.close_all()
    base, name = database_url.rsplit("/", 1)
    with psycopg.connect(f"{base}/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    call_command("migrate", verbosity=0)
    from django.core.cache import cache

    cache.clear()
    bank = get_gateway("sandbox")
    bank.reset()  # type: ignore[attr-defined]
    rng = random.Random(seed)
    tz = ZoneInfo("Asia/Bangkok")
    result = BatchPathResult(payers=payers)
    started = time.perf_counter()
    with time_machine.travel(dt.datetime(2027, 3, 5, 9, tzinfo=tz), tick=False) as traveller:
        GymProfile.objects.create(name="Sim Gym", phone="+66 2 000 0000", email="b@gym.example")
        plan: Plan = PlanFactory.create()
        cards: dict[str, str] = {}  # fingerprint -> brand
        for n in range(payers):
            size = rng.choice((2, 2, 3, 3, 4))
            payer: Member = MemberFactory.create(language="en")
            household = household_create(payer=payer)
            members = [payer]
            for _ in range(size - 1):
                dependant: Member = MemberFactory.create()
                household_add_member(household, dependant)
                members.append(dependant)
            memberships = [
                signed_up(member=Member.objects.get(pk=m.pk), plan=plan) for m in members
            ]
            token = _pick(rng, BATCH_TOKENS)
            method = payment_method_attach(payer, gateway="sandbox", token=f"{token}.fam{n}")
            payment_method_set_default(method)
            Membership.objects.filter(pk__in=[m.pk for m in memberships]).update(
                payment_method=method
            )
            cards[method.fingerprint] = method.brand
            result.memberships += size
        traveller.move_to(dt.datetime(2027, 4, 5, 2, tzinfo=tz))
        billing_run(dt.date(2027, 4, 5), fan_out=False)
        end = dt.datetime(2027, 5, 5, 0, tzinfo=tz)
        now = dt.datetime(2027, 4, 5, 3, tzinfo=tz)
        while now < end:  # the hourly beat job, skipping the hours nothing is due
            traveller.move_to(now)
            dunning_run()
            due = [
                DunningCase.objects.filter(status__in=ACTIVE_CASE_STATUSES).aggregate(
                    at=Min("next_action_at")
                )["at"],
                DunningMessage.objects.filter(status=MessageStatus.PENDING).aggregate(
                    at=Min("scheduled_for")
                )["at"],
            ]
            upcoming = min((at for at in due if at is not None), default=end)
            # The hourly beat job: the next full hour at which something is due.
            nxt = upcoming.astimezone(tz).replace(minute=0, second=0, microsecond=0)
            if nxt < upcoming:
                nxt += dt.timedelta(hours=1)
            now = max(now + dt.timedelta(hours=1), nxt)
    # What reached the bank, card by card (the sandbox knows each key it received).
    for fingerprint, brand in cards.items():
        attempts = list(
            PaymentAttempt.objects.filter(card_fingerprint=fingerprint)
            .exclude(invoice__billing_reason="signup")
            .order_by("created_at", "pk")
        )
        referee = Referee()
        for attempt in attempts:
            if attempt.decline_code in NOT_SENT_CODES:
                result.withheld += 1
                continue
            if bank.lookup_charge(attempt.idempotency_key) is None:
                continue
            result.sent += 1
            referee.attempt(fingerprint, "mastercard" if brand == "mastercard" else "visa",
                            attempt.created_at)  # fmt: skip
            referee.declined(
                fingerprint,
                "mastercard" if brand == "mastercard" else "visa",
                Decline(attempt.decline_code, attempt.network_code, attempt.advice_code),
            )
        result.never_retry += referee.violations["never_retry"]
        result.caps += sum(referee.violations[k] for k in ("visa_30d", "mc_24h", "mc_30d"))
    delivered = ["sent", "delivered", "opened", "clicked"]
    asks = Counter(
        DunningMessage.objects.filter(
            template="failed_notice",
            channel="email",
            status__in=delivered,
            case__block_reason__in=["hard", "customer_action"],
        ).values_list("member_id", flat=True)
    )
    result.asks = Counter(asks.values())
    result.seconds = time.perf_counter() - started
    return result


def format_batch_path(r: BatchPathResult) -> str:
    asks = ", ".join(f"{n} payer(s) asked {times}x" for times, n in sorted(r.asks.items()))
    return (
        f"Real batch path: {r.payers} payers, {r.memberships} memberships (2-4 per card), "
        f"billing_run + 30 days of dunning_run ({r.seconds:.0f} s)\n"
        f"  charges that reached the bank: {r.sent:,}; withheld after a never-retry or "
        f"low-funds decline on the card in the same run (card_blocked, card_resting): "
        f"{r.withheld:,}\n"
        f"  violations (billing's first attempts included): never_retry {r.never_retry}, "
        f"caps {r.caps}\n"
        "  new-card requests (failed-payment notice by email, hard or customer-action): "
        f"{asks or 'none'}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--payments", type=int, default=20_000, help="failed payments")
    parser.add_argument("--seed", type=int, default=2027)
    parser.add_argument("--batch-payers", type=int, default=120, help="0: skip the batch path")
    parser.add_argument(
        "--database-url",
        default=os.environ.get(
            "BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/gym_bench_recov"
        ),
    )
    parser.add_argument(
        "--redis-url", default=os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/5")
    )
    args = parser.parse_args()
    if args.batch_payers:
        # Django is set up once, with the settings the batch path needs.
        configure_batch_path(args.database_url, args.redis_url)
    started = time.perf_counter()
    results = simulate(args.payments, args.seed)
    print(
        f"Dunning recovery simulation: {args.payments:,} failed payments, seed {args.seed}, "
        f"recovery counted to the cancellation (day {CANCEL_DAY}) "
        f"({time.perf_counter() - started:.1f} s)"
    )
    print(format_table(results))
    print(
        "withheld: charges not sent after a never-retry or low-funds decline on the card in "
        "the same run; "
        "violations: attempts that reached the bank breaking a rule, billing's first "
        "attempts included"
    )
    default, _old, fixed = results
    edge = 100 * (default.recovery_rate - fixed.recovery_rate)
    print(
        f"default {default.recovery_rate:.1%}: {edge:+.1f} points over fixed-schedule mode "
        "(target >= 70% and >= +8 points, 0 violations)"
    )
    if args.batch_payers:
        print()
        print(format_batch_path(batch_path(args.batch_payers, args.seed, args.database_url)))


if __name__ == "__main__":
    main()
