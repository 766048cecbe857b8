"""MRR movements, subscriber churn (voluntary and involuntary), net MRR churn, ARPU and LTV.

A month's movements compare each member's standing at the end of the month before with
their standing at its end (``docs/reports.md``):

- a subscriber at both ends: **expansion** or **contraction** by the difference (a freeze
  is a contraction to nothing, its end an expansion);
- a subscriber at the end only: **new**, or **reactivation** if they were a subscriber at
  any earlier month's end;
- a subscriber at the start only: **churned**, involuntary if dunning cancelled one of
  their memberships that month (``cancelled_for_nonpayment``), voluntary otherwise.

So start + new + reactivation + expansion − contraction − churned = end, for every month.
Closed months are read from :class:`~billing.models.MrrMonth`; the current month is
computed live from the memberships.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from fractions import Fraction

from django.conf import settings

from config import clock

from ..models import MembershipEvent, MrrMonth, MrrSnapshot
from ..money import divide_round
from .mrr import MembershipMrr, mrr_live, mrr_passed
from .rates import Rate, money_over

NONPAYMENT_EVENT = "cancelled_for_nonpayment"
LTV_TRAILING_MONTHS = 6

# A member's standing at a month's end: (MRR, subscriber).
Standing = tuple[int, bool]


def month_start(day: dt.date) -> dt.date:
    return day.replace(day=1)


def next_month(month: dt.date) -> dt.date:
    return (month.replace(day=28) + dt.timedelta(days=4)).replace(day=1)


def previous_month(month: dt.date) -> dt.date:
    return (month - dt.timedelta(days=1)).replace(day=1)


def month_end(month: dt.date) -> dt.date:
    return next_month(month) - dt.timedelta(days=1)


def by_member(rows: Iterable[MembershipMrr]) -> dict[int, Standing]:
    standing: dict[int, list[int]] = defaultdict(lambda: [0, 0])
    for row in rows:
        entry = standing[row.member_id]
        entry[0] += row.mrr
        entry[1] |= row.subscriber
    return {member: (mrr, bool(sub)) for member, (mrr, sub) in standing.items()}


@dataclass
class Movements:
    """One month's MRR and subscribers at both ends and what moved between them."""

    month: dt.date
    currency: str
    mrr_start: int = 0
    mrr_end: int = 0
    new: int = 0
    reactivation: int = 0
    expansion: int = 0
    contraction: int = 0
    churned_voluntary: int = 0
    churned_involuntary: int = 0
    subscribers_start: int = 0
    subscribers_end: int = 0
    new_subscribers: int = 0
    reactivated_subscribers: int = 0
    churned_voluntary_subscribers: int = 0
    churned_involuntary_subscribers: int = 0
    paying_members: int = 0
    live: bool = False
    # Who is behind each movement (filled when computed, not when read from a closed month).
    members: dict[str, list[int]] = field(default_factory=dict)

    FIELDS = (
        "mrr_start",
        "mrr_end",
        "new",
        "reactivation",
        "expansion",
        "contraction",
        "churned_voluntary",
        "churned_involuntary",
        "subscribers_start",
        "subscribers_end",
        "new_subscribers",
        "reactivated_subscribers",
        "churned_voluntary_subscribers",
        "churned_involuntary_subscribers",
        "paying_members",
    )

    @property
    def churned(self) -> int:
        return self.churned_voluntary + self.churned_involuntary

    @property
    def churned_subscribers(self) -> int:
        return self.churned_voluntary_subscribers + self.churned_involuntary_subscribers

    @property
    def net_movement(self) -> int:
        return self.new + self.reactivation + self.expansion - self.contraction - self.churned

    @property
    def _churn_base(self) -> int:
        # Stripe: active at the start + new since (reactivated members are new since too).
        return self.subscribers_start + self.new_subscribers + self.reactivated_subscribers

    @property
    def subscriber_churn(self) -> Rate:
        return Rate(self.churned_subscribers, self._churn_base)

    @property
    def subscriber_churn_voluntary(self) -> Rate:
        return Rate(self.churned_voluntary_subscribers, self._churn_base)

    @property
    def subscriber_churn_involuntary(self) -> Rate:
        return Rate(self.churned_involuntary_subscribers, self._churn_base)

    @property
    def net_mrr_churn(self) -> Rate:
        """ChartMogul: (churned + contraction − expansion − reactivation) ÷ MRR at the start."""
        lost = self.churned + self.contraction - self.expansion - self.reactivation
        return Rate(lost, self.mrr_start)

    @property
    def net_mrr_churn_voluntary(self) -> Rate:
        """The net MRR churn less its involuntary part (the two add up to the whole)."""
        lost = self.churned_voluntary + self.contraction - self.expansion - self.reactivation
        return Rate(lost, self.mrr_start)

    @property
    def net_mrr_churn_involuntary(self) -> Rate:
        return Rate(self.churned_involuntary, self.mrr_start)

    @property
    def arpu(self) -> int | None:
        """MRR ÷ paying members at the month's end."""
        if not self.paying_members:
            return None
        return divide_round(self.mrr_end, self.paying_members)

    def adds_up(self) -> bool:
        return self.mrr_start + self.net_movement == self.mrr_end and (
            self.subscribers_start
            + self.new_subscribers
            + self.reactivated_subscribers
            - self.churned_subscribers
            == self.subscribers_end
        )


def movements_between(
    month: dt.date,
    before: dict[int, Standing],
    after: dict[int, Standing],
    seen_before: set[int],
    involuntary: set[int],
    passing: dict[int, int] | None = None,
) -> Movements:
    """The month's movements from each member's standing at its two ends.  ``seen_before``:
    members who were subscribers at an earlier month's end; ``involuntary``: members dunning
    cancelled a membership of during the month; ``passing``: members who were subscribers
    at neither end but brought in MRR during the month, with that MRR (they are new or
    reactivated and churned in the same month, by the same amount)."""
    result = Movements(month=month, currency=settings.GYM_CURRENCY)
    who: dict[str, list[int]] = defaultdict(list)
    for member, mrr in sorted((passing or {}).items()):
        if before.get(member, (0, False))[1] or after.get(member, (0, False))[1] or mrr <= 0:
            continue
        came = "reactivation" if member in seen_before else "new"
        went = "involuntary" if member in involuntary else "voluntary"
        setattr(result, came, getattr(result, came) + mrr)
        counter = "reactivated_subscribers" if came == "reactivation" else "new_subscribers"
        setattr(result, counter, getattr(result, counter) + 1)
        setattr(result, f"churned_{went}", getattr(result, f"churned_{went}") + mrr)
        counter = f"churned_{went}_subscribers"
        setattr(result, counter, getattr(result, counter) + 1)
        who[came].append(member)
        who[f"churned_{went}"].append(member)
    for member in sorted(before.keys() | after.keys()):
        mrr_before, was = before.get(member, (0, False))
        mrr_after, is_now = after.get(member, (0, False))
        result.mrr_start += mrr_before
        result.mrr_end += mrr_after
        result.subscribers_start += was
        result.subscribers_end += is_now
        result.paying_members += mrr_after > 0
        if was and is_now:
            if mrr_after > mrr_before:
                result.expansion += mrr_after - mrr_before
                who["expansion"].append(member)
            elif mrr_after < mrr_before:
                result.contraction += mrr_before - mrr_after
                who["contraction"].append(member)
        elif is_now:
            kind = "reactivation" if member in seen_before else "new"
            setattr(result, kind, getattr(result, kind) + mrr_after)
            counter = "reactivated_subscribers" if kind == "reactivation" else "new_subscribers"
            setattr(result, counter, getattr(result, counter) + 1)
            who[kind].append(member)
        elif was:
            kind = "involuntary" if member in involuntary else "voluntary"
            setattr(result, f"churned_{kind}", getattr(result, f"churned_{kind}") + mrr_before)
            counter = f"churned_{kind}_subscribers"
            setattr(result, counter, getattr(result, counter) + 1)
            who[f"churned_{kind}"].append(member)
    result.members = dict(who)
    return result


# --- Reading the records --------------------------------------------------------------


def snapshot_standing(month: dt.date) -> dict[int, Standing]:
    """Each member's standing at the end of a closed ``month``, from its snapshot."""
    standing: dict[int, Standing] = {}
    rows = MrrSnapshot.objects.filter(month=month).values_list("member_id", "mrr")
    for member, mrr in rows:
        held = standing.get(member, (0, True))
        standing[member] = (held[0] + mrr, True)
    return standing


def seen_as_subscribers(member_ids: Iterable[int], before_month: dt.date) -> set[int]:
    """Which of ``member_ids`` were subscribers at the end of a month before ``before_month``."""
    # Asked even for no one: the statements per figure stay the same whatever happened.
    ids = list(member_ids)
    return set(
        MrrSnapshot.objects.filter(month__lt=before_month, member_id__any=ids)
        .values_list("member_id", flat=True)
        .distinct()
    )


def cancelled_for_nonpayment(month: dt.date, member_ids: Iterable[int]) -> set[int]:
    """Members dunning cancelled a membership of during ``month`` (the gym's dates)."""
    ids = list(member_ids)
    return set(
        MembershipEvent.objects.filter(
            kind=NONPAYMENT_EVENT,
            created_at__gte=clock.local_midnight(month),
            created_at__lt=clock.local_midnight(next_month(month)),
            membership__member_id__any=ids,
        ).values_list("membership__member_id", flat=True)
    )


def movements_compute(
    month: dt.date, before: dict[int, Standing], after: dict[int, Standing]
) -> Movements:
    """:func:`movements_between`, with who is new or reactivated, who left involuntarily
    and who came and went within the month read from the records."""
    passing = {
        member: mrr
        for member, (mrr, _sub) in by_member(
            mrr_passed(month, min(month_end(month), clock.today()))
        ).items()
        if not before.get(member, (0, False))[1] and not after.get(member, (0, False))[1]
    }
    arrived = [m for m, (_, sub) in after.items() if sub and not before.get(m, (0, False))[1]]
    left = [m for m, (_, sub) in before.items() if sub and not after.get(m, (0, False))[1]]
    return movements_between(
        month,
        before,
        after,
        seen_as_subscribers([*arrived, *passing], month),
        cancelled_for_nonpayment(month, [*left, *passing]),
        passing,
    )


def movements_current(today: dt.date) -> Movements:
    """This month so far: the last closed month's snapshot against the memberships now."""
    month = month_start(today)
    result = movements_compute(
        month, snapshot_standing(previous_month(month)), by_member(mrr_live())
    )
    result.live = True
    return result


def movements_closed(first: dt.date, last: dt.date) -> list[Movements]:
    """The closed months from ``first`` to ``last`` (first days) that have been written."""
    return [
        Movements(
            month=row.month,
            currency=row.currency,
            **{name: getattr(row, name) for name in Movements.FIELDS},
        )
        for row in MrrMonth.objects.filter(month__gte=first, month__lte=last).order_by("month")
    ]


def movements_range(first: dt.date, last: dt.date, today: dt.date) -> list[Movements]:
    """Months ``first``..``last`` (first days): closed ones as written, this one live."""
    months = movements_closed(first, min(last, previous_month(month_start(today))))
    if first <= month_start(today) <= last:
        months.append(movements_current(today))
    return months


def trailing_churn(months: Sequence[Movements]) -> Fraction | None:
    """The average subscriber churn rate of the last six months given (ChartMogul's LTV)."""
    rates = [m.subscriber_churn.fraction for m in months[-LTV_TRAILING_MONTHS:]]
    known = [rate for rate in rates if rate is not None]
    if not known:
        return None
    return sum(known, Fraction(0)) / len(known)


def lifetime_value(arpu: int | None, churn: Fraction | None) -> int | None:
    """ARPU ÷ the trailing churn rate, in minor units (``None`` without churn)."""
    if arpu is None:
        return None
    return money_over(arpu, churn)
