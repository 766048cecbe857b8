"""Card-network reattempt rules, checked before every charge dunning makes.

Counted per card credential (the gateway's card fingerprint) over every
``PaymentAttempt`` on that card, whoever started it: stricter than the networks,
which count only reattempts, so the limits can never be exceeded.

- Visa (and any brand without its own rule): at most ``DUNNING_VISA_REATTEMPTS_30D``
  (15) in a rolling 30 days.
- Mastercard: at most 10 in 24 hours and 35 in a rolling 30 days.
- Never again on a card that had a hard decline, or a Mastercard merchant advice code
  03 or 21, whatever the editable decline rules say.

:func:`cap_free_at` is pure; :func:`credential_check` reads the database and must run
inside the transaction that writes the attempt, which it serialises per credential.

What makes the caps hold across batches, workers and concurrent runs:

- every decision to charge a card takes a transaction-level advisory lock on the card's
  fingerprint (:func:`credentials_lock`, all of a batch's cards in one statement, in key
  order) and holds it until the attempts it writes are committed, so the next decision
  on that card sees them (committed, or claimed by a transaction that just committed);
- the history read under that lock has no upper bound in time: attempts written after
  the run's ``now`` (earlier batches, another run) are counted as well.

See ``docs/locking.md`` for where this lock sits in the revenue loop's lock order.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from django.db.models import Q

from billing.models import AttemptStatus, PaymentAttempt
from billing.services.payments import NOT_SENT_CODES, cards_lock

from . import conf
from .models import DeclineCategory

MASTERCARD_NO_RETRY_ADVICE = ("03", "21")
# A hard decline that the card updater can cure (declines.md): the case waits for the
# update instead of blocking the card for good.
CURABLE_HARD_CODES = ("new_account_information_available",)
LONGEST_PERIOD = dt.timedelta(days=30)


@dataclass(frozen=True)
class CapRule:
    name: str
    limit: int
    period: dt.timedelta


def cap_rules(brand: str) -> list[CapRule]:
    if brand.lower() in ("mastercard", "mc"):
        return [
            CapRule("mastercard_24h", conf.mastercard_limit_24h(), dt.timedelta(hours=24)),
            CapRule("mastercard_30d", conf.mastercard_limit_30d(), dt.timedelta(days=30)),
        ]
    return [CapRule("visa_30d", conf.visa_limit_30d(), dt.timedelta(days=30))]


def cap_free_at(
    history: Sequence[dt.datetime], now: dt.datetime, rules: Sequence[CapRule]
) -> tuple[str, dt.datetime] | None:
    """``None`` if one more attempt at ``now`` keeps every rolling window within its limit.

    Otherwise the rule that binds longest and the first instant another attempt fits.
    A window is ``(t - period, t]``: an attempt exactly one period ago no longer counts.
    Attempts stamped after ``now`` count too: a run keeps one ``now`` for all its batches,
    while the attempts that its earlier batches (or a concurrent run) wrote carry the
    instant they were written, and the new attempt will carry a later one still.
    """
    worst: tuple[str, dt.datetime] | None = None
    for rule in rules:
        recent = sorted(t for t in history if now - rule.period < t)
        if len(recent) < rule.limit:
            continue
        free_at = recent[len(recent) - rule.limit] + rule.period
        if worst is None or free_at > worst[1]:
            worst = (rule.name, free_at)
    return worst


def never_again_condition() -> Q:
    """Attempts after which a card credential is never retried."""
    return (Q(decline_category=DeclineCategory.HARD) & ~Q(decline_code__in=CURABLE_HARD_CODES)) | Q(
        card_brand__in=("mastercard", "mc"), advice_code__in=MASTERCARD_NO_RETRY_ADVICE
    )


@dataclass(frozen=True)
class CredentialVerdict:
    allowed: bool
    reason: str = ""  # "hard_decline" or the binding cap's name
    retry_after: dt.datetime | None = None  # when a capped credential frees up


def credentials_lock(fingerprints: Iterable[str]) -> None:
    """Serialise checks on these cards until the transaction ends (PostgreSQL only).

    Billing's :func:`~billing.services.payments.cards_lock`: the same locks its charges
    hold while a card is being charged, so a decision here waits for a charge in flight
    on the card and sees its outcome.
    """
    cards_lock(fingerprints)


def credentials_dead(fingerprints: Iterable[str]) -> set[str]:
    """The cards among ``fingerprints`` that had a decline after which they are never charged."""
    wanted = {fp for fp in fingerprints if fp}
    if not wanted:
        return set()
    return set(
        PaymentAttempt.objects.filter(
            card_fingerprint__in=wanted,
            status__in=(AttemptStatus.FAILED, AttemptStatus.REQUIRES_ACTION),
        )
        .filter(never_again_condition())
        .values_list("card_fingerprint", flat=True)
        .distinct()
    )


def credential_dead(fingerprint: str) -> bool:
    """Whether the card had a decline after which it is never charged again."""
    return fingerprint in credentials_dead([fingerprint])


def credentials_history(
    fingerprints: Iterable[str], now: dt.datetime
) -> dict[str, list[dt.datetime]]:
    """Every attempt on each card from the longest cap period before ``now`` on, including
    those written after ``now`` (by earlier batches of the same run, or another run);
    attempts billing withheld (never sent) are not reattempts and are left out."""
    history: dict[str, list[dt.datetime]] = defaultdict(list)
    wanted = {fp for fp in fingerprints if fp}
    if not wanted:
        return history
    for fingerprint, at in (
        PaymentAttempt.objects.filter(
            card_fingerprint__in=wanted, created_at__gt=now - LONGEST_PERIOD
        )
        # Charges billing withheld never reached a bank (card_blocked, card_resting).
        .exclude(status=AttemptStatus.FAILED, decline_code__in=NOT_SENT_CODES)
        .values_list("card_fingerprint", "created_at")
    ):
        history[fingerprint].append(at)
    return history


def credential_verdict(
    fingerprint: str,
    brand: str,
    now: dt.datetime,
    *,
    dead: set[str],
    history: dict[str, list[dt.datetime]],
) -> CredentialVerdict:
    """:func:`credential_check` on what :func:`credentials_dead` and ``_history`` read."""
    if not fingerprint:
        return CredentialVerdict(True)
    if fingerprint in dead:
        return CredentialVerdict(False, "hard_decline")
    capped = cap_free_at(history.get(fingerprint, []), now, cap_rules(brand))
    if capped is None:
        return CredentialVerdict(True)
    return CredentialVerdict(False, capped[0], capped[1])


def credential_check(fingerprint: str, brand: str, now: dt.datetime) -> CredentialVerdict:
    """May dunning charge this card now?  Call inside the transaction that writes the attempt."""
    if not fingerprint:
        return CredentialVerdict(True)
    credentials_lock([fingerprint])
    return credential_verdict(
        fingerprint,
        brand,
        now,
        dead=credentials_dead([fingerprint]),
        history=credentials_history([fingerprint], now),
    )
