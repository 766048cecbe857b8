"""Plans, memberships, invoices, payments and payment methods.

Invariants live here as constraints; every workflow lives in ``billing.services``.
Amounts are integer minor units with a currency beside them; tax rates are basis
points.  Billing dates are the gym's local dates.
"""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from config import clock
from config.dates import format_date
from config.inputs import CleanTextModel
from members.models import Member

from .fields import MoneyField, PositiveBigMoneyField, PositiveMoneyField, RateField
from .gateways.redaction import looks_like_card_number
from .money import format_amount
from .places import AntiPassback, Location, Zone  # noqa: F401  (models kept in their own module)


def default_currency() -> str:
    return settings.GYM_CURRENCY


class Interval(models.TextChoices):
    WEEK = "week", _("week")
    MONTH = "month", _("month")
    YEAR = "year", _("year")


class PlanKind(models.TextChoices):
    RECURRING = "recurring", _("Recurring")
    PREPAID = "prepaid", _("Prepaid fixed term")


class Plan(CleanTextModel, models.Model):
    """What a member buys.  Price changes make a new plan; issued invoices never change."""

    code = models.SlugField(_("code"), max_length=40, unique=True)
    name = models.CharField(_("name"), max_length=120)
    name_th = models.CharField(_("name (Thai)"), max_length=120, blank=True)
    description = models.TextField(_("description"), blank=True)
    kind = models.CharField(_("kind"), max_length=10, choices=PlanKind.choices, default="recurring")
    interval = models.CharField(_("interval"), max_length=8, choices=Interval.choices)
    interval_count = models.PositiveSmallIntegerField(
        _("every"),
        default=1,
        validators=[MinValueValidator(1), MaxValueValidator(36)],
        help_text=_("Fortnightly: every 2 weeks. Quarterly: every 3 months."),
    )
    price = PositiveMoneyField(_("price"))
    currency = models.CharField(_("currency"), max_length=3, default=default_currency)
    joining_fee = PositiveMoneyField(_("joining fee"), default=0)
    trial_days = models.PositiveSmallIntegerField(_("trial days"), default=0)
    minimum_term_periods = models.PositiveSmallIntegerField(_("minimum term (periods)"), default=0)
    cancellation_notice_days = models.PositiveSmallIntegerField(_("notice (days)"), default=0)
    cancellation_fee = PositiveMoneyField(_("cancellation fee"), default=0)
    early_termination_fee = PositiveMoneyField(_("early-termination fee"), default=0)
    freezes_per_year = models.PositiveSmallIntegerField(_("freezes per year"), default=0)
    freeze_min_days = models.PositiveSmallIntegerField(_("shortest freeze (days)"), default=7)
    freeze_max_days = models.PositiveSmallIntegerField(_("longest freeze (days)"), default=90)
    freeze_fee = PositiveMoneyField(_("freeze fee"), default=0)
    tax_rate_bp = RateField(
        _("tax rate"),
        default=700,
        validators=[MaxValueValidator(5000)],
        help_text=_("For example 7 for 7% VAT."),
    )
    prices_include_tax = models.BooleanField(_("prices include tax"), default=True)
    renewal_reminder_days = models.PositiveSmallIntegerField(
        _("renewal reminder (days before)"),
        null=True,
        blank=True,
        help_text=_("Empty: 3 days for plans billed quarterly or less often, none otherwise."),
    )
    class_credits_per_period = models.PositiveSmallIntegerField(
        _("class credits per period"), null=True, blank=True, help_text=_("Empty: unlimited.")
    )
    is_active = models.BooleanField(_("on sale"), default=True)
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("created"))

    class Meta:
        verbose_name = _("plan")
        verbose_name_plural = _("plans")
        ordering = ["price"]
        constraints = [
            models.CheckConstraint(condition=Q(interval_count__gte=1), name="plan_interval_count"),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def reminder_days(self) -> int:
        if self.renewal_reminder_days is not None:
            return self.renewal_reminder_days
        long_period = self.interval == Interval.YEAR or (
            self.interval == Interval.MONTH and self.interval_count >= 3
        )
        return 3 if long_period else 0


class PlanEntitlement(models.Model):
    """Where and when a plan lets its members in.  Zones are named by their code.

    No entitlement rows means every zone at any time.  ``zone_code`` blank means every
    zone.  A window with no weekdays is every day.
    """

    plan = models.ForeignKey(
        Plan, on_delete=models.CASCADE, related_name="entitlements", verbose_name=_("plan")
    )
    zone_code = models.SlugField(_("zone code"), max_length=40, blank=True)
    weekdays = models.CharField(
        _("weekdays"), max_length=7, blank=True, help_text=_("ISO weekday digits, e.g. 12345")
    )
    start_time = models.TimeField(_("from"), null=True, blank=True)
    end_time = models.TimeField(_("until"), null=True, blank=True)

    class Meta:
        verbose_name = _("entitlement")
        verbose_name_plural = _("entitlements")

    def __str__(self) -> str:
        return f"{self.plan}: {self.zone_code or _('all zones')}"

    def clean(self) -> None:
        if bool(self.start_time) != bool(self.end_time):
            raise ValidationError(_("Give both a start and an end time, or neither."))
        if self.weekdays and not set(self.weekdays) <= set("1234567"):
            raise ValidationError({"weekdays": _("Use digits 1 (Monday) to 7 (Sunday).")})


class AddOn(CleanTextModel, models.Model):
    """Billed with the membership every period: a locker, towels, a PT package."""

    code = models.SlugField(max_length=40, unique=True, verbose_name=_("code"))
    name = models.CharField(_("name"), max_length=120)
    price = PositiveMoneyField(_("price per period"))
    currency = models.CharField(max_length=3, default=default_currency, verbose_name=_("currency"))
    tax_rate_bp = RateField(_("tax rate"), default=700, validators=[MaxValueValidator(5000)])
    is_active = models.BooleanField(default=True, verbose_name=_("on sale"))

    class Meta:
        verbose_name = _("add-on")
        verbose_name_plural = _("add-ons")

    def __str__(self) -> str:
        return self.name


class PackKind(models.TextChoices):
    VISITS = "visits", _("Visit pack")
    CLASSES = "classes", _("Class pack")
    DAY_PASS = "day_pass", _("Day pass")


class Pack(CleanTextModel, models.Model):
    """A prepaid bundle with an expiry: visits, classes, or a day pass."""

    code = models.SlugField(max_length=40, unique=True, verbose_name=_("code"))
    name = models.CharField(_("name"), max_length=120)
    kind = models.CharField(max_length=10, choices=PackKind.choices, verbose_name=_("kind"))
    quantity = models.PositiveSmallIntegerField(_("visits or credits"), default=1)
    valid_days = models.PositiveSmallIntegerField(_("valid for (days)"), default=30)
    price = PositiveMoneyField(_("price"))
    currency = models.CharField(max_length=3, default=default_currency, verbose_name=_("currency"))
    tax_rate_bp = RateField(_("tax rate"), default=700, validators=[MaxValueValidator(5000)])
    zone_code = models.SlugField(max_length=40, blank=True, verbose_name=_("zone code"))
    is_active = models.BooleanField(default=True, verbose_name=_("on sale"))

    class Meta:
        verbose_name = _("pack or pass")
        verbose_name_plural = _("packs and passes")

    def __str__(self) -> str:
        return self.name


class PackPurchase(models.Model):
    member = models.ForeignKey(
        Member, on_delete=models.PROTECT, related_name="packs", verbose_name=_("member")
    )
    pack = models.ForeignKey(Pack, on_delete=models.PROTECT, verbose_name=_("pack"))
    remaining = models.PositiveSmallIntegerField(verbose_name=_("remaining"))
    valid_from = models.DateField(verbose_name=_("valid from"))
    expires_on = models.DateField(db_index=True, verbose_name=_("expires on"))
    invoice = models.ForeignKey(
        "Invoice", on_delete=models.PROTECT, null=True, blank=True, verbose_name=_("invoice")
    )
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("bought"))

    class Meta:
        verbose_name = _("pack held")
        verbose_name_plural = _("packs held")
        indexes = [models.Index(fields=["member", "expires_on"], name="pack_member_expiry")]

    def __str__(self) -> str:
        return str(
            _("%(pack)s (%(remaining)s left)") % {"pack": self.pack, "remaining": self.remaining}
        )


class CouponDuration(models.TextChoices):
    ONCE = "once", _("Once")
    REPEATING = "repeating", _("For some periods")
    FOREVER = "forever", _("Forever")


class Coupon(CleanTextModel, models.Model):
    code = models.SlugField(max_length=40, unique=True, verbose_name=_("code"))
    name = models.CharField(max_length=120, verbose_name=_("name"))
    percent_off_bp = RateField(
        _("percent off"),
        null=True,
        blank=True,
        validators=[MaxValueValidator(10_000)],
        help_text=_("Percent, for example 10 (10%). Leave empty for an amount off."),
    )
    amount_off = PositiveMoneyField(_("amount off"), null=True, blank=True)
    currency = models.CharField(max_length=3, default=default_currency, verbose_name=_("currency"))
    duration = models.CharField(
        max_length=10, choices=CouponDuration.choices, verbose_name=_("applies")
    )
    duration_periods = models.PositiveSmallIntegerField(
        null=True, blank=True, verbose_name=_("for how many periods")
    )
    max_redemptions = models.PositiveIntegerField(
        null=True, blank=True, verbose_name=_("most uses")
    )
    times_redeemed = models.PositiveIntegerField(
        default=0, editable=False, verbose_name=_("times used")
    )
    valid_until = models.DateField(null=True, blank=True, verbose_name=_("valid until"))
    is_active = models.BooleanField(default=True, verbose_name=_("active"))

    class Meta:
        verbose_name = _("coupon")
        verbose_name_plural = _("coupons")
        constraints = [
            models.CheckConstraint(
                condition=(Q(percent_off_bp__isnull=False) & Q(amount_off__isnull=True))
                | (Q(percent_off_bp__isnull=True) & Q(amount_off__isnull=False)),
                name="coupon_percent_xor_amount",
            ),
            models.CheckConstraint(
                condition=~Q(duration="repeating") | Q(duration_periods__gte=1),
                name="coupon_repeating_has_periods",
            ),
        ]

    def __str__(self) -> str:
        return self.code


class MembershipStatus(models.TextChoices):
    PENDING = "pending", _("Pending")
    TRIALING = "trialing", _("Trialing")
    ACTIVE = "active", _("Active")
    FROZEN = "frozen", _("Frozen")
    PAST_DUE = "past_due", _("Past due")
    SUSPENDED = "suspended", _("Suspended")
    CANCELLED = "cancelled", _("Cancelled")
    ENDED = "ended", _("Ended")


# Statuses the billing run charges.
BILLABLE_STATUSES = (MembershipStatus.ACTIVE, MembershipStatus.TRIALING, MembershipStatus.PAST_DUE)
LIVE_STATUSES = (
    MembershipStatus.PENDING,
    MembershipStatus.TRIALING,
    MembershipStatus.ACTIVE,
    MembershipStatus.FROZEN,
    MembershipStatus.PAST_DUE,
    MembershipStatus.SUSPENDED,
)


class Membership(models.Model):
    """A member's subscription to a plan.  ``payer`` is who is charged for it."""

    member = models.ForeignKey(
        Member, on_delete=models.PROTECT, related_name="memberships", verbose_name=_("member")
    )
    payer = models.ForeignKey(
        Member, on_delete=models.PROTECT, related_name="paid_memberships", verbose_name=_("payer")
    )
    plan = models.ForeignKey(
        Plan, on_delete=models.PROTECT, related_name="memberships", verbose_name=_("plan")
    )
    status = models.CharField(
        max_length=10,
        choices=MembershipStatus.choices,
        default=MembershipStatus.PENDING,
        verbose_name=_("status"),
    )
    currency = models.CharField(max_length=3, verbose_name=_("currency"))
    anchor_day = models.PositiveSmallIntegerField(
        validators=[MinValueValidator(1), MaxValueValidator(31)], verbose_name=_("billing day")
    )
    started_on = models.DateField(verbose_name=_("started on"))
    trial_ends_on = models.DateField(null=True, blank=True, verbose_name=_("trial ends on"))
    current_period_start = models.DateField(null=True, blank=True, verbose_name=_("period starts"))
    current_period_end = models.DateField(null=True, blank=True, verbose_name=_("period ends"))
    # The local date the next invoice is due; NULL when nothing more is billed.
    next_billing_date = models.DateField(null=True, blank=True, verbose_name=_("next billing date"))
    minimum_term_ends_on = models.DateField(
        null=True, blank=True, verbose_name=_("minimum term ends on")
    )
    pending_plan = models.ForeignKey(
        Plan,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("plan from next period"),
    )
    cancel_at = models.DateField(null=True, blank=True, verbose_name=_("ends on"))
    cancelled_at = models.DateTimeField(null=True, blank=True, verbose_name=_("cancelled"))
    cancel_reason = models.CharField(
        max_length=200, blank=True, verbose_name=_("cancellation reason")
    )
    ended_on = models.DateField(null=True, blank=True, verbose_name=_("ended on"))
    frozen_from = models.DateField(null=True, blank=True, verbose_name=_("frozen from"))
    frozen_until = models.DateField(null=True, blank=True, verbose_name=_("frozen until"))
    past_due_since = models.DateField(null=True, blank=True, verbose_name=_("overdue since"))
    # Gates read these; dunning steps set them through billing services.
    access_warning = models.BooleanField(default=False, verbose_name=_("warned at the gate"))
    bookings_blocked = models.BooleanField(default=False, verbose_name=_("class bookings blocked"))
    account_charges_blocked = models.BooleanField(
        default=False, verbose_name=_("charges to the account blocked")
    )
    coupon = models.ForeignKey(
        Coupon, on_delete=models.PROTECT, null=True, blank=True, verbose_name=_("coupon")
    )
    coupon_periods_left = models.PositiveSmallIntegerField(
        null=True, blank=True, verbose_name=_("coupon periods left")
    )
    payment_method = models.ForeignKey(
        "PaymentMethod",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("card"),
    )
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("created"))
    updated_at = models.DateTimeField(auto_now=True, verbose_name=_("updated"))

    class Meta:
        verbose_name = _("membership")
        verbose_name_plural = _("memberships")
        indexes = [
            # The billing run's only lookup.
            models.Index(
                fields=["next_billing_date"],
                condition=Q(status__in=["active", "trialing", "past_due"]),
                name="membership_due",
            ),
            models.Index(fields=["member", "status"], name="membership_member_status"),
        ]
        permissions = [("grant_free_time", "Can grant free time")]

    def __str__(self) -> str:
        return f"{self.member} — {self.plan}"


class CancelReason(models.TextChoices):
    """Why a member cancels (kept in ``Membership.cancel_reason`` and the history entry's
    ``reason``): the voluntary-churn reports group by these codes.  Staff may still type
    any reason at the desk; "non-payment" is dunning's (involuntary churn)."""

    MOVING = "moving", _("I am moving away")
    PRICE = "price", _("It costs too much")
    NOT_USING = "not_using", _("I do not come often enough")
    HEALTH = "health", _("Health or injury")
    SCHEDULE = "schedule", _("The opening hours or classes do not suit me")
    OTHER_GYM = "other_gym", _("I am joining another gym")
    SERVICE = "service", _("I am unhappy with the gym")
    OTHER = "other", _("Another reason")


class MembershipFreeze(models.Model):
    membership = models.ForeignKey(
        Membership, on_delete=models.CASCADE, related_name="freezes", verbose_name=_("membership")
    )
    starts_on = models.DateField(verbose_name=_("starts on"))
    ends_on = models.DateField(verbose_name=_("ends on"))
    ended_early_on = models.DateField(null=True, blank=True, verbose_name=_("ended early on"))
    reason = models.CharField(max_length=200, blank=True, verbose_name=_("reason"))
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("created"))

    class Meta:
        verbose_name = _("freeze")
        verbose_name_plural = _("freezes")
        ordering = ["-starts_on"]

    def __str__(self) -> str:
        return f"{format_date(self.starts_on, 'short')} – {format_date(self.ends_on, 'short')}"


class MembershipAddOn(models.Model):
    membership = models.ForeignKey(
        Membership, on_delete=models.CASCADE, related_name="addons", verbose_name=_("membership")
    )
    addon = models.ForeignKey(AddOn, on_delete=models.PROTECT, verbose_name=_("add-on"))
    quantity = models.PositiveSmallIntegerField(default=1, verbose_name=_("quantity"))
    started_on = models.DateField(verbose_name=_("added on"))
    ended_on = models.DateField(null=True, blank=True, verbose_name=_("ends on"))

    class Meta:
        verbose_name = _("membership add-on")
        verbose_name_plural = _("membership add-ons")

    def __str__(self) -> str:
        return str(self.addon)


# What each kind of membership event says to staff (``MembershipEvent.kind_label``).
MEMBERSHIP_EVENT_LABELS = {
    "signed_up": _("Signed up"),
    "trial_ended": _("Trial ended"),
    "past_due": _("Payment overdue"),
    "upgraded": _("Upgraded"),
    "downgrade_scheduled": _("Downgrade booked for the next period"),
    "plan_changed": _("Plan changed"),
    "addon_added": _("Add-on added"),
    "addon_kept": _("Add-on kept"),
    "addon_removed": _("Add-on removed"),
    "frozen": _("Freeze booked"),
    "unfrozen": _("Unfrozen"),
    "freeze_started": _("Freeze started"),
    "freeze_ended": _("Freeze ended"),
    "term_ended": _("Term ended"),
    "cancelled": _("Cancelled"),
    "cancel_scheduled": _("Cancellation booked"),
    "cancelled_at_period_end": _("Cancelled at the end of the period"),
    "cancellation_withdrawn": _("Cancellation withdrawn"),
    "reactivated": _("Reactivated"),
    "free_time_granted": _("Free time granted"),
    "coupon_applied": _("Coupon applied"),
    "payment_method_changed": _("Card changed"),
    "suspended": _("Access suspended"),
    "restrictions_changed": _("Restrictions changed"),
    "cancelled_for_nonpayment": _("Cancelled for non-payment"),
}


class MembershipEvent(models.Model):
    """The audit trail of a membership: every status change and money-relevant action."""

    membership = models.ForeignKey(
        Membership, on_delete=models.CASCADE, related_name="events", verbose_name=_("membership")
    )
    kind = models.CharField(max_length=40, verbose_name=_("what happened"))
    from_status = models.CharField(max_length=10, blank=True, verbose_name=_("from status"))
    to_status = models.CharField(max_length=10, blank=True, verbose_name=_("to status"))
    detail = models.JSONField(default=dict, blank=True, verbose_name=_("details"))
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        verbose_name=_("by"),
    )
    # The gym's clock, not the wall clock: a run with ``--date`` dates its events then.
    created_at = models.DateTimeField(default=clock.now, verbose_name=_("when"))

    class Meta:
        verbose_name = _("membership history entry")
        verbose_name_plural = _("membership history")
        ordering = ["-created_at", "-id"]
        # Reports count events of one kind over a date range (involuntary churn).
        indexes = [models.Index(fields=["kind", "created_at"], name="membership_event_kind_time")]

    def __str__(self) -> str:
        return self.kind_label

    @property
    def kind_label(self) -> str:
        """What happened, in the reader's language (the code itself for a kind not listed)."""
        return str(MEMBERSHIP_EVENT_LABELS.get(self.kind, self.kind.replace("_", " ")))

    def status_label(self, status: str) -> str:
        return str(MembershipStatus(status).label) if status in MembershipStatus.values else status


class InvoiceStatus(models.TextChoices):
    DRAFT = "draft", _("Draft")
    OPEN = "open", _("Open")
    PAID = "paid", _("Paid")
    VOID = "void", _("Void")
    UNCOLLECTIBLE = "uncollectible", _("Uncollectible")


class BillingReason(models.TextChoices):
    SIGNUP = "signup", _("Sign-up")
    CYCLE = "cycle", _("Renewal")
    PRORATION = "proration", _("Plan change")
    FEE = "fee", _("Fee")
    PACK = "pack", _("Pack purchase")
    MANUAL = "manual", _("Manual")


class Invoice(models.Model):
    """A bill.  Numbered, itemised and frozen when issued; corrected only by credit notes."""

    number = models.CharField(
        max_length=30, unique=True, null=True, blank=True, verbose_name=_("number")
    )
    member = models.ForeignKey(
        Member, on_delete=models.PROTECT, related_name="invoices", verbose_name=_("member")
    )
    membership = models.ForeignKey(
        Membership,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="invoices",
        verbose_name=_("membership"),
    )
    status = models.CharField(
        max_length=14, choices=InvoiceStatus.choices, default="draft", verbose_name=_("status")
    )
    billing_reason = models.CharField(
        max_length=10, choices=BillingReason.choices, verbose_name=_("billed for")
    )
    currency = models.CharField(max_length=3, verbose_name=_("currency"))
    period_start = models.DateField(null=True, blank=True, verbose_name=_("period starts"))
    period_end = models.DateField(null=True, blank=True, verbose_name=_("period ends"))
    subtotal = MoneyField(_("subtotal"), default=0)  # net of tax
    tax_total = MoneyField(_("tax"), default=0)
    total = MoneyField(_("total"), default=0)
    amount_paid = MoneyField(_("paid"), default=0)
    amount_credited = MoneyField(_("credited"), default=0)
    issued_at = models.DateTimeField(null=True, blank=True, verbose_name=_("issued"))
    due_on = models.DateField(null=True, blank=True, verbose_name=_("due on"))
    paid_at = models.DateTimeField(null=True, blank=True, verbose_name=_("paid on"))
    voided_at = models.DateTimeField(null=True, blank=True, verbose_name=_("voided"))
    seller_tax_id = models.CharField(max_length=30, blank=True, verbose_name=_("seller's tax ID"))
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("created"))

    class Meta:
        verbose_name = _("invoice")
        verbose_name_plural = _("invoices")
        ordering = ["-created_at", "-id"]
        constraints = [
            # Never two renewal invoices for one membership period, however the run goes.
            models.UniqueConstraint(
                fields=["membership", "period_start"],
                condition=Q(billing_reason="cycle") & ~Q(status="void"),
                name="one_cycle_invoice_per_period",
            ),
            models.CheckConstraint(
                condition=Q(total=models.F("subtotal") + models.F("tax_total")),
                name="invoice_total_is_subtotal_plus_tax",
            ),
            models.CheckConstraint(
                condition=Q(status="draft") | Q(number__isnull=False),
                name="issued_invoice_has_number",
            ),
        ]
        indexes = [
            models.Index(fields=["member", "status"], name="invoice_member_status"),
            # Reports select invoices issued in a date range (the failed-payment rate).
            models.Index(fields=["issued_at"], name="invoice_issued_at"),
            models.Index(fields=["due_on"], condition=Q(status="open"), name="invoice_open_due"),
        ]

    def __str__(self) -> str:
        return self.number or str(_("draft #%(id)s") % {"id": self.pk})

    @property
    def amount_due(self) -> int:
        return max(self.total - self.amount_paid - self.amount_credited, 0)


class InvoiceBuyer(models.Model):
    """The buyer a tax invoice names, frozen when the member's personal data is erased
    (``billing.privacy``): the tax invoice stays as it was issued for the legal retention
    period (Revenue Code: 5 years), then this is anonymised too."""

    invoice = models.OneToOneField(
        Invoice, on_delete=models.CASCADE, related_name="buyer_record", verbose_name=_("invoice")
    )
    name = models.CharField(_("buyer's name"), max_length=200)
    address = models.CharField(_("buyer's address"), max_length=700, blank=True)
    tax_id = models.CharField(_("buyer's tax ID"), max_length=13, blank=True)
    branch = models.CharField(_("buyer's branch"), max_length=40, blank=True)
    frozen_at = models.DateTimeField(_("frozen"), default=clock.now)
    anonymised_at = models.DateTimeField(_("anonymised"), null=True, blank=True)

    class Meta:
        verbose_name = _("invoice buyer (kept for tax)")
        verbose_name_plural = _("invoice buyers (kept for tax)")

    def __str__(self) -> str:
        return f"{self.invoice_id}: {self.name}"


class LineKind(models.TextChoices):
    PLAN = "plan", _("Membership")
    ADDON = "addon", _("Add-on")
    JOINING_FEE = "joining_fee", _("Joining fee")
    FEE = "fee", _("Fee")
    PRORATION = "proration", _("Proration")
    DISCOUNT = "discount", _("Discount")
    ACCOUNT = "account", _("Account balance")
    PACK = "pack", _("Pack")
    OTHER = "other", _("Other")


class InvoiceLine(models.Model):
    """``amount`` is the line as priced (tax-inclusive or not); net and tax are derived."""

    invoice = models.ForeignKey(
        Invoice, on_delete=models.CASCADE, related_name="lines", verbose_name=_("invoice")
    )
    kind = models.CharField(max_length=12, choices=LineKind.choices, verbose_name=_("kind"))
    description = models.CharField(max_length=200, verbose_name=_("description"))
    quantity = models.IntegerField(default=1, verbose_name=_("quantity"))
    unit_amount = MoneyField(_("unit price"), currency_field="invoice.currency")
    amount = MoneyField(_("amount"), currency_field="invoice.currency")
    net_amount = MoneyField(_("net"), currency_field="invoice.currency")
    tax_rate_bp = RateField(_("tax rate"), default=0)
    tax_amount = MoneyField(_("tax"), default=0, currency_field="invoice.currency")
    period_start = models.DateField(null=True, blank=True, verbose_name=_("period starts"))
    period_end = models.DateField(null=True, blank=True, verbose_name=_("period ends"))
    # What the line bills, so revenue is grouped by the thing and not by the words on the
    # line (a renamed plan stays one plan; a Thai description is the same add-on).
    # Not indexed: nothing looks lines up by them, and a deleted plan leaves its lines.
    plan = models.ForeignKey(
        "Plan",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        db_index=False,
        verbose_name=_("plan"),
    )
    addon = models.ForeignKey(
        "AddOn",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        db_index=False,
        verbose_name=_("add-on"),
    )
    pack = models.ForeignKey(
        "Pack",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        db_index=False,
        verbose_name=_("pack"),
    )

    class Meta:
        verbose_name = _("invoice line")
        verbose_name_plural = _("invoice lines")
        ordering = ["id"]

    def __str__(self) -> str:
        return self.description


class CreditNote(models.Model):
    """Reduces what an issued invoice asks for: refunds, corrections, waived fees."""

    number = models.CharField(max_length=30, unique=True, verbose_name=_("number"))
    invoice = models.ForeignKey(
        Invoice, on_delete=models.PROTECT, related_name="credit_notes", verbose_name=_("invoice")
    )
    amount = PositiveMoneyField(_("amount"))
    tax_amount = MoneyField(_("tax"), default=0)
    currency = models.CharField(max_length=3, verbose_name=_("currency"))
    reason = models.CharField(max_length=200, verbose_name=_("reason"))
    refund = models.OneToOneField(
        "Refund",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="credit_note",
        verbose_name=_("refund"),
    )
    issued_at = models.DateTimeField(verbose_name=_("issued"))
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        verbose_name=_("issued by"),
    )

    class Meta:
        verbose_name = _("credit note")
        verbose_name_plural = _("credit notes")

    def __str__(self) -> str:
        return self.number


class LedgerKind(models.TextChoices):
    ACCOUNT_CHARGE = "charge", _("Charge to account")
    DEPOSIT = "deposit", _("Deposit")
    CREDIT = "credit", _("Credit")
    APPLIED = "applied", _("Applied to invoice")


class LedgerEntry(models.Model):
    """The member account.  Positive amounts are owed by the member; negative are credit."""

    member = models.ForeignKey(
        Member, on_delete=models.PROTECT, related_name="ledger", verbose_name=_("member")
    )
    kind = models.CharField(max_length=10, choices=LedgerKind.choices, verbose_name=_("kind"))
    amount = MoneyField(_("amount"))
    currency = models.CharField(max_length=3, verbose_name=_("currency"))
    description = models.CharField(max_length=200, verbose_name=_("description"))
    invoice = models.ForeignKey(
        Invoice, on_delete=models.PROTECT, null=True, blank=True, verbose_name=_("invoice")
    )
    reference = models.CharField(max_length=80, blank=True, verbose_name=_("reference"))
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("when"))
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        verbose_name=_("by"),
    )

    class Meta:
        verbose_name = _("account entry")
        verbose_name_plural = _("account entries")
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["reference"], condition=~Q(reference=""), name="ledger_reference_unique"
            )
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {format_amount(self.amount, self.currency)}"


def validate_not_card_number(value: str) -> None:
    if looks_like_card_number(value):
        raise ValidationError(
            _("Never enter a card number here; store only the gateway's token."),
            code="card_number_refused",
        )


class PaymentMethodStatus(models.TextChoices):
    ACTIVE = "active", _("Active")
    DETACHED = "detached", _("Removed")


class PaymentMethod(models.Model):
    """A gateway token plus display details.  Never a card number or CVC."""

    member = models.ForeignKey(
        Member, on_delete=models.PROTECT, related_name="payment_methods", verbose_name=_("member")
    )
    gateway = models.CharField(max_length=20, verbose_name=_("gateway"))
    token = models.CharField(
        max_length=120, validators=[validate_not_card_number], verbose_name=_("gateway token")
    )
    customer_reference = models.CharField(
        max_length=120, blank=True, verbose_name=_("gateway customer")
    )
    brand = models.CharField(max_length=20, verbose_name=_("brand"))
    last4 = models.CharField(max_length=4, verbose_name=_("last 4 digits"))
    exp_month = models.PositiveSmallIntegerField(
        validators=[MinValueValidator(1), MaxValueValidator(12)], verbose_name=_("expiry month")
    )
    exp_year = models.PositiveSmallIntegerField(verbose_name=_("expiry year"))
    fingerprint = models.CharField(max_length=80, verbose_name=_("card fingerprint"))
    is_default = models.BooleanField(default=False, verbose_name=_("default"))
    status = models.CharField(
        max_length=10,
        choices=PaymentMethodStatus.choices,
        default="active",
        verbose_name=_("status"),
    )
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("added"))
    updated_at = models.DateTimeField(auto_now=True, verbose_name=_("updated"))

    class Meta:
        verbose_name = _("payment method")
        verbose_name_plural = _("payment methods")
        constraints = [
            models.UniqueConstraint(
                fields=["member"],
                condition=Q(is_default=True, status="active"),
                name="one_default_payment_method",
            ),
            models.UniqueConstraint(fields=["gateway", "token"], name="payment_method_token"),
        ]

    def __str__(self) -> str:
        return f"{self.brand} •••• {self.last4} ({self.exp_month:02d}/{self.exp_year})"


class GatewayCustomer(models.Model):
    """A payer's customer record at a gateway, which their saved cards belong to."""

    member = models.ForeignKey(
        Member, on_delete=models.PROTECT, related_name="gateway_customers", verbose_name=_("member")
    )
    gateway = models.CharField(max_length=20, verbose_name=_("gateway"))
    reference = models.CharField(_("gateway customer id"), max_length=120)
    created_at = models.DateTimeField(default=clock.now, verbose_name=_("created"))

    class Meta:
        verbose_name = _("gateway customer")
        verbose_name_plural = _("gateway customers")
        constraints = [
            models.UniqueConstraint(fields=["member", "gateway"], name="one_customer_per_gateway")
        ]

    def __str__(self) -> str:
        return f"{self.gateway}: {self.reference}"


class AttemptStatus(models.TextChoices):
    PENDING = "pending", _("Pending")  # intent written; the gateway has not answered yet
    SUCCEEDED = "succeeded", _("Succeeded")
    FAILED = "failed", _("Failed")
    UNKNOWN = "unknown", _("Outcome unknown")  # timed out: reconcile by idempotency key
    REQUIRES_ACTION = "requires_action", _("Needs authentication")


class AttemptTrigger(models.TextChoices):
    BILLING_RUN = "billing_run", _("Billing run")
    RETRY = "retry", _("Scheduled retry")
    CUSTOMER = "customer", _("Member")
    STAFF = "staff", _("Staff")


class PaymentAttempt(models.Model):
    """One request to a gateway to collect an invoice, and everything it answered."""

    invoice = models.ForeignKey(
        Invoice, on_delete=models.PROTECT, related_name="attempts", verbose_name=_("invoice")
    )
    payment_method = models.ForeignKey(
        PaymentMethod,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="attempts",
        verbose_name=_("card"),
    )
    attempt_number = models.PositiveSmallIntegerField(verbose_name=_("attempt"))
    trigger = models.CharField(
        max_length=12, choices=AttemptTrigger.choices, verbose_name=_("started by")
    )
    gateway = models.CharField(max_length=20, verbose_name=_("gateway"))
    amount = PositiveMoneyField(_("amount"))
    currency = models.CharField(max_length=3, verbose_name=_("currency"))
    idempotency_key = models.CharField(
        max_length=80, unique=True, verbose_name=_("idempotency key")
    )
    status = models.CharField(
        max_length=16, choices=AttemptStatus.choices, default="pending", verbose_name=_("status")
    )
    gateway_reference = models.CharField(
        max_length=120, blank=True, verbose_name=_("gateway reference")
    )
    decline_code = models.CharField(max_length=60, blank=True, verbose_name=_("decline code"))
    network_code = models.CharField(max_length=10, blank=True, verbose_name=_("network code"))
    advice_code = models.CharField(max_length=40, blank=True, verbose_name=_("advice code"))
    decline_category = models.CharField(
        max_length=20, blank=True, verbose_name=_("decline category")
    )
    message = models.CharField(max_length=300, blank=True, verbose_name=_("gateway message"))
    raw_response = models.JSONField(default=dict, blank=True, verbose_name=_("gateway answer"))
    card_fingerprint = models.CharField(
        max_length=80, blank=True, verbose_name=_("card fingerprint")
    )
    card_brand = models.CharField(max_length=20, blank=True, verbose_name=_("card brand"))
    created_at = models.DateTimeField(verbose_name=_("when"))
    completed_at = models.DateTimeField(null=True, blank=True, verbose_name=_("answered"))

    class Meta:
        verbose_name = _("payment attempt")
        verbose_name_plural = _("payment attempts")
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["invoice", "attempt_number"], name="attempt_number_per_invoice"
            ),
            models.UniqueConstraint(
                fields=["invoice"],
                condition=Q(status="succeeded"),
                name="one_successful_attempt_per_invoice",
            ),
        ]
        indexes = [
            models.Index(
                fields=["created_at"],
                condition=Q(status__in=["pending", "unknown"]),
                name="attempt_unsettled",
            ),
            models.Index(fields=["card_fingerprint", "created_at"], name="attempt_card_time"),
            # Reports select attempts made in a date range.
            models.Index(fields=["created_at"], name="attempt_created_at"),
        ]

    def __str__(self) -> str:
        return f"{self.invoice} #{self.attempt_number} {self.get_status_display()}"


class PaymentSource(models.TextChoices):
    CARD = "card", _("Card")
    CASH = "cash", _("Cash")
    PROMPTPAY = "promptpay", _("PromptPay")
    BANK_TRANSFER = "transfer", _("Bank transfer")
    ACCOUNT_CREDIT = "credit", _("Account credit")


class Payment(models.Model):
    """Money received against an invoice, by any route."""

    invoice = models.ForeignKey(
        Invoice, on_delete=models.PROTECT, related_name="payments", verbose_name=_("invoice")
    )
    amount = PositiveMoneyField(_("amount"))
    currency = models.CharField(max_length=3, verbose_name=_("currency"))
    source = models.CharField(
        max_length=10, choices=PaymentSource.choices, verbose_name=_("paid by")
    )
    attempt = models.OneToOneField(
        PaymentAttempt,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="payment",
        verbose_name=_("payment attempt"),
    )
    reference = models.CharField(max_length=120, blank=True, verbose_name=_("reference"))
    received_at = models.DateTimeField(verbose_name=_("received"))
    received_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        verbose_name=_("received by"),
    )
    amount_refunded = PositiveMoneyField(_("refunded"), default=0)

    class Meta:
        verbose_name = _("payment")
        verbose_name_plural = _("payments")
        ordering = ["-received_at", "-id"]
        permissions = [
            ("take_payment", "Can take a payment at the desk"),
            ("refund_payment", "Can refund a payment"),
        ]

    def __str__(self) -> str:
        return f"{format_amount(self.amount, self.currency)} ({self.get_source_display()})"


class RefundStatus(models.TextChoices):
    # Asked of the gateway, answer not heard yet (a timeout): asked again, same key.
    PENDING = "pending", _("Pending")
    SUCCEEDED = "succeeded", _("Refunded")
    FAILED = "failed", _("Refused")
    # The system cannot settle it safely (the gateway no longer remembers the key, or
    # it reports a refused refund as made): staff check the gateway and resolve it.
    REVIEW = "review", _("Needs review")


# Refunds that hold their amount: no refund may take it while they are open.
OPEN_REFUND_STATUSES = (RefundStatus.PENDING, RefundStatus.REVIEW)


class Refund(models.Model):
    """Money given back on a payment.  A card refund is pending until the gateway answers;
    while pending it holds its amount, so two refunds never exceed the payment."""

    payment = models.ForeignKey(
        Payment, on_delete=models.PROTECT, related_name="refunds", verbose_name=_("payment")
    )
    amount = PositiveMoneyField(_("amount"))
    currency = models.CharField(max_length=3, verbose_name=_("currency"))
    idempotency_key = models.CharField(
        max_length=80, unique=True, verbose_name=_("idempotency key")
    )
    gateway_reference = models.CharField(
        max_length=120, blank=True, verbose_name=_("gateway reference")
    )
    status = models.CharField(
        max_length=10,
        choices=RefundStatus.choices,
        default=RefundStatus.PENDING,
        verbose_name=_("status"),
    )
    message = models.CharField(
        max_length=300, blank=True, verbose_name=_("gateway message")
    )  # the gateway's last words
    tries = models.PositiveSmallIntegerField(default=0, verbose_name=_("tries"))
    last_tried_at = models.DateTimeField(null=True, blank=True, verbose_name=_("last tried"))
    reason = models.CharField(max_length=200, verbose_name=_("reason"))
    created_at = models.DateTimeField(verbose_name=_("when"))

    class Meta:
        verbose_name = _("refund")
        verbose_name_plural = _("refunds")
        indexes = [
            models.Index(
                fields=["created_at"], condition=Q(status="pending"), name="refund_pending"
            )
        ]

    def __str__(self) -> str:
        return str(
            _("Refund of %(amount)s") % {"amount": format_amount(self.amount, self.currency)}
        )

    @property
    def succeeded(self) -> bool:
        return self.status == RefundStatus.SUCCEEDED


class Notification(models.Model):
    """A billing email (receipt, renewal reminder, card expiring).  Unique key: sent once."""

    member = models.ForeignKey(
        Member, on_delete=models.CASCADE, related_name="+", verbose_name=_("member")
    )
    kind = models.CharField(max_length=30, verbose_name=_("kind"))
    key = models.CharField(max_length=120, unique=True, verbose_name=_("key"))
    subject = models.CharField(max_length=200, verbose_name=_("subject"))
    sent_at = models.DateTimeField(null=True, blank=True, verbose_name=_("sent"))
    error = models.CharField(max_length=300, blank=True, verbose_name=_("error"))
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("created"))

    class Meta:
        verbose_name = _("billing email")
        verbose_name_plural = _("billing emails")

    def __str__(self) -> str:
        return self.key


class GatewayWebhookEvent(models.Model):
    """A verified gateway event, kept once per event id (gateways deliver at least once)."""

    gateway = models.CharField(max_length=20, verbose_name=_("gateway"))
    event_id = models.CharField(max_length=120, verbose_name=_("event ID"))
    type = models.CharField(max_length=40, verbose_name=_("type"))
    raw_type = models.CharField(max_length=80, blank=True, verbose_name=_("gateway's type"))
    received_at = models.DateTimeField(verbose_name=_("received"))
    outcome = models.CharField(max_length=80, blank=True, verbose_name=_("outcome"))

    class Meta:
        verbose_name = _("gateway event")
        verbose_name_plural = _("gateway events")
        constraints = [
            models.UniqueConstraint(fields=["gateway", "event_id"], name="webhook_event_once")
        ]

    def __str__(self) -> str:
        return f"{self.gateway}:{self.event_id}"


class PromptPayRoute(models.TextChoices):
    GATEWAY = "gateway", _("Payment gateway")  # matched automatically by its webhook
    OWN_ID = "own_id", _("Gym's PromptPay ID")  # staff confirm the transfer


class PromptPayStatus(models.TextChoices):
    PENDING = "pending", _("Waiting for payment")
    PAID = "paid", _("Paid")
    EXPIRED = "expired", _("Expired")
    CANCELLED = "cancelled", _("Cancelled")


class PromptPayChannel(models.TextChoices):
    """Who asked for the QR, and where it was shown."""

    PAY_PAGE = "pay_page", _("Pay page (member)")
    PORTAL = "portal", _("Member portal")
    DESK = "desk", _("Front desk")
    API = "api", _("API")


# Channels where the member asked for the QR themselves (a payment they made online).
MEMBER_CHANNELS = (PromptPayChannel.PAY_PAGE, PromptPayChannel.PORTAL)


class PromptPayRequest(models.Model):
    """A PromptPay QR offered for an amount: what was asked, by whom, and what came of it.

    It covers invoices (``lines``) or, without any, an amount (a deposit to the member's
    account, or a tender whose owner hears of it through ``hooks.promptpay_paid``).  Once
    paid, the money is in billing's payments; ``status`` only moves away from ``paid``
    never, and a payment that arrives after expiry or cancellation is still recorded.
    """

    member = models.ForeignKey(
        Member,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="promptpay_requests",
        verbose_name=_("member"),
    )
    route = models.CharField(_("route"), max_length=10, choices=PromptPayRoute.choices)
    gateway = models.CharField(_("gateway"), max_length=20, blank=True)
    channel = models.CharField(_("asked from"), max_length=10, choices=PromptPayChannel.choices)
    amount = PositiveBigMoneyField(_("amount"))
    currency = models.CharField(_("currency"), max_length=3)
    status = models.CharField(
        _("status"), max_length=10, choices=PromptPayStatus.choices, default="pending"
    )
    idempotency_key = models.CharField(
        max_length=80, unique=True, verbose_name=_("idempotency key")
    )
    gateway_reference = models.CharField(_("gateway reference"), max_length=120, blank=True)
    qr_data = models.CharField(_("QR data"), max_length=512, blank=True)
    # Own-ID route: the PromptPay ID the QR pays, masked, as evidence of what was shown.
    payee = models.CharField(_("paid to"), max_length=40, blank=True)
    reference = models.CharField(
        _("reference"), max_length=80, blank=True, help_text=_("The asking app's own reference.")
    )
    expires_at = models.DateTimeField(_("expires at"))
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("asked by"),
    )
    member_reported_at = models.DateTimeField(_("member says paid at"), null=True, blank=True)
    paid_amount = PositiveBigMoneyField(_("amount received"), null=True, blank=True)
    paid_at = models.DateTimeField(_("paid at"), null=True, blank=True)
    bank_reference = models.CharField(_("bank reference"), max_length=120, blank=True)
    confirmed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("confirmed by"),
    )
    closed_at = models.DateTimeField(_("closed at"), null=True, blank=True)
    message = models.CharField(_("gateway's last words"), max_length=300, blank=True)
    checked_at = models.DateTimeField(
        null=True, blank=True, verbose_name=_("last checked")
    )  # the gateway last asked
    created_at = models.DateTimeField(_("created at"), default=clock.now)

    class Meta:
        verbose_name = _("PromptPay request")
        verbose_name_plural = _("PromptPay requests")
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(condition=Q(amount__gte=1), name="promptpay_amount_positive"),
            models.CheckConstraint(
                condition=~Q(status="paid") | Q(paid_at__isnull=False, paid_amount__gte=1),
                name="promptpay_paid_has_payment",
            ),
            models.CheckConstraint(
                condition=~Q(route="gateway") | ~Q(gateway=""), name="promptpay_gateway_named"
            ),
            models.UniqueConstraint(
                fields=["gateway", "gateway_reference"],
                condition=~Q(gateway_reference=""),
                name="promptpay_gateway_reference_once",
            ),
        ]
        indexes = [
            # The expiry task's only lookup.
            models.Index(
                fields=["expires_at"], condition=Q(status="pending"), name="promptpay_pending"
            ),
            models.Index(fields=["member", "created_at"], name="promptpay_member_time"),
        ]

    def __str__(self) -> str:
        return str(_("PromptPay #%(number)s") % {"number": self.pk})


class PromptPayRequestInvoice(models.Model):
    """One invoice a PromptPay request pays, with the amount owed on it when asked."""

    request = models.ForeignKey(
        PromptPayRequest,
        on_delete=models.CASCADE,
        related_name="lines",
        verbose_name=_("PromptPay request"),
    )
    invoice = models.ForeignKey(
        Invoice, on_delete=models.PROTECT, related_name="promptpay_lines", verbose_name=_("invoice")
    )
    amount = PositiveBigMoneyField(_("amount"), currency_field="request.currency")
    # The payment recorded for this invoice once the request was paid (exactly once).
    payment = models.OneToOneField(
        Payment,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="promptpay_line",
        verbose_name=_("payment"),
    )
    # What became account credit instead (the invoice was settled or voided meanwhile).
    credited = PositiveBigMoneyField(_("credited"), default=0, currency_field="request.currency")

    class Meta:
        verbose_name = _("invoice paid by PromptPay")
        verbose_name_plural = _("invoices paid by PromptPay")
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(fields=["request", "invoice"], name="promptpay_invoice_once"),
            models.CheckConstraint(condition=Q(amount__gte=1), name="promptpay_line_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.invoice}: {format_amount(self.amount, self.request.currency)}"


class MrrSnapshot(models.Model):
    """A subscriber membership's MRR at the end of a closed month, written once after the
    month ends so that history never changes after the fact (``docs/reports.md``)."""

    month = models.DateField(verbose_name=_("month"))  # its first day
    membership = models.ForeignKey(
        Membership, on_delete=models.CASCADE, related_name="+", verbose_name=_("membership")
    )
    member = models.ForeignKey(
        Member, on_delete=models.CASCADE, related_name="+", verbose_name=_("member")
    )
    plan = models.ForeignKey(
        Plan, on_delete=models.PROTECT, related_name="+", verbose_name=_("plan")
    )
    status = models.CharField(
        max_length=10, choices=MembershipStatus.choices, verbose_name=_("status")
    )
    mrr = PositiveBigMoneyField(_("MRR"))
    currency = models.CharField(max_length=3, verbose_name=_("currency"))

    class Meta:
        verbose_name = _("MRR snapshot")
        verbose_name_plural = _("MRR snapshots")
        constraints = [
            models.UniqueConstraint(fields=["month", "membership"], name="mrr_snapshot_once")
        ]
        indexes = [models.Index(fields=["month", "member"], name="mrr_snapshot_month_member")]

    def __str__(self) -> str:
        return f"{self.month:%Y-%m} {self.membership_id}"


class MrrMonth(models.Model):
    """A closed month's MRR, subscribers and their movements, derived from its snapshot
    and the one before when the month is written.  Start + movements = end, exactly."""

    month = models.DateField(unique=True, verbose_name=_("month"))
    currency = models.CharField(max_length=3, verbose_name=_("currency"))
    mrr_start = PositiveBigMoneyField(_("MRR at the start"))
    mrr_end = PositiveBigMoneyField(_("MRR at the end"))
    new = PositiveBigMoneyField(_("new"))
    reactivation = PositiveBigMoneyField(_("reactivation"))
    expansion = PositiveBigMoneyField(_("expansion"))
    contraction = PositiveBigMoneyField(_("contraction"))
    churned_voluntary = PositiveBigMoneyField(_("churned (voluntary)"))
    churned_involuntary = PositiveBigMoneyField(_("churned (involuntary)"))
    subscribers_start = models.PositiveIntegerField(_("subscribers at the start"))
    subscribers_end = models.PositiveIntegerField(_("subscribers at the end"))
    new_subscribers = models.PositiveIntegerField(_("new subscribers"))
    reactivated_subscribers = models.PositiveIntegerField(_("reactivated subscribers"))
    churned_voluntary_subscribers = models.PositiveIntegerField(_("churned (voluntary)"))
    churned_involuntary_subscribers = models.PositiveIntegerField(_("churned (involuntary)"))
    paying_members = models.PositiveIntegerField(_("paying members at the end"))
    written_at = models.DateTimeField(default=clock.now, verbose_name=_("written"))

    class Meta:
        verbose_name = _("MRR month")
        verbose_name_plural = _("MRR months")
        ordering = ["month"]
        constraints = [
            models.CheckConstraint(
                condition=Q(
                    mrr_end=models.F("mrr_start")
                    + models.F("new")
                    + models.F("reactivation")
                    + models.F("expansion")
                    - models.F("contraction")
                    - models.F("churned_voluntary")
                    - models.F("churned_involuntary")
                ),
                name="mrr_month_adds_up",
            )
        ]

    def __str__(self) -> str:
        return f"{self.month:%Y-%m}"
