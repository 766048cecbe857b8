"""Recovery simulation: replay synthetic failed payments through dunning's real retry policy.

    .venv/bin/python benchmarks/dunning_sim.py                  # 20,000 failed payments
    .venv/bin/python benchmarks/dunning_sim.py --payments 5000 --seed 11

No database and no Redis: Django is set up only so dunning's modules import.  One
command; it prints one table (and a per-category table) comparing

* **ours**: the default policy (an unsaved ``RetryPolicy()``: smart timing, 8 retries
  within 14 days) evaluated by the real code, and
* **naive**: "retry every 3 days, 4 times" on whatever card is on file, whatever the
  decline said (the times come from ``dunning.timing.fixed_retry_times``).

For each: recovery rate, attempts per recovery, and card-network rule violations, which
must be 0 for ours.

What is real and what is adapted
================================
Called as they are: ``dunning.declines.classify`` (fed the seeded ``DeclineRule`` table
from ``dunning/migrations/0002_seed_policy.py`` instead of the database),
``dunning.timing.retry_times`` / ``fixed_retry_times`` / ``quiet_hours_end``,
``dunning.caps.cap_rules`` / ``cap_free_at``, the ladder's days
(``0002_seed_policy.LADDER``), ``dunning.conf`` settings, ``WAIT_FOR_MEMBER``,
``CURABLE_HARD_CODES`` and ``MASTERCARD_NO_RETRY_ADVICE``.

The services that glue them together read and write the database, so :class:`OurPolicy`
mirrors their decisions on in-memory cases, step for step (names in brackets):

* a failure keeps the decline, blocks the card for ``hard``/``customer_action``
  (``cases._apply_failure``), and replans: the pending plan is kept if it is for the
  same category, else replaced by ``retry_times(...)`` for what is left of the budget
  and window (``retries.retries_replan``);
* before each retry: the card the member is waiting to replace is skipped; a card with
  a never-again decline is skipped (``caps.credential_dead``: hard, except curable
  codes, or Mastercard merchant advice 03/21); the caps are checked with
  ``cap_free_at`` over every attempt on the card in 30 days, and a capped policy retry
  is postponed to when the card frees up if that is inside the window, else skipped
  (``retries._claim``, ``caps.credential_check``);
* a card update clears the block and retries at once on the new card
  (``retries.retry_after_method_update``); only policy retries use the budget.

Retries run at their due instant (the hourly run adds at most an hour).

The world: who fails, and when a charge would succeed
=====================================================
declines.md gives categories, not shares.  The mix below is an assumption, in line
with what processors publish for subscription renewals (insufficient funds about half,
then "do not honor", then expired/authentication):

=================  =====  ==============================================================
category           share  codes (ISO 8583 and advice codes as the sandbox bank sends them)
=================  =====  ==============================================================
funds              45%    insufficient_funds 95%, card_velocity_exceeded 5%
generic            22%    do_not_honor 70%, generic_decline 30%
customer_action    13%    expired_card 60%, authentication_required 25%, incorrect_cvc 15%
temporary           9%    issuer_not_available 50%, try_again_later 30%, reenter_transaction
hard                9%    lost_card, stolen_card, pickup_card, transaction_not_allowed,
                          invalid_account, do_not_try_again, restricted_card
processing          2%    no code at all (the gateway failed; the outcome was settled)
=================  =====  ==============================================================

Cards: Visa 55%, Mastercard 40%, Amex 5% (Amex follows the Visa cap).  On Mastercard,
half the hard declines carry merchant advice 03 or 21, and 8% of generic declines carry
advice 21 ("cancelled": never retry).  Households: 90% of payers have one failing
invoice on the card, 6% two, 3% three and 1% four (a parent paying for the family,
all renewing on the same day), so the per-card caps matter.  Renewals fail at 02:00
local (the billing run) on days spread over two months.

When a charge on the original card succeeds (each draw is keyed on the card and the
hour of the attempt, so both policies see the same world when they try at the same
time; the world never depends on the policy):

* ``funds``: the member has money from each payday after the failure for 2–8 days,
  then spends it.  Payday kinds: the 1st (40%), the 15th and the last day (20%), the
  25th (25%), irregular (15%: 12% per attempt).  Inside a money window an attempt
  succeeds; outside it 3%.  20% are short all month (3% per attempt).
* ``temporary``: the issuer is back after an exponential delay (mean 6 h; 8% take a
  mean of 4 days); after it, 95% per attempt.  ``processing``: mean 1 h.
* ``generic``: 30% per attempt on the day of the failure, decaying as e^(-days/10).
* ``hard`` and ``customer_action``: never on that card.

Members act after a message (the ladder's days 0, 3, 7, 10 and 14; quiet hours
respected): they add a new card with probability hard 50%, customer_action 60%, generic
15%, funds 10%, temporary/processing 3%, after the day-0 notice (45%), day 3 (20%),
day 7 (15%), day 10 (15%) or day 14 (5%), a few hours later (exponential, mean 6 h).
The new card succeeds 92% per attempt (else insufficient funds).  Both policies charge
the new card at once: ours by its retry-on-update, the naive one because the member
used the hosted page.  So the comparison isolates the retry schedule.  Cash at the
desk is left out (the same for both).  Recovery counts to day 30 (the ladder's
cancellation).

The referee
===========
Violations are counted by :class:`Referee`, written from declines.md and independent
of the policy code: any attempt on a card after a never-retry decline on it (a hard
code, Visa category-1 response codes, ``do_not_try_again``, Mastercard advice 03/21;
``new_account_information_available`` is not generated), and any attempt that makes a
rolling window exceed Visa 15 in 30 days or Mastercard 10 in 24 hours or 35 in 30 days.
Like ``dunning.caps`` it counts every attempt on the card, the first included
(stricter than the networks, which count re-attempts).
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
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from unittest import mock

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

HORIZON = dt.timedelta(days=30)
BILLING_RUN_HOUR = 2

CATEGORY_MIX = {
    "funds": 0.45,
    "generic": 0.22,
    "customer_action": 0.13,
    "temporary": 0.09,
    "hard": 0.09,
    "processing": 0.02,
}
CODES = {
    "funds": {"insufficient_funds": 0.95, "card_velocity_exceeded": 0.05},
    "generic": {"do_not_honor": 0.7, "generic_decline": 0.3},
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
BRANDS = {"visa": 0.55, "mastercard": 0.40, "amex": 0.05}
HOUSEHOLD_SIZES = {1: 0.90, 2: 0.06, 3: 0.03, 4: 0.01}
MC_HARD_ADVICE_SHARE = 0.5
MC_GENERIC_ADVICE_21_SHARE = 0.08
PAYDAY_KINDS = {"first": 0.40, "semi_monthly": 0.20, "twenty_fifth": 0.25, "irregular": 0.15}
FUNDS_SHORT_ALL_MONTH = 0.20
UPDATE_PROBABILITY = {
    "hard": 0.50,
    "customer_action": 0.60,
    "generic": 0.15,
    "funds": 0.10,
    "temporary": 0.03,
    "processing": 0.03,
}
UPDATE_AFTER_MESSAGE = (0.45, 0.20, 0.15, 0.15, 0.05)  # the ladder's first five messages
NEW_CARD_SUCCESS = 0.92

# The referee's rules, from shared/reference/declines.md.
NEVER_RETRY_CODES = frozenset(
    {
        "lost_card",
        "stolen_card",
        "pickup_card",
        "restricted_card",
        "fraudulent",
        "merchant_blacklist",
        "invalid_account",
        "incorrect_number",
        "invalid_number",
        "revocation_of_authorization",
        "revocation_of_all_authorizations",
        "stop_payment_order",
        "do_not_try_again",
        "security_violation",
        "transaction_not_allowed",
        "not_permitted",
        "service_not_allowed",
        "card_not_supported",
        "currency_not_supported",
    }
)
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
    """Import dunning's modules: settings only, nothing is read from a database."""
    from django.apps import apps

    if apps.ready:
        return
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()


# --- The world -------------------------------------------------------------------------


def _pick(rng: random.Random, shares: dict[Any, float]) -> Any:
    return rng.choices(list(shares), weights=list(shares.values()))[0]


@dataclass(frozen=True)
class Decline:
    code: str
    network: str
    advice: str


@dataclass
class Household:
    """One payer's card and the invoices on it that failed at the same billing run."""

    number: int
    invoices: int
    failed_at: dt.datetime
    brand: str
    category: str  # the world's truth, for the report (policies classify for themselves)
    decline: Decline
    payday_kind: str
    short_all_month: bool
    money_windows: list[tuple[dt.datetime, dt.datetime]]
    issuer_back_at: dt.datetime
    update_at: dt.datetime | None


class World:
    """Draws the population and answers "would this charge succeed now?"."""

    def __init__(self, seed: int) -> None:
        setup_django()
        from billing.gateways.sandbox import DECLINE_CODES
        from config import clock
        from dunning import conf

        self.seed = seed
        self.tz = clock.gym_tz()
        self.sandbox_codes = DECLINE_CODES
        self.quiet = conf.quiet_hours()
        ladder = importlib.import_module("dunning.migrations.0002_seed_policy").LADDER
        self.message_days = [day for _pos, _name, day, template, *_ in ladder if template][:5]

    def uniform(self, *key: object) -> float:
        """A draw in [0, 1) fixed by ``key`` (the same for both policies)."""
        digest = hashlib.blake2b(repr((self.seed, *key)).encode(), digest_size=8).digest()
        return int.from_bytes(digest, "big") / 2**64

    def households(self, payments: int) -> Iterator[Household]:
        rng = random.Random(self.seed)
        first_day = dt.date(2027, 1, 1)
        made = number = 0
        while made < payments:
            size = min(_pick(rng, HOUSEHOLD_SIZES), payments - made)
            day = first_day + dt.timedelta(days=rng.randrange(59))
            failed_at = dt.datetime.combine(
                day, dt.time(BILLING_RUN_HOUR, rng.randrange(60)), tzinfo=self.tz
            ).astimezone(dt.UTC)
            yield self._household(rng, number, size, failed_at)
            made += size
            number += 1

    def _household(
        self, rng: random.Random, number: int, size: int, failed_at: dt.datetime
    ) -> Household:
        category = _pick(rng, CATEGORY_MIX)
        brand = _pick(rng, BRANDS)
        code = _pick(rng, CODES[category])
        network, advice = self.sandbox_codes.get(code, ("", ""))
        if brand == "mastercard":
            if category == "hard" and rng.random() < MC_HARD_ADVICE_SHARE:
                advice = rng.choice(sorted(MC_NO_RETRY_ADVICE))
            elif category == "generic" and rng.random() < MC_GENERIC_ADVICE_21_SHARE:
                advice = "21"
        payday_kind = _pick(rng, PAYDAY_KINDS)
        spend_days = [rng.randint(2, 8) for _ in range(4)]
        mean_hours = 1 if category == "processing" else (96 if rng.random() < 0.08 else 6)
        issuer_back_at = failed_at + dt.timedelta(hours=rng.expovariate(1 / mean_hours))
        return Household(
            number=number,
            invoices=size,
            failed_at=failed_at,
            brand=brand,
            category=category,
            decline=Decline(code, network, advice),
            payday_kind=payday_kind,
            short_all_month=rng.random() < FUNDS_SHORT_ALL_MONTH,
            money_windows=self._money_windows(failed_at, payday_kind, spend_days),
            issuer_back_at=issuer_back_at,
            update_at=self._update_at(rng, category, failed_at),
        )

    def _money_windows(
        self, failed_at: dt.datetime, kind: str, spend_days: list[int]
    ) -> list[tuple[dt.datetime, dt.datetime]]:
        """Paydays after the failure's date, each followed by a few days with money."""
        from dunning.timing import last_day_of_month

        start = failed_at.astimezone(self.tz).date() + dt.timedelta(days=1)
        paydays = []
        for offset in range(40):
            day = start + dt.timedelta(days=offset)
            last = last_day_of_month(day)
            if (
                (kind == "first" and day.day == 1)
                or (kind == "semi_monthly" and day.day in (15, last))
                or (kind == "twenty_fifth" and day.day == 25)
            ):
                paydays.append(day)
        windows = []
        for payday, days in zip(paydays, spend_days * 3, strict=False):
            opens = dt.datetime.combine(payday, dt.time.min, tzinfo=self.tz)
            windows.append((opens, opens + dt.timedelta(days=days)))
        return windows

    def _update_at(
        self, rng: random.Random, category: str, failed_at: dt.datetime
    ) -> dt.datetime | None:
        """When the member adds a new card after a message, if they ever do."""
        from dunning.timing import quiet_hours_end

        if rng.random() >= UPDATE_PROBABILITY[category]:
            return None
        day = rng.choices(self.message_days, weights=UPDATE_AFTER_MESSAGE)[0]
        if day == 0:
            sent = failed_at
        else:
            local = failed_at.astimezone(self.tz).date() + dt.timedelta(days=day)
            sent = dt.datetime.combine(local, dt.time.min, tzinfo=self.tz)
        sent = quiet_hours_end(sent, *self.quiet, self.tz)
        return sent + dt.timedelta(hours=min(rng.expovariate(1 / 6), 72))

    def charge(self, household: Household, card: str, at: dt.datetime) -> Decline | None:
        """``None`` if the charge succeeds, else the decline the bank answers."""
        hour = int(at.timestamp()) // 3600
        h = household
        if card != "original":
            if self.uniform(h.number, card, hour) < NEW_CARD_SUCCESS:
                return None
            return Decline("insufficient_funds", "51", "")
        draw = self.uniform(h.number, "original", hour)
        category = h.category
        succeeds = False
        if category == "funds":
            if h.short_all_month:
                succeeds = draw < 0.03
            elif h.payday_kind == "irregular":
                succeeds = draw < 0.12
            else:
                in_window = any(opens <= at < closes for opens, closes in h.money_windows)
                succeeds = in_window or draw < 0.03
        elif category in ("temporary", "processing"):
            succeeds = at >= h.issuer_back_at and draw < 0.95
        elif category == "generic":
            days = (at - h.failed_at) / dt.timedelta(days=1)
            succeeds = draw < 0.30 * math.exp(-days / 10)
        return None if succeeds else h.decline


# --- The referee -----------------------------------------------------------------------


class Referee:
    """Counts attempts that break a card-network rule (declines.md), per card."""

    def __init__(self) -> None:
        self.history: dict[str, list[dt.datetime]] = {}
        self.never: set[str] = set()
        self.violations: Counter[str] = Counter()

    @property
    def violating_attempts(self) -> int:
        """Attempts that broke at least one rule."""
        return self.violations["attempts"]

    def attempt(self, card: str, brand: str, at: dt.datetime, *, first: bool = False) -> None:
        history = self.history.setdefault(card, [])
        if not first:
            broken = []
            if card in self.never:
                broken.append("never_retry")
            rules = ("mc_24h", "mc_30d") if brand == "mastercard" else ("visa_30d",)
            for rule in rules:
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


# --- The policies ----------------------------------------------------------------------


@dataclass
class Retry:
    due: dt.datetime
    reason: str
    category: str
    card: str | None = None  # the card a retry-on-update is for


@dataclass
class Case:
    """One failed invoice, as dunning's ``DunningCase`` keeps it (the fields that matter)."""

    index: int
    opened_at: dt.datetime
    window_end: dt.datetime
    category: str = ""
    block_reason: str = ""
    blocked_card: str = ""
    retries_made: int = 0
    pending: list[Retry] = field(default_factory=list)
    recovered_at: dt.datetime | None = None


@dataclass
class Outcome:
    attempts: int = 0
    recovered_at: list[dt.datetime | None] = field(default_factory=list)


class OurPolicy:
    """dunning's services' decisions, on in-memory cases, calling the real policy code."""

    name = "ours (default policy)"

    def __init__(self) -> None:
        from config import clock
        from dunning import caps, conf, declines, models, timing

        self.caps, self.timing, self.models = caps, timing, models
        self.policy = models.RetryPolicy()  # unsaved: the built-in default, 8 in 14 days
        self.retry_time = conf.retry_local_time()
        self.tz = clock.gym_tz()
        self.classify: Callable[[str, str, str], str] = declines.classify

    # -- the services' rules --
    def _never_again(self, decline: Decline, category: str, brand: str) -> bool:
        """``caps.never_again_condition``: hard (not curable), or Mastercard advice 03/21."""
        hard = category == self.models.DeclineCategory.HARD
        curable = decline.code in self.caps.CURABLE_HARD_CODES
        mc_advice = brand in ("mastercard", "mc") and (
            decline.advice in self.caps.MASTERCARD_NO_RETRY_ADVICE
        )
        return (hard and not curable) or mc_advice

    def _replan(self, case: Case, category: str, now: dt.datetime) -> None:
        """``retries.retries_replan``."""
        policy_reason = self.models.RetryReason.POLICY
        planned = [r for r in case.pending if r.reason == policy_reason]
        waiting = category in self.models.WAIT_FOR_MEMBER
        if not waiting and planned and all(r.category == category for r in planned):
            return
        case.pending = [r for r in case.pending if r.reason != policy_reason]
        if waiting:
            return
        times = self.timing.retry_times(
            category,
            after=now,
            until=case.window_end,
            count=self.policy.max_attempts - case.retries_made,
            mode=self.policy.mode,
            fixed_interval_days=self.policy.fixed_interval_days,
            retry_time=self.retry_time,
            tz=self.tz,
        )
        case.pending += [Retry(at, policy_reason, category) for at in times]

    def _failed(self, case: Case, card: str, decline: Decline, now: dt.datetime) -> str:
        """``cases._apply_failure`` then the replan; returns the category."""
        category = self.classify(decline.code, decline.network, decline.advice)
        case.category = category
        if category in self.models.WAIT_FOR_MEMBER:
            curable = (
                category == self.models.DeclineCategory.HARD
                and decline.code in self.caps.CURABLE_HARD_CODES
            )
            case.block_reason = self.models.DeclineCategory.CUSTOMER_ACTION if curable else category
            case.blocked_card = card
        elif case.blocked_card != card:
            case.block_reason, case.blocked_card = "", ""
        self._replan(case, category, now)
        return category

    # -- the replay --
    def replay(self, world: World, h: Household, referee: Referee) -> Outcome:
        window = dt.timedelta(days=self.policy.window_days)
        cases = [Case(i, h.failed_at, h.failed_at + window) for i in range(h.invoices)]
        history: dict[str, list[dt.datetime]] = {"original": []}
        dead: set[str] = set()
        on_file = "original"
        outcome = Outcome()
        for case in cases:  # the billing run's attempts
            history["original"].append(h.failed_at)
            referee.attempt("original", h.brand, h.failed_at, first=True)
            referee.declined("original", h.brand, h.decline)
            category = self._failed(case, "original", h.decline, h.failed_at)
            if self._never_again(h.decline, category, h.brand):
                dead.add("original")
        update_at = h.update_at
        end = h.failed_at + HORIZON
        while True:
            open_cases = [c for c in cases if c.recovered_at is None]
            due = [(r.due, c.index, r) for c in open_cases for r in c.pending]
            next_retry = min(due, key=lambda item: (item[0], item[1]), default=None)
            updates_first = next_retry is None or (
                update_at is not None and update_at <= next_retry[0]
            )
            if update_at is not None and open_cases and update_at <= end and updates_first:
                on_file = "new"
                history.setdefault("new", [])
                for case in open_cases:  # ``retry_after_method_update``
                    case.block_reason, case.blocked_card = "", ""
                    case.pending.append(
                        Retry(update_at, self.models.RetryReason.METHOD_UPDATED, "", "new")
                    )
                update_at = None
                continue
            if next_retry is None or next_retry[0] > end:
                break
            at, index, retry = next_retry
            case = cases[index]
            case.pending.remove(retry)
            card = self._card_for(case, retry, on_file, dead)
            if card is None:
                continue
            brand = h.brand if card == "original" else "visa"
            recent = [t for t in history[card] if at - self.caps.LONGEST_PERIOD < t <= at]
            capped = self.caps.cap_free_at(recent, at, self.caps.cap_rules(brand))
            if capped is not None:
                free_at = capped[1]
                if retry.reason == self.models.RetryReason.POLICY and free_at <= case.window_end:
                    retry.due = free_at
                    case.pending.append(retry)
                continue
            if retry.reason == self.models.RetryReason.POLICY:
                case.retries_made += 1
            history[card].append(at)
            referee.attempt(card, brand, at)
            outcome.attempts += 1
            decline = world.charge(h, card, at)
            if decline is None:
                case.recovered_at, case.pending = at, []
                continue
            referee.declined(card, brand, decline)
            category = self._failed(case, card, decline, at)
            if self._never_again(decline, category, brand):
                dead.add(card)
        outcome.recovered_at = [c.recovered_at for c in cases]
        return outcome

    def _card_for(self, case: Case, retry: Retry, on_file: str, dead: set[str]) -> str | None:
        """``retries.retry_method`` and the checks of ``retries._claim``."""
        candidates = [c for c in (retry.card, on_file) if c is not None]
        usable = [
            c
            for c in candidates
            if not (case.block_reason and c == case.blocked_card) and c not in dead
        ]
        return usable[0] if usable else None


class NaivePolicy:
    """Every 3 days, 4 times, on the card on file, whatever the decline; no limits."""

    name = "naive (every 3 days, 4 times)"

    def __init__(self) -> None:
        from dunning.timing import fixed_retry_times

        self.fixed_retry_times = fixed_retry_times

    def replay(self, world: World, h: Household, referee: Referee) -> Outcome:
        end = h.failed_at + HORIZON
        plan = self.fixed_retry_times(h.failed_at, end, 4, 3)
        events: list[tuple[dt.datetime, int, str]] = [
            (at, i, "retry") for i in range(h.invoices) for at in plan
        ]
        if h.update_at is not None and h.update_at <= end:
            events += [(h.update_at, i, "member") for i in range(h.invoices)]
        recovered: list[dt.datetime | None] = [None] * h.invoices
        outcome = Outcome()
        for _ in range(h.invoices):
            referee.attempt("original", h.brand, h.failed_at, first=True)
            referee.declined("original", h.brand, h.decline)
        for at, index, _kind in sorted(events, key=lambda e: (e[0], e[2] != "member", e[1])):
            if recovered[index] is not None:
                continue
            card = "new" if h.update_at is not None and at >= h.update_at else "original"
            brand = h.brand if card == "original" else "visa"
            referee.attempt(card, brand, at)
            outcome.attempts += 1
            decline = world.charge(h, card, at)
            if decline is None:
                recovered[index] = at
            else:
                referee.declined(card, brand, decline)
        outcome.recovered_at = recovered
        return outcome


# --- Running it --------------------------------------------------------------------------


@dataclass
class PolicyResult:
    name: str
    failed: int = 0
    recovered: int = 0
    attempts: int = 0
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


def seeded_decline_table() -> dict[str, dict[str, str]]:
    """The ``DeclineRule`` table as ``0002_seed_policy`` seeds it (``dunning.declines``'s shape)."""
    seed = importlib.import_module("dunning.migrations.0002_seed_policy")
    table: dict[str, dict[str, str]] = {"decline": {}, "network": {}, "advice": {}}
    for category, codes in seed.DECLINE_CODES.items():
        table["decline"].update(dict.fromkeys(codes.split(), category))
    table["network"].update(seed.NETWORK_CODES)
    table["advice"].update({code: category for code, (category, _) in seed.ADVICE_CODES.items()})
    return table


@contextmanager
def seeded_classifier() -> Iterator[None]:
    """``dunning.declines.classify`` reading the seeded table instead of the database."""
    from dunning import declines

    table = seeded_decline_table()
    with mock.patch.object(declines, "decline_table", new=lambda: table):
        yield


def simulate(payments: int = 20_000, seed: int = 2027) -> list[PolicyResult]:
    """Replay ``payments`` failed payments through both policies; one result each."""
    world = World(seed)
    policies: list[OurPolicy | NaivePolicy] = [OurPolicy(), NaivePolicy()]
    results = [PolicyResult(p.name) for p in policies]
    with seeded_classifier():
        for household in world.households(payments):
            for policy, result in zip(policies, results, strict=True):
                referee = Referee()
                outcome = policy.replay(world, household, referee)
                result.failed += household.invoices
                result.failed_by_category[household.category] += household.invoices
                result.attempts += outcome.attempts
                result.violations.update(referee.violations)
                for recovered_at in outcome.recovered_at:
                    if recovered_at is None:
                        continue
                    result.recovered += 1
                    result.recovered_by_category[household.category] += 1
                    days = (recovered_at - household.failed_at) / dt.timedelta(days=1)
                    result.days_to_recover.append(days)
    return results


def format_table(results: list[PolicyResult]) -> str:
    head = (
        f"{'policy':<32}{'failed':>8}{'recovered':>11}{'rate':>8}{'attempts':>10}"
        f"{'att/rec':>9}{'median d':>10}{'violations':>12}  "
        + " ".join(f"{kind:>11}" for kind in VIOLATION_KINDS)
    )
    lines = [head, "-" * len(head)]
    for r in results:
        lines.append(
            f"{r.name:<32}{r.failed:>8,}{r.recovered:>11,}{r.recovery_rate:>8.1%}"
            f"{r.attempts:>10,}{r.attempts_per_recovery:>9.2f}{r.median_days:>10.1f}"
            f"{r.violating_attempts:>12,}  "
            + " ".join(f"{r.violations[kind]:>11,}" for kind in VIOLATION_KINDS)
        )
    lines.append("")
    categories = list(CATEGORY_MIX)
    lines.append(f"{'recovery rate by category':<32}" + "".join(f"{c:>17}" for c in categories))
    for r in results:
        cells = []
        for c in categories:
            failed = r.failed_by_category[c]
            rate = r.recovered_by_category[c] / failed if failed else 0.0
            cells.append(f"{rate:>10.1%} of {failed:>4,}")
        lines.append(f"{r.name:<32}" + "".join(f"{cell:>17}" for cell in cells))
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--payments", type=int, default=20_000, help="failed payments")
    parser.add_argument("--seed", type=int, default=2027)
    args = parser.parse_args()
    started = time.perf_counter()
    results = simulate(args.payments, args.seed)
    print(
        f"Dunning recovery simulation: {args.payments:,} failed payments, seed {args.seed}, "
        f"recovery counted to day {HORIZON.days} ({time.perf_counter() - started:.1f} s)"
    )
    print(format_table(results))
    print(
        "violations: attempts breaking a rule (never_retry: after a hard decline or "
        "Mastercard advice 03/21; caps counted over every attempt on the card)"
    )


if __name__ == "__main__":
    main()
