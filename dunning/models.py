"""Dunning's data: the decline policy, retry policies, the overdue ladder, and the cases.

The policy is data staff can edit (``DeclineRule``, ``RetryPolicy``, ``LadderStep``);
code in ``dunning.services`` evaluates it.  A ``DunningCase`` follows one failed
invoice from the first failure to recovery or write-off; its ``ScheduledRetry``,
``StepExecution``, ``DunningMessage`` and ``DunningEvent`` rows are the evidence of
every step taken.  Amounts are integer minor units in the case's currency.
"""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q, Value
from django.db.models.functions import Coalesce
from django.template import TemplateDoesNotExist
from django.template.loader import get_template
from django.utils.translation import gettext_lazy as _

from billing.fields import PositiveMoneyField
from billing.models import Invoice, Membership, PaymentAttempt, PaymentMethod, Plan
from config.dates import format_date, format_datetime
from members.models import GymProfile, Member, MemberNote

from .paydays import country_known


class DeclineCategory(models.TextChoices):
    HARD = "hard", _("Hard: never retry this card")
    CUSTOMER_ACTION = "customer_action", _("Needs the member to act")
    FUNDS = "funds", _("Insufficient funds")
    TEMPORARY = "temporary", _("Temporary issuer or network problem")
    GENERIC = "generic", _("No reason given")
    # "Do not honor" (05): a catch-all that is often a funds shortfall in disguise.
    MAYBE_FUNDS = "maybe_funds", _("Do not honor: often low funds")
    PROCESSING = "processing", _("Processing error or unknown outcome")


# Categories whose card is not retried until the member acts (new card, authentication).
WAIT_FOR_MEMBER = (DeclineCategory.HARD, DeclineCategory.CUSTOMER_ACTION)


class CodeKind(models.TextChoices):
    DECLINE = "decline", _("Gateway decline code")
    NETWORK = "network", _("Network response code (ISO 8583)")
    ADVICE = "advice", _("Advice code (overrides the category)")


class DeclineRule(models.Model):
    """Maps one code to a category.  An advice-code rule overrides the decline code's."""

    kind = models.CharField(_("kind of code"), max_length=10, choices=CodeKind.choices)
    code = models.CharField(_("code"), max_length=60)
    category = models.CharField(_("category"), max_length=20, choices=DeclineCategory.choices)
    note = models.CharField(_("note"), max_length=200, blank=True)
    updated_at = models.DateTimeField(auto_now=True, verbose_name=_("updated"))

    class Meta:
        verbose_name = _("decline rule")
        verbose_name_plural = _("decline rules")
        ordering = ["kind", "category", "code"]
        constraints = [
            models.UniqueConstraint(fields=["kind", "code"], name="decline_rule_kind_code")
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.code} → {self.get_category_display()}"


def default_payday_days() -> list[int]:
    return [25]


class RetryMode(models.TextChoices):
    SMART = "smart", _("Decline-aware timing")
    FIXED = "fixed", _("Fixed interval")


class RetryPolicy(models.Model):
    """How often and how long failed invoices are retried: globally, or for one plan.

    Card-network rules (no retry after a hard decline, reattempt caps) apply whatever
    the policy says.
    """

    name = models.CharField(_("name"), max_length=80)
    plan = models.OneToOneField(
        Plan,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("plan"),
        help_text=_("Empty: the default for every plan without its own policy."),
    )
    mode = models.CharField(
        _("timing"), max_length=8, choices=RetryMode.choices, default=RetryMode.SMART
    )
    max_attempts = models.PositiveSmallIntegerField(
        _("retries at most"),
        default=8,
        validators=[MinValueValidator(1), MaxValueValidator(30)],
    )
    until_cancellation = models.BooleanField(
        _("retry until the ladder cancels"),
        default=True,
        help_text=_(
            "On: the retry window runs until the overdue ladder's cancellation step. "
            "Off (or a ladder without one): the number of days below."
        ),
    )
    window_days = models.PositiveSmallIntegerField(
        _("retry window (days)"),
        default=14,
        validators=[MinValueValidator(7), MaxValueValidator(60)],
        help_text=_("From 7 days to 60 days after the first failure."),
    )
    fixed_interval_days = models.PositiveSmallIntegerField(
        _("fixed interval (days)"),
        default=3,
        validators=[MinValueValidator(1), MaxValueValidator(30)],
        help_text=_("Used only with fixed-interval timing."),
    )

    class Meta:
        verbose_name = _("retry policy")
        verbose_name_plural = _("retry policies")
        constraints = [
            models.UniqueConstraint(Coalesce("plan", Value(0)), name="one_retry_policy_per_scope"),
            models.CheckConstraint(
                condition=Q(window_days__gte=7, window_days__lte=60),
                name="retry_window_7_to_60_days",
            ),
            models.CheckConstraint(
                condition=Q(max_attempts__gte=1, max_attempts__lte=30),
                name="retry_attempts_1_to_30",
            ),
        ]

    def __str__(self) -> str:
        return self.name


class PaydayCalendar(models.Model):
    """When the gym's members are paid: the paydays funds retries aim at (``dunning.paydays``).

    Working days and public holidays come from the ``holidays`` library for the country,
    so a payday on a weekend or holiday moves as the banks move it.
    """

    gym = models.OneToOneField(
        GymProfile,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("gym"),
    )
    last_working_day = models.BooleanField(_("last working day of the month"), default=True)
    days_of_month = models.JSONField(
        _("fixed paydays (days of the month)"),
        default=default_payday_days,
        blank=True,
        help_text=_(
            "A list such as [25] or [15, 25]. A day that is not a working day moves to "
            "the working day before it."
        ),
    )
    civil_service = models.BooleanField(
        _("civil-service paydays"),
        default=True,
        help_text=_(
            "Three working days before the last working day of the month, and the 16th "
            "(or the next working day) for those paid twice a month."
        ),
    )
    first_working_day = models.BooleanField(_("first working day of the month"), default=True)
    extra_dates = models.JSONField(
        _("other paydays (dates)"),
        default=list,
        blank=True,
        help_text=_('Dates such as ["2027-04-09"], e.g. a payroll brought forward.'),
    )
    country = models.CharField(
        _("holiday calendar (country code)"),
        max_length=2,
        default="TH",
        help_text=_("Two letters, e.g. TH: whose weekends and public holidays move paydays."),
    )
    updated_at = models.DateTimeField(auto_now=True, verbose_name=_("updated"))

    class Meta:
        verbose_name = _("payday calendar")
        verbose_name_plural = _("payday calendars")
        constraints = [
            models.UniqueConstraint(Coalesce("gym", Value(0)), name="one_payday_calendar_per_gym")
        ]

    def __str__(self) -> str:
        return str(_("Payday calendar"))

    def clean(self) -> None:
        errors: dict[str, str] = {}
        days = self.days_of_month
        if not isinstance(days, list) or not all(
            isinstance(d, int) and not isinstance(d, bool) and 1 <= d <= 31 for d in days
        ):
            errors["days_of_month"] = str(_("Use a list of days from 1 to 31, e.g. [25]."))
        dates = self.extra_dates
        if not isinstance(dates, list) or not all(isinstance(d, str) for d in dates):
            errors["extra_dates"] = str(_('Use a list of dates such as ["2027-04-09"].'))
        else:
            try:
                parsed = [dt.date.fromisoformat(d) for d in dates]
            except ValueError:
                errors["extra_dates"] = str(_('Use a list of dates such as ["2027-04-09"].'))
            else:
                if any(not 2000 <= d.year <= 2100 for d in parsed):
                    errors["extra_dates"] = str(_("Dates must be between 2000 and 2100."))
        code = (self.country or "").upper()
        if not country_known(code):
            errors["country"] = str(_("No holiday calendar is known for this country code."))
        self.country = code
        if errors:
            raise ValidationError(errors)


class LadderStep(models.Model):
    """One rung of the overdue ladder: when its conditions hold, its actions run once.

    Steps with a plan form that plan's ladder; a plan without steps of its own uses the
    global ladder (steps without a plan).  Days count from the first failure, minus the
    days the case was paused or on a kept payment plan.
    """

    plan = models.ForeignKey(
        Plan,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("plan"),
        help_text=_("Empty: the global ladder."),
    )
    position = models.PositiveSmallIntegerField(_("order"))
    name = models.CharField(_("name"), max_length=80)
    is_active = models.BooleanField(_("active"), default=True)
    # Conditions.
    days_since_failure = models.PositiveSmallIntegerField(_("days since first failure"))
    min_amount_owed = PositiveMoneyField(
        _("owed at least"), default=0, currency_field=None, help_text=_("0: any amount.")
    )
    min_unpaid_invoices = models.PositiveSmallIntegerField(_("unpaid invoices at least"), default=1)
    decline_categories = models.JSONField(
        _("decline categories"),
        default=list,
        blank=True,
        help_text=_('Empty: any. Otherwise a list such as ["funds", "generic"].'),
    )
    # Actions.
    template = models.SlugField(
        _("message template"),
        max_length=60,
        blank=True,
        help_text=_("Name of the files in templates/emails/dunning/ (empty: no message)."),
    )
    send_email = models.BooleanField(_("send email"), default=False)
    send_sms = models.BooleanField(_("send SMS"), default=False)
    warn_at_gate = models.BooleanField(_("warn at the gate"), default=False)
    suspend_access = models.BooleanField(_("suspend access"), default=False)
    block_bookings = models.BooleanField(_("block class bookings"), default=False)
    block_account_charges = models.BooleanField(_("block charges to the account"), default=False)
    cancel_membership = models.BooleanField(_("cancel the membership"), default=False)
    mark_uncollectible = models.BooleanField(_("mark the invoice uncollectible"), default=False)
    flag_collections = models.BooleanField(_("hand to collections"), default=False)
    late_fee = PositiveMoneyField(
        _("late fee"), default=0, currency_field=None, help_text=_("0: no fee.")
    )

    class Meta:
        verbose_name = _("ladder step")
        verbose_name_plural = _("overdue ladder")
        ordering = ["plan_id", "position"]
        constraints = [
            models.UniqueConstraint(
                Coalesce("plan", Value(0)), "position", name="ladder_step_position_per_plan"
            )
        ]

    def __str__(self) -> str:
        return str(
            _("%(name)s (day %(day)s)") % {"name": self.name, "day": self.days_since_failure}
        )

    @property
    def channels(self) -> list[str]:
        return [
            c for c, on in ((Channel.EMAIL, self.send_email), (Channel.SMS, self.send_sms)) if on
        ]

    def clean(self) -> None:
        errors: dict[str, str] = {}
        known = set(DeclineCategory.values)
        categories = self.decline_categories
        if (
            not isinstance(categories, list)
            or not all(isinstance(category, str) for category in categories)
            or not set(categories) <= known
        ):
            errors["decline_categories"] = str(
                _("Use a list of categories from: %(known)s.") % {"known": ", ".join(sorted(known))}
            )
        if (self.send_email or self.send_sms) and not self.template:
            errors["template"] = str(_("Choose the template the message uses."))
        if self.template:
            for language in ("en", "th"):
                for folder, channel_on in (("", self.send_email), ("sms/", self.send_sms)):
                    if not channel_on:
                        continue
                    name = f"emails/dunning/{folder}{self.template}.{language}.txt"
                    try:
                        get_template(name)
                    except TemplateDoesNotExist:
                        errors["template"] = str(
                            _("The template %(name)s does not exist.") % {"name": name}
                        )
        if errors:
            raise ValidationError(errors)


class CaseStatus(models.TextChoices):
    OPEN = "open", _("Escalating")
    PAUSED = "paused", _("Paused: promise to pay")
    PLAN = "plan", _("On a payment plan")
    COLLECTIONS = "collections", _("With collections")
    RECOVERED = "recovered", _("Recovered")
    WRITTEN_OFF = "written_off", _("Written off")
    CLOSED = "closed", _("Closed")


# Cases the hooks and the run still act on.
ACTIVE_CASE_STATUSES = (
    CaseStatus.OPEN,
    CaseStatus.PAUSED,
    CaseStatus.PLAN,
    CaseStatus.COLLECTIONS,
)


class RecoveryRoute(models.TextChoices):
    RETRY = "retry", _("Automatic retry")
    MEMBER = "member", _("Member paid online")
    STAFF = "staff", _("Staff charged the card")
    FRONT_DESK = "front_desk", _("Paid at the front desk")
    BILLING_RUN = "billing_run", _("Billing run")
    PAYMENT_PLAN = "payment_plan", _("Payment plan completed")


class DunningCase(models.Model):
    """One failed invoice in dunning, from its first failure until it is settled.

    ``next_action_at`` is when the run must look at the case again (the earliest pending
    retry, message, ladder step, pause end or installment); the run reads nothing else.
    """

    member = models.ForeignKey(
        Member, on_delete=models.PROTECT, related_name="dunning_cases", verbose_name=_("member")
    )
    invoice = models.OneToOneField(
        Invoice, on_delete=models.PROTECT, related_name="dunning_case", verbose_name=_("invoice")
    )
    membership = models.ForeignKey(
        Membership,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("membership"),
    )
    plan = models.ForeignKey(
        Plan,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("plan"),
    )
    currency = models.CharField(max_length=3, verbose_name=_("currency"))
    status = models.CharField(
        _("status"), max_length=12, choices=CaseStatus.choices, default=CaseStatus.OPEN
    )
    stage = models.CharField(_("stage"), max_length=80, blank=True)
    stage_position = models.PositiveSmallIntegerField(
        null=True, blank=True, verbose_name=_("stage number")
    )
    amount_due = PositiveMoneyField(_("amount at risk"), default=0)
    opened_at = models.DateTimeField(_("first failure"))
    opened_on = models.DateField(_("day 0"))
    paused_days = models.PositiveSmallIntegerField(default=0, verbose_name=_("days paused"))
    paused_on = models.DateField(null=True, blank=True, verbose_name=_("paused on"))
    paused_until = models.DateField(_("promised date"), null=True, blank=True)
    pause_reason = models.CharField(max_length=200, blank=True, verbose_name=_("pause reason"))
    last_attempt = models.ForeignKey(
        PaymentAttempt,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("last payment attempt"),
    )
    last_decline_code = models.CharField(_("last decline"), max_length=60, blank=True)
    last_decline_category = models.CharField(
        _("decline category"), max_length=20, choices=DeclineCategory.choices, blank=True
    )
    # The card the member must replace (hard) or fix (customer_action) before a retry.
    blocked_fingerprint = models.CharField(
        max_length=80, blank=True, verbose_name=_("blocked card")
    )
    block_reason = models.CharField(
        max_length=20, blank=True, verbose_name=_("why the card is blocked")
    )
    retries_made = models.PositiveSmallIntegerField(default=0, verbose_name=_("retries made"))
    next_action_at = models.DateTimeField(_("next action at"), null=True, blank=True)
    next_action = models.CharField(_("next action"), max_length=120, blank=True)
    # When the ladder was last evaluated: steps due before then whose conditions did not
    # hold are not looked at again until something about the case changes.
    ladder_checked_at = models.DateTimeField(
        null=True, blank=True, verbose_name=_("ladder checked")
    )
    late_fee_invoice = models.OneToOneField(
        Invoice,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("late fee invoice"),
    )
    alert_note = models.ForeignKey(
        MemberNote,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("alert note"),
    )
    collections_at = models.DateTimeField(
        null=True, blank=True, verbose_name=_("sent to collections")
    )
    closed_at = models.DateTimeField(null=True, blank=True, verbose_name=_("closed"))
    close_reason = models.CharField(max_length=40, blank=True, verbose_name=_("closed because"))
    recovered_route = models.CharField(
        _("recovered by"), max_length=20, choices=RecoveryRoute.choices, blank=True
    )
    recovered_channel = models.CharField(_("after message"), max_length=10, blank=True)
    recovered_amount = PositiveMoneyField(_("recovered"), default=0)
    time_to_recover = models.DurationField(null=True, blank=True, verbose_name=_("time to recover"))
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("created"))
    updated_at = models.DateTimeField(auto_now=True, verbose_name=_("updated"))

    class Meta:
        verbose_name = _("dunning case")
        verbose_name_plural = _("dunning cases")
        ordering = ["next_action_at", "pk"]
        indexes = [
            # The run's only lookup.
            models.Index(
                fields=["next_action_at"],
                condition=Q(status__in=["open", "paused", "plan", "collections"]),
                name="dunning_case_due",
            ),
            models.Index(fields=["member", "status"], name="dunning_case_member_status"),
            models.Index(fields=["status", "stage_position"], name="dunning_case_queue"),
        ]
        permissions = [("act_on_dunning", "Can act on dunning cases")]

    def __str__(self) -> str:
        return f"{self.invoice} — {self.member}"

    @property
    def is_active(self) -> bool:
        return self.status in ACTIVE_CASE_STATUSES

    def ladder_day(self, today: dt.date) -> int:
        """Days since the first failure, not counting paused days (day 0 is the failure)."""
        return (today - self.opened_on).days - self.paused_days


class RetryStatus(models.TextChoices):
    PENDING = "pending", _("Scheduled")
    SUBMITTED = "submitted", _("Sent to the gateway")
    SUCCEEDED = "succeeded", _("Succeeded")
    FAILED = "failed", _("Declined")
    SKIPPED = "skipped", _("Skipped")
    CANCELLED = "cancelled", _("Cancelled")


class RetryReason(models.TextChoices):
    POLICY = "policy", _("Retry policy")
    METHOD_UPDATED = "method_updated", _("New or updated card")
    STAFF = "staff", _("Staff: retry now")
    PROMISE = "promise", _("Promised payment date")
    INSTALLMENT = "installment", _("Payment plan installment")


class ScheduledRetry(models.Model):
    """A planned charge of one invoice of a case.  Billing writes the attempt itself."""

    case = models.ForeignKey(
        DunningCase, on_delete=models.CASCADE, related_name="retries", verbose_name=_("case")
    )
    invoice = models.ForeignKey(
        Invoice, on_delete=models.PROTECT, related_name="+", verbose_name=_("invoice")
    )
    # The card to charge when the retry is for a card the member just added or updated;
    # empty: the membership's card, else the member's default.
    payment_method = models.ForeignKey(
        PaymentMethod,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("card"),
    )
    due_at = models.DateTimeField(_("due at"))
    reason = models.CharField(max_length=16, choices=RetryReason.choices, verbose_name=_("reason"))
    category = models.CharField(max_length=20, blank=True, verbose_name=_("decline category"))
    status = models.CharField(
        max_length=10,
        choices=RetryStatus.choices,
        default=RetryStatus.PENDING,
        verbose_name=_("status"),
    )
    attempt = models.OneToOneField(
        PaymentAttempt,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("payment attempt"),
    )
    skip_reason = models.CharField(max_length=60, blank=True, verbose_name=_("skipped because"))
    created_at = models.DateTimeField(verbose_name=_("created"))
    done_at = models.DateTimeField(null=True, blank=True, verbose_name=_("done"))

    class Meta:
        verbose_name = _("scheduled retry")
        verbose_name_plural = _("scheduled retries")
        ordering = ["due_at", "pk"]
        indexes = [
            models.Index(
                fields=["case", "due_at"],
                condition=Q(status="pending"),
                name="dunning_retry_pending",
            )
        ]

    def __str__(self) -> str:
        return f"{self.invoice} · {format_datetime(self.due_at)} ({self.get_status_display()})"


class StepExecution(models.Model):
    """A ladder step fired for a case: once, whatever runs at once."""

    case = models.ForeignKey(
        DunningCase, on_delete=models.CASCADE, related_name="executions", verbose_name=_("case")
    )
    step = models.ForeignKey(
        LadderStep, on_delete=models.PROTECT, related_name="+", verbose_name=_("step")
    )
    executed_at = models.DateTimeField(verbose_name=_("taken"))
    ladder_day = models.IntegerField(verbose_name=_("ladder day"))
    outcome = models.JSONField(default=dict, blank=True, verbose_name=_("outcome"))

    class Meta:
        verbose_name = _("ladder step taken")
        verbose_name_plural = _("ladder steps taken")
        constraints = [
            models.UniqueConstraint(fields=["case", "step"], name="one_execution_per_case_step")
        ]

    def __str__(self) -> str:
        return f"{self.case_id}: {self.step_id}"


class Channel(models.TextChoices):
    EMAIL = "email", _("Email")
    SMS = "sms", _("SMS")


class MessageStatus(models.TextChoices):
    PENDING = "pending", _("Scheduled")
    # Claimed by a sender and being handed to the provider (committed before the send).
    SENDING = "sending", _("Sending")
    # The send was interrupted and the provider cannot be asked: staff decide.
    UNSURE = "unsure", _("Interrupted: resend or treat as sent?")
    SENT = "sent", _("Sent")
    DELIVERED = "delivered", _("Delivered")
    OPENED = "opened", _("Opened")
    CLICKED = "clicked", _("Clicked")
    BOUNCED = "bounced", _("Bounced")
    FAILED = "failed", _("Failed")
    SKIPPED = "skipped", _("Not sent")
    CANCELLED = "cancelled", _("Cancelled")


class MessageDecision(models.TextChoices):
    """What became of a message whose send was interrupted."""

    PROVIDER_HAS_IT = "provider_has_it", _("Sent: the provider confirmed it")
    PROVIDER_NEVER_GOT_IT = "provider_missing", _("Resent: the provider never got it")
    RESEND = "resend", _("Resent, as staff decided")
    TREAT_AS_SENT = "treat_as_sent", _("Treated as sent, as staff decided")


class DunningMessage(models.Model):
    """A message to a member about a case: its intent, the exact text sent, and its fate."""

    case = models.ForeignKey(
        DunningCase, on_delete=models.CASCADE, related_name="messages", verbose_name=_("case")
    )
    member = models.ForeignKey(
        Member, on_delete=models.CASCADE, related_name="+", verbose_name=_("member")
    )
    step = models.ForeignKey(
        LadderStep,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("step"),
    )
    template = models.SlugField(max_length=60, verbose_name=_("message"))
    channel = models.CharField(max_length=5, choices=Channel.choices, verbose_name=_("channel"))
    language = models.CharField(max_length=5, verbose_name=_("language"))
    status = models.CharField(
        max_length=10,
        choices=MessageStatus.choices,
        default=MessageStatus.PENDING,
        verbose_name=_("status"),
    )
    scheduled_for = models.DateTimeField(verbose_name=_("scheduled for"))
    skip_reason = models.CharField(max_length=40, blank=True, verbose_name=_("skipped because"))
    recipient = models.CharField(max_length=254, blank=True, verbose_name=_("recipient"))
    subject = models.CharField(max_length=200, blank=True, verbose_name=_("subject"))
    body = models.TextField(blank=True, verbose_name=_("text"))
    provider_message_id = models.CharField(
        max_length=200, blank=True, db_index=True, verbose_name=_("provider's message ID")
    )
    error = models.CharField(max_length=300, blank=True, verbose_name=_("error"))
    created_at = models.DateTimeField(verbose_name=_("created"))
    claimed_at = models.DateTimeField(
        null=True, blank=True, verbose_name=_("handed to the provider")
    )
    decision = models.CharField(
        max_length=20,
        blank=True,
        choices=MessageDecision.choices,
        verbose_name=_("decision after an interrupted send"),
    )
    sent_at = models.DateTimeField(null=True, blank=True, verbose_name=_("sent"))
    delivered_at = models.DateTimeField(null=True, blank=True, verbose_name=_("delivered"))
    opened_at = models.DateTimeField(null=True, blank=True, verbose_name=_("opened"))
    clicked_at = models.DateTimeField(null=True, blank=True, verbose_name=_("clicked"))
    bounced_at = models.DateTimeField(null=True, blank=True, verbose_name=_("bounced"))

    class Meta:
        verbose_name = _("dunning message")
        verbose_name_plural = _("dunning messages")
        ordering = ["-scheduled_for", "-pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["case", "step", "channel"],
                condition=Q(step__isnull=False),
                name="one_message_per_case_step_channel",
            ),
            models.UniqueConstraint(
                fields=["case", "template", "channel"],
                condition=Q(step__isnull=True),
                name="one_stepless_message_per_case",
            ),
        ]
        indexes = [
            models.Index(
                fields=["scheduled_for"],
                condition=Q(status="pending"),
                name="dunning_message_pending",
            ),
            models.Index(
                fields=["claimed_at"],
                condition=Q(status="sending"),
                name="dunning_message_sending",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.template} · {self.get_channel_display()} ({self.get_status_display()})"


class EventKind(models.TextChoices):
    CASE_OPENED = "case_opened", _("Case opened")
    PAYMENT_FAILED = "payment_failed", _("Payment failed")
    RETRY_SCHEDULED = "retry_scheduled", _("Retries scheduled")
    RETRY_SUBMITTED = "retry_submitted", _("Retry sent")
    RETRY_SKIPPED = "retry_skipped", _("Retry skipped")
    RETRY_DEFERRED = "retry_deferred", _("Retry postponed by a network limit")
    STEP_FIRED = "step_fired", _("Ladder step")
    ACTION_TAKEN = "action_taken", _("Action taken")
    ACTION_SKIPPED = "action_skipped", _("Action not possible")
    MESSAGE_SCHEDULED = "message_scheduled", _("Message scheduled")
    MESSAGE_SENT = "message_sent", _("Message sent")
    MESSAGE_SKIPPED = "message_skipped", _("Message not sent")
    MESSAGE_FAILED = "message_failed", _("Message failed")
    MESSAGE_TRACKED = "message_tracked", _("Message status")
    MESSAGE_INTERRUPTED = "message_interrupted", _("Message send interrupted")
    MESSAGE_DECIDED = "message_decided", _("Interrupted message decided")
    LINK_OPENED = "link_opened", _("Payment link opened")
    MEMBER_PAID = "member_paid", _("Member paid online")
    MEMBER_PAYMENT_FAILED = "member_payment_failed", _("Member's online payment failed")
    METHOD_UPDATED = "method_updated", _("Payment method updated")
    PARTIAL_PAYMENT = "partial_payment", _("Partial payment")
    RECOVERED = "recovered", _("Recovered")
    ACCESS_RESTORED = "access_restored", _("Access restored")
    ACCESS_NOT_RESTORED = "access_not_restored", _("Access still restricted")
    PAUSED = "paused", _("Paused until a promised date")
    RESUMED = "resumed", _("Escalation resumed")
    PLAN_OFFERED = "plan_offered", _("Payment plan set up")
    INSTALLMENT_PAID = "installment_paid", _("Installment paid")
    PLAN_MISSED = "plan_missed", _("Installment missed")
    PLAN_COMPLETED = "plan_completed", _("Payment plan completed")
    LATE_FEE = "late_fee", _("Late fee charged")
    FEE_WAIVED = "fee_waived", _("Fee waived")
    COLLECTIONS = "collections", _("Handed to collections")
    WRITTEN_OFF = "written_off", _("Written off")
    CLOSED = "closed", _("Closed")
    PAY_LINK_SENT = "pay_link_sent", _("Pay link sent by staff")


class DunningEvent(models.Model):
    """The member's dunning timeline: every message, retry and staff action, with its time."""

    member = models.ForeignKey(
        Member, on_delete=models.CASCADE, related_name="dunning_events", verbose_name=_("member")
    )
    case = models.ForeignKey(
        DunningCase,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="events",
        verbose_name=_("case"),
    )
    kind = models.CharField(
        max_length=24, choices=EventKind.choices, verbose_name=_("what happened")
    )
    at = models.DateTimeField(verbose_name=_("when"))
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("by"),
    )
    message = models.ForeignKey(
        DunningMessage,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("message"),
    )
    attempt = models.ForeignKey(
        PaymentAttempt,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("payment attempt"),
    )
    retry = models.ForeignKey(
        ScheduledRetry,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("retry"),
    )
    detail = models.JSONField(default=dict, blank=True, verbose_name=_("details"))

    class Meta:
        verbose_name = _("dunning event")
        verbose_name_plural = _("dunning timeline")
        ordering = ["-at", "-pk"]
        indexes = [
            models.Index(fields=["member", "at"], name="dunning_event_member_time"),
            models.Index(fields=["case", "kind"], name="dunning_event_case_kind"),
        ]

    def __str__(self) -> str:
        return f"{format_datetime(self.at)} {self.get_kind_display()}"


class PlanStatus(models.TextChoices):
    ACTIVE = "active", _("Being kept")
    MISSED = "missed", _("Installment missed")
    COMPLETED = "completed", _("Completed")


class PaymentPlan(models.Model):
    """An overdue balance split into 2–4 installment invoices.

    The original invoice is credited in full (a credit note) and each installment is an
    invoice of its own, due on its date, because billing charges an invoice's whole
    amount due and nothing less.
    """

    case = models.OneToOneField(
        DunningCase, on_delete=models.CASCADE, related_name="payment_plan", verbose_name=_("case")
    )
    status = models.CharField(
        max_length=10,
        choices=PlanStatus.choices,
        default=PlanStatus.ACTIVE,
        verbose_name=_("status"),
    )
    installments_count = models.PositiveSmallIntegerField(
        validators=[MinValueValidator(2), MaxValueValidator(4)], verbose_name=_("installments")
    )
    interval_days = models.PositiveSmallIntegerField(
        validators=[MinValueValidator(1), MaxValueValidator(31)],
        verbose_name=_("days between installments"),
    )
    total = PositiveMoneyField(_("total"), currency_field="case.currency")
    credit_note_number = models.CharField(max_length=30, verbose_name=_("credit note"))
    created_at = models.DateTimeField(verbose_name=_("created"))
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("offered by"),
    )

    class Meta:
        verbose_name = _("payment plan")
        verbose_name_plural = _("payment plans")
        constraints = [
            models.CheckConstraint(
                condition=Q(installments_count__gte=2, installments_count__lte=4),
                name="payment_plan_2_to_4_installments",
            )
        ]

    def __str__(self) -> str:
        return str(
            _("%(count)s installments for %(invoice)s")
            % {"count": self.installments_count, "invoice": self.case.invoice}
        )


class PaymentPlanInstallment(models.Model):
    plan = models.ForeignKey(
        PaymentPlan,
        on_delete=models.CASCADE,
        related_name="installments",
        verbose_name=_("payment plan"),
    )
    number = models.PositiveSmallIntegerField(verbose_name=_("number"))
    invoice = models.OneToOneField(
        Invoice, on_delete=models.PROTECT, related_name="+", verbose_name=_("invoice")
    )
    due_on = models.DateField(verbose_name=_("due on"))
    charge_scheduled_at = models.DateTimeField(
        null=True, blank=True, verbose_name=_("charge scheduled")
    )
    paid_at = models.DateTimeField(null=True, blank=True, verbose_name=_("paid"))

    class Meta:
        verbose_name = _("installment")
        verbose_name_plural = _("installments")
        ordering = ["plan", "number"]
        constraints = [
            models.UniqueConstraint(fields=["plan", "number"], name="installment_number_per_plan")
        ]

    def __str__(self) -> str:
        return str(
            _("%(number)s: %(invoice)s due %(date)s")
            % {"number": self.number, "invoice": self.invoice, "date": format_date(self.due_on)}
        )


class PayLinkStatus(models.TextChoices):
    PENDING = "pending", _("Being sent")
    SENDING = "sending", _("Handed to the provider")
    UNSURE = "unsure", _("Interrupted: resend or treat as sent?")
    SENT = "sent", _("Sent")
    FAILED = "failed", _("Failed")


class PayLinkMessage(models.Model):
    """A pay link the desk sent a member on request, by email or SMS: the intent (one per
    page submission: ``request_key``), the exact text sent, and what became of it.

    The link is the hosted pay page's signed link (``dunning.links``) for one invoice.
    """

    member = models.ForeignKey(
        Member, on_delete=models.CASCADE, related_name="+", verbose_name=_("member")
    )
    invoice = models.ForeignKey(
        Invoice, on_delete=models.PROTECT, related_name="+", verbose_name=_("invoice")
    )
    channel = models.CharField(_("channel"), max_length=5, choices=Channel.choices)
    language = models.CharField(max_length=5, verbose_name=_("language"))
    status = models.CharField(
        _("status"), max_length=10, choices=PayLinkStatus.choices, default=PayLinkStatus.PENDING
    )
    request_key = models.CharField(max_length=64, unique=True, verbose_name=_("request key"))
    recipient = models.CharField(_("sent to"), max_length=254, blank=True)
    subject = models.CharField(max_length=200, blank=True, verbose_name=_("subject"))
    body = models.TextField(blank=True, verbose_name=_("text"))
    provider_message_id = models.CharField(
        max_length=200, blank=True, verbose_name=_("provider's message ID")
    )
    error = models.CharField(max_length=300, blank=True, verbose_name=_("error"))
    sent_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("sent by"),
    )
    created_at = models.DateTimeField(verbose_name=_("created"))
    sent_at = models.DateTimeField(_("sent at"), null=True, blank=True)

    class Meta:
        verbose_name = _("pay link sent")
        verbose_name_plural = _("pay links sent")
        ordering = ["-created_at", "-pk"]

    def __str__(self) -> str:
        return f"{self.invoice} · {self.get_channel_display()} ({self.get_status_display()})"
