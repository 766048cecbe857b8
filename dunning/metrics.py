"""Recovery metrics over a date range: the selector behind the API and the admin panel.

:func:`dunning_metrics` answers in a fixed number of aggregate queries (about ten),
whatever the number of cases.  The range is a pair of gym-local dates, both included.

Three populations are measured, each named after what it counts:

- **Renewals issued in the range** (``billing_reason="cycle"``, by ``issued_at``): the
  failed-payment rate is those with at least one failed attempt over all of them.  The
  attempt rate is failed over settled attempts on renewal invoices made in the range
  (the billing run's, retries, the member's and staff's).
- **The cohort:** invoices whose first failure (``DunningCase.opened_at``) falls in the
  range.  Recovery rates, recovered revenue, the median time to recover and the
  breakdowns follow that cohort to today, so a recent range still improves while its
  cases are open.  *Recovered* is a case closed as recovered; *recovered revenue* is
  every payment (net of refunds) on the failed invoice since the failure, plus the
  payment plan's installments, so partial payments count by amount.  The failed amount
  is the amount of the first failed attempt.  Amounts are per currency, never summed
  across currencies.
- **Memberships:** involuntary churn is memberships cancelled for non-payment in the
  range (billing's ``cancelled_for_nonpayment`` event) over memberships live on the
  first day (started, not pending, not ended before it).

Breakdowns of the cohort: by the decline category of the *first* failure (its own
recovery rate), by the attempt number that succeeded, and by channel (share of the
recoveries).  The channel comes from the recovering payment: its attempt's trigger
(retry, member, staff, billing run), else its source (cash, PromptPay or transfer at the
desk), refined by dunning's own records (a retry made because the member updated their
card; a completed payment plan).
"""

from __future__ import annotations

import datetime as dt
import statistics
from collections import Counter
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from django.db import connection
from django.db.models import (
    Aggregate,
    CharField,
    Count,
    DurationField,
    Exists,
    F,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Sum,
    Value,
)
from django.db.models.functions import Coalesce, NullIf
from django.utils.functional import Promise
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from billing.models import (
    AttemptStatus,
    AttemptTrigger,
    BillingReason,
    Invoice,
    Membership,
    MembershipEvent,
    MembershipStatus,
    Payment,
    PaymentAttempt,
    PaymentSource,
)
from config import clock

from .models import (
    ACTIVE_CASE_STATUSES,
    CaseStatus,
    DeclineCategory,
    DunningCase,
    PaymentPlanInstallment,
    RecoveryRoute,
    RetryReason,
    RetryStatus,
    ScheduledRetry,
)

FAILED_ATTEMPT = (AttemptStatus.FAILED, AttemptStatus.REQUIRES_ACTION)
SETTLED_ATTEMPT = (AttemptStatus.SUCCEEDED, *FAILED_ATTEMPT)
DESK_SOURCES = (PaymentSource.CASH, PaymentSource.PROMPTPAY, PaymentSource.BANK_TRANSFER)
# Billing's membership event for a cancellation by dunning.
NONPAYMENT_EVENT = "cancelled_for_nonpayment"
RATE_PLACES = Decimal("0.0001")


class RecoveryChannel:
    """How a recovered invoice was paid (the keys of :attr:`DunningMetrics.by_channel`)."""

    RETRY = "retry"
    CARD_UPDATE = "card_update"
    MEMBER = "member"
    FRONT_DESK = "front_desk"
    STAFF = "staff"
    BILLING_RUN = "billing_run"
    PAYMENT_PLAN = "payment_plan"

    LABELS: dict[str, Promise] = {
        RETRY: _("Automatic retry"),
        CARD_UPDATE: _("Retry after the member updated the card"),
        MEMBER: _("Hosted page or portal"),
        FRONT_DESK: _("Front desk (cash, PromptPay, transfer)"),
        STAFF: _("Staff"),
        BILLING_RUN: _("Billing run"),
        PAYMENT_PLAN: _("Payment plan completed"),
    }
    ORDER = (RETRY, CARD_UPDATE, MEMBER, FRONT_DESK, STAFF, BILLING_RUN, PAYMENT_PLAN)


# --- What the selector returns ----------------------------------------------------------


def whole_seconds(duration: dt.timedelta) -> int:
    """``duration`` in whole seconds (microseconds dropped), without float arithmetic."""
    return duration.days * 86_400 + duration.seconds


@dataclass(frozen=True)
class Rate:
    """``numerator / denominator`` as a fraction rounded to 4 places (``None`` for 0/0)."""

    numerator: int
    denominator: int

    @property
    def value(self) -> Decimal | None:
        if not self.denominator:
            return None
        return (Decimal(self.numerator) / Decimal(self.denominator)).quantize(
            RATE_PLACES, rounding=ROUND_HALF_UP
        )

    @property
    def percent(self) -> Decimal | None:
        """The rate in percent with one decimal, for display."""
        value = self.value
        return None if value is None else (value * 100).quantize(Decimal("0.1"))


@dataclass(frozen=True)
class CurrencyRecovery:
    """Failed and recovered money of the cohort in one currency (minor units)."""

    currency: str
    failed_amount: int
    recovered_amount: int

    @property
    def rate(self) -> Rate:
        return Rate(self.recovered_amount, self.failed_amount)


@dataclass(frozen=True)
class CategoryRecovery:
    """Cohort cases whose first decline had this category, and how many were recovered."""

    category: str
    label: str
    failed: int
    recovered: int

    @property
    def rate(self) -> Rate:
        return Rate(self.recovered, self.failed)


@dataclass(frozen=True)
class RecoveryShare:
    """Recoveries in one group (attempt number or channel) and their share of all."""

    key: str
    label: str
    recovered: int
    share: Rate


@dataclass(frozen=True)
class CohortOutcomes:
    """Where the cohort's cases are now."""

    recovered: int = 0
    in_dunning: int = 0
    written_off: int = 0
    closed: int = 0  # settled without money: credited, or closed by staff


@dataclass(frozen=True)
class DunningMetrics:
    start: dt.date
    end: dt.date
    as_of: dt.datetime
    # Renewals issued in the range.
    renewal_invoices: int
    failed_renewal_invoices: int
    attempts: int
    failed_attempts: int
    # The cohort: first failure in the range.
    failed_invoices: int
    recovered_invoices: int
    outcomes: CohortOutcomes
    amounts: list[CurrencyRecovery]
    median_time_to_recover: dt.timedelta | None
    by_category: list[CategoryRecovery]
    by_attempt: list[RecoveryShare]
    by_channel: list[RecoveryShare]
    # Memberships.
    memberships_at_start: int
    cancelled_for_nonpayment: int

    @property
    def failed_payment_rate(self) -> Rate:
        return Rate(self.failed_renewal_invoices, self.renewal_invoices)

    @property
    def attempt_failure_rate(self) -> Rate:
        return Rate(self.failed_attempts, self.attempts)

    @property
    def recovery_rate(self) -> Rate:
        return Rate(self.recovered_invoices, self.failed_invoices)

    @property
    def involuntary_churn(self) -> Rate:
        return Rate(self.cancelled_for_nonpayment, self.memberships_at_start)

    @property
    def median_days_hours(self) -> tuple[int, int] | None:
        """The median time to recover as whole days and hours (to the nearest hour)."""
        if self.median_time_to_recover is None:
            return None
        hours = (whole_seconds(self.median_time_to_recover) + 1800) // 3600
        return divmod(hours, 24)


# --- Queries ------------------------------------------------------------------------------


class Median(Aggregate):
    """PostgreSQL's ``percentile_cont(0.5)`` over an interval column."""

    name = "Median"
    function = "PERCENTILE_CONT"
    template = "%(function)s(0.5) WITHIN GROUP (ORDER BY %(expressions)s)"
    output_field = DurationField()


def _instants(start: dt.date, end: dt.date) -> tuple[dt.datetime, dt.datetime]:
    """``[start 00:00, the day after end 00:00)`` in the gym's time zone."""
    return clock.local_midnight(start), clock.local_midnight(end + dt.timedelta(days=1))


def _failed_attempts_of_invoice() -> QuerySet[PaymentAttempt]:
    return PaymentAttempt.objects.filter(
        invoice_id=OuterRef("invoice_id"), status__in=FAILED_ATTEMPT
    ).order_by("attempt_number")


def _renewals(since: dt.datetime, until: dt.datetime) -> tuple[int, int]:
    failed = PaymentAttempt.objects.filter(invoice_id=OuterRef("pk"), status__in=FAILED_ATTEMPT)
    row = (
        Invoice.objects.filter(
            billing_reason=BillingReason.CYCLE, issued_at__gte=since, issued_at__lt=until
        )
        .annotate(has_failed=Exists(failed))
        .aggregate(issued=Count("pk"), failed=Count("pk", filter=Q(has_failed=True)))
    )
    return row["issued"], row["failed"]


def _renewal_attempts(since: dt.datetime, until: dt.datetime) -> tuple[int, int]:
    row = PaymentAttempt.objects.filter(
        invoice__billing_reason=BillingReason.CYCLE,
        created_at__gte=since,
        created_at__lt=until,
        status__in=SETTLED_ATTEMPT,
    ).aggregate(total=Count("pk"), failed=Count("pk", filter=Q(status__in=FAILED_ATTEMPT)))
    return row["total"], row["failed"]


def _cohort_by_currency(
    cohort: QuerySet[DunningCase],
) -> tuple[dict[str, int], CohortOutcomes, dict[str, int]]:
    """``({currency: failed amount}, outcomes, {currency: cases})``, in one query."""
    first_amount = Subquery(_failed_attempts_of_invoice().values("amount")[:1])
    rows = (
        cohort.annotate(failed_amount=Coalesce(first_amount, F("invoice__total")))
        .values("currency")
        .annotate(
            cases=Count("pk"),
            amount=Sum("failed_amount"),
            recovered=Count("pk", filter=Q(status=CaseStatus.RECOVERED)),
            in_dunning=Count("pk", filter=Q(status__in=ACTIVE_CASE_STATUSES)),
            written_off=Count("pk", filter=Q(status=CaseStatus.WRITTEN_OFF)),
            closed=Count("pk", filter=Q(status=CaseStatus.CLOSED)),
        )
        .order_by("currency")
    )
    amounts: dict[str, int] = {}
    cases: dict[str, int] = {}
    recovered = in_dunning = written_off = closed = 0
    for row in rows:
        amounts[row["currency"]] = int(row["amount"] or 0)
        cases[row["currency"]] = row["cases"]
        recovered += row["recovered"]
        in_dunning += row["in_dunning"]
        written_off += row["written_off"]
        closed += row["closed"]
    outcomes = CohortOutcomes(recovered, in_dunning, written_off, closed)
    return amounts, outcomes, cases


def _recovered_money(cohort: QuerySet[DunningCase]) -> dict[str, int]:
    """Payments (net of refunds) on the cohort's failed invoices since the failure, plus
    the installments of their payment plans, per currency."""
    installment_invoices = PaymentPlanInstallment.objects.filter(
        plan__case__in=cohort.values("pk")
    ).values("invoice_id")
    on_failed_invoice = Q(
        invoice__dunning_case__in=cohort.values("pk"),
        received_at__gte=F("invoice__dunning_case__opened_at"),
    )
    rows = (
        Payment.objects.filter(on_failed_invoice | Q(invoice_id__in=installment_invoices))
        .values("currency")
        .annotate(total=Sum(F("amount") - F("amount_refunded")))
        .order_by("currency")
    )
    return {row["currency"]: int(row["total"] or 0) for row in rows}


def _median_time_to_recover(recovered: QuerySet[DunningCase]) -> dt.timedelta | None:
    recovered = recovered.filter(time_to_recover__isnull=False)
    if connection.vendor == "postgresql":
        median = recovered.aggregate(median=Median("time_to_recover"))["median"]
    else:  # the SQLite demo: no percentile aggregate, and demo data is small
        durations = list(recovered.values_list("time_to_recover", flat=True))
        median = statistics.median(durations) if durations else None  # type: ignore[type-var]
    if median is None:
        return None
    return dt.timedelta(seconds=whole_seconds(median) + (median.microseconds >= 500_000))


def _by_category(cohort: QuerySet[DunningCase]) -> list[CategoryRecovery]:
    first_category = NullIf(
        Subquery(_failed_attempts_of_invoice().values("decline_category")[:1]), Value("")
    )
    rows = (
        cohort.annotate(
            first_category=Coalesce(
                first_category,
                NullIf(F("last_decline_category"), Value("")),
                Value(DeclineCategory.PROCESSING),
                output_field=CharField(),
            )
        )
        .values("first_category")
        .annotate(failed=Count("pk"), recovered=Count("pk", filter=Q(status=CaseStatus.RECOVERED)))
    )
    found = {row["first_category"]: row for row in rows}
    order = [*DeclineCategory.values, *sorted(set(found) - set(DeclineCategory.values))]
    labels = dict(DeclineCategory.choices)
    return [
        CategoryRecovery(
            category=category,
            label=str(labels.get(category, category)),
            failed=found[category]["failed"],
            recovered=found[category]["recovered"],
        )
        for category in order
        if category in found
    ]


def _by_attempt(recovered: QuerySet[DunningCase], total: int) -> list[RecoveryShare]:
    succeeded = PaymentAttempt.objects.filter(
        invoice_id=OuterRef("invoice_id"), status=AttemptStatus.SUCCEEDED
    )
    rows = (
        recovered.annotate(number=Subquery(succeeded.values("attempt_number")[:1]))
        .values("number")
        .annotate(recovered=Count("pk"))
    )
    counts = {row["number"]: row["recovered"] for row in rows}
    numbers = sorted(n for n in counts if n is not None)
    result = [
        RecoveryShare(
            key=str(number),
            label=str(_("Attempt %(number)s") % {"number": number}),
            recovered=counts[number],
            share=Rate(counts[number], total),
        )
        for number in numbers
    ]
    if None in counts:
        result.append(
            RecoveryShare(
                key="none",
                label=str(_("Not by a card charge (desk, payment plan)")),
                recovered=counts[None],
                share=Rate(counts[None], total),
            )
        )
    return result


def channel_of(
    route: str, source: str | None, trigger: str | None, retry_reason: str | None
) -> str:
    """The channel of a recovery, from the recovering payment and dunning's own records."""
    C = RecoveryChannel
    if route == RecoveryRoute.PAYMENT_PLAN:
        return C.PAYMENT_PLAN
    if trigger == AttemptTrigger.RETRY:
        return C.CARD_UPDATE if retry_reason == RetryReason.METHOD_UPDATED else C.RETRY
    by_trigger = {
        AttemptTrigger.BILLING_RUN: C.BILLING_RUN,
        AttemptTrigger.CUSTOMER: C.MEMBER,
        AttemptTrigger.STAFF: C.STAFF,
    }
    if trigger in by_trigger:
        return by_trigger[AttemptTrigger(trigger)]
    if source in DESK_SOURCES:
        return C.FRONT_DESK
    return C.STAFF if source is not None else route  # card or credit taken by hand


def _by_channel(recovered: QuerySet[DunningCase], total: int) -> list[RecoveryShare]:
    """Grouped in SQL by what decides the channel (a handful of combinations), then named.

    Grouping by a ``CASE`` over the subqueries would repeat each subquery in every branch.
    """
    latest = Payment.objects.filter(
        invoice_id=OuterRef("invoice_id"), received_at__gte=OuterRef("opened_at")
    ).order_by("-received_at", "-pk")
    # Dunning's own record of the retry that collected (no join: the planner would scan
    # every successful attempt for each case).
    successful_retry = ScheduledRetry.objects.filter(
        case_id=OuterRef("pk"), invoice_id=OuterRef("invoice_id"), status=RetryStatus.SUCCEEDED
    )
    rows = (
        recovered.annotate(
            pay_source=Subquery(latest.values("source")[:1]),
            pay_trigger=Subquery(latest.values("attempt__trigger")[:1]),
            retry_reason=Subquery(successful_retry.values("reason")[:1]),
        )
        .values("recovered_route", "pay_source", "pay_trigger", "retry_reason")
        .annotate(recovered=Count("pk"))
        .order_by()
    )
    counts: Counter[str] = Counter()
    for row in rows:
        channel = channel_of(
            row["recovered_route"], row["pay_source"], row["pay_trigger"], row["retry_reason"]
        )
        counts[channel] += row["recovered"]
    order = [*RecoveryChannel.ORDER, *sorted(set(counts) - set(RecoveryChannel.ORDER))]
    return [
        RecoveryShare(
            key=channel,
            label=str(RecoveryChannel.LABELS.get(channel, channel)),
            recovered=counts[channel],
            share=Rate(counts[channel], total),
        )
        for channel in order
        if channel in counts
    ]


def _memberships(start: dt.date, since: dt.datetime, until: dt.datetime) -> tuple[int, int]:
    at_start = (
        Membership.objects.filter(started_on__lte=start)
        .exclude(status=MembershipStatus.PENDING)
        .filter(Q(ended_on__isnull=True) | Q(ended_on__gte=start))
        .count()
    )
    cancelled = (
        MembershipEvent.objects.filter(
            kind=NONPAYMENT_EVENT, created_at__gte=since, created_at__lt=until
        )
        .values("membership_id")
        .distinct()
        .count()
    )
    return at_start, cancelled


# The dates a report may cover.
EARLIEST_DATE = dt.date(2000, 1, 1)
LATEST_DATE = dt.date(2999, 12, 31)


def range_problem(start: dt.date, end: dt.date) -> str | None:
    """Why metrics cannot be read from ``start`` to ``end`` (a message), or ``None``."""
    if not (EARLIEST_DATE <= start <= LATEST_DATE and EARLIEST_DATE <= end <= LATEST_DATE):
        return gettext("Choose dates from %(earliest)s to %(latest)s.") % {
            "earliest": EARLIEST_DATE.isoformat(),
            "latest": LATEST_DATE.isoformat(),
        }
    if start > end:
        return gettext("The end must not be before the start.")
    return None


def dunning_metrics(start: dt.date, end: dt.date) -> DunningMetrics:
    """Recovery metrics for failures (and renewals, and cancellations) from ``start`` to
    ``end``, both gym-local dates and included, as the database stands now.

    Raises ``ValueError`` for a range :func:`range_problem` refuses.
    """
    problem = range_problem(start, end)
    if problem:
        raise ValueError(problem)
    since, until = _instants(start, end)
    cohort = DunningCase.objects.filter(opened_at__gte=since, opened_at__lt=until)
    recovered = cohort.filter(status=CaseStatus.RECOVERED)

    issued, failed_renewals = _renewals(since, until)
    attempts, failed_attempts = _renewal_attempts(since, until)
    failed_amounts, outcomes, cases = _cohort_by_currency(cohort)
    recovered_money = _recovered_money(cohort)
    at_start, cancelled = _memberships(start, since, until)
    currencies = sorted(set(failed_amounts) | set(recovered_money))
    return DunningMetrics(
        start=start,
        end=end,
        as_of=clock.now(),
        renewal_invoices=issued,
        failed_renewal_invoices=failed_renewals,
        attempts=attempts,
        failed_attempts=failed_attempts,
        failed_invoices=sum(cases.values()),
        recovered_invoices=outcomes.recovered,
        outcomes=outcomes,
        amounts=[
            CurrencyRecovery(
                currency=currency,
                failed_amount=failed_amounts.get(currency, 0),
                recovered_amount=recovered_money.get(currency, 0),
            )
            for currency in currencies
        ],
        median_time_to_recover=_median_time_to_recover(recovered),
        by_category=_by_category(cohort),
        by_attempt=_by_attempt(recovered, outcomes.recovered),
        by_channel=_by_channel(recovered, outcomes.recovered),
        memberships_at_start=at_start,
        cancelled_for_nonpayment=cancelled,
    )
