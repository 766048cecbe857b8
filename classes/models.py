"""Classes: class types, instructors, rooms, weekly schedules, sessions, bookings, fees.

Invariants the database keeps whatever the code does: one live booking per member and
session, one member per numbered spot, one fee of each kind per booking, one session per
schedule and start.  Capacity is kept by the booking services, which change a session's
``booked_count`` only while holding the session's row lock.
"""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _

from billing.fields import PositiveMoneyField, RateField
from billing.models import Membership, PackPurchase, Plan, default_currency
from billing.places import Location, Zone
from config import clock
from config.dates import format_datetime
from members.models import Member


class Payment(models.TextChoices):
    CREDIT = "credit", _("A class credit")
    DROP_IN = "drop_in", _("A drop-in price")
    FREE = "free", _("Free")


class DropInRoute(models.TextChoices):
    ACCOUNT = "account", _("Posted to the member's account")
    CARD = "card", _("Charged to the card on file")


class ClassType(models.Model):
    """What a class is: yoga, spin, Muay Thai.  Its rules apply to every session of it."""

    code = models.SlugField(_("code"), max_length=40, unique=True)
    name = models.CharField(_("name"), max_length=120)
    name_th = models.CharField(_("name (Thai)"), max_length=120)
    description = models.TextField(_("description"), blank=True)
    description_th = models.TextField(_("description (Thai)"), blank=True)
    duration_minutes = models.PositiveSmallIntegerField(
        _("duration (minutes)"),
        default=60,
        validators=[MinValueValidator(5), MaxValueValidator(600)],
    )
    default_capacity = models.PositiveSmallIntegerField(
        _("default capacity"), default=20, validators=[MinValueValidator(1), MaxValueValidator(500)]
    )
    colour = models.CharField(_("colour"), max_length=7, default="#3b82f6")
    payment = models.CharField(
        _("a booking costs"), max_length=8, choices=Payment.choices, default=Payment.CREDIT
    )
    drop_in_price = PositiveMoneyField(_("drop-in price"), default=0)
    currency = models.CharField(_("currency"), max_length=3, default=default_currency)
    drop_in_route = models.CharField(
        _("drop-in paid by"), max_length=8, choices=DropInRoute.choices, default=DropInRoute.ACCOUNT
    )
    tax_rate_bp = RateField(_("tax rate"), default=700, validators=[MaxValueValidator(5000)])
    plans = models.ManyToManyField(
        Plan,
        blank=True,
        related_name="class_types",
        verbose_name=_("plans that include it"),
        help_text=_("Empty: every plan includes it."),
    )
    opens_days_before = models.PositiveSmallIntegerField(
        _("booking opens (days before)"), default=7, validators=[MaxValueValidator(90)]
    )
    closes_minutes_before = models.PositiveSmallIntegerField(
        _("booking closes (minutes before)"), default=0, validators=[MaxValueValidator(1440)]
    )
    cancel_cutoff_minutes = models.PositiveSmallIntegerField(
        _("late-cancel cutoff (minutes before)"), default=120, validators=[MaxValueValidator(2880)]
    )
    late_cancel_forfeits_credit = models.BooleanField(
        _("a late cancel loses the credit"), default=True
    )
    late_cancel_fee = PositiveMoneyField(_("late-cancel fee"), default=0)
    no_show_forfeits_credit = models.BooleanField(_("a no-show loses the credit"), default=True)
    no_show_fee = PositiveMoneyField(_("no-show fee"), default=0)
    waitlist_limit = models.PositiveSmallIntegerField(
        _("waitlist places"), default=10, validators=[MaxValueValidator(500)]
    )
    offer_minutes = models.PositiveSmallIntegerField(
        _("minutes to accept a place offered"),
        default=30,
        validators=[MinValueValidator(1), MaxValueValidator(1440)],
    )
    is_active = models.BooleanField(_("active"), default=True)

    class Meta:
        verbose_name = _("class type")
        verbose_name_plural = _("class types")
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(
                condition=~Q(payment="drop_in") | Q(drop_in_price__gt=0),
                name="classtype_drop_in_has_price",
            ),
        ]

    def __str__(self) -> str:
        return self.label()

    def label(self, language: str | None = None) -> str:
        language = language or get_language() or "en"
        return self.name_th if language.startswith("th") and self.name_th else self.name


class Instructor(models.Model):
    """A staff user who teaches; ``substitutes`` may take their classes."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="instructor",
        verbose_name=_("staff user"),
    )
    name = models.CharField(_("name"), max_length=120)
    substitutes = models.ManyToManyField(
        "self", symmetrical=False, blank=True, verbose_name=_("substitutes")
    )
    is_active = models.BooleanField(_("active"), default=True)

    class Meta:
        verbose_name = _("instructor")
        verbose_name_plural = _("instructors")
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Room(models.Model):
    """A studio at a location; ``spots`` numbers its bikes or reformers (0: none)."""

    location = models.ForeignKey(
        Location, on_delete=models.PROTECT, related_name="rooms", verbose_name=_("location")
    )
    zone = models.ForeignKey(
        Zone,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="rooms",
        verbose_name=_("zone"),
        help_text=_("A grant at a device in this zone marks a booked member attended."),
    )
    name = models.CharField(_("name"), max_length=120)
    capacity = models.PositiveSmallIntegerField(
        _("capacity"), default=20, validators=[MinValueValidator(1), MaxValueValidator(500)]
    )
    spots = models.PositiveSmallIntegerField(
        _("numbered spots"),
        default=0,
        validators=[MaxValueValidator(500)],
        help_text=_("0: places are not numbered."),
    )

    class Meta:
        verbose_name = _("room")
        verbose_name_plural = _("rooms")
        ordering = ["location__name", "name"]
        constraints = [
            models.UniqueConstraint(fields=["location", "name"], name="room_name_per_location"),
        ]

    def __str__(self) -> str:
        return self.name


class Schedule(models.Model):
    """A weekly pattern: these weekdays at this local time, from one date until another."""

    class_type = models.ForeignKey(
        ClassType, on_delete=models.PROTECT, related_name="schedules", verbose_name=_("class type")
    )
    room = models.ForeignKey(Room, on_delete=models.PROTECT, verbose_name=_("room"))
    instructor = models.ForeignKey(
        Instructor, on_delete=models.PROTECT, null=True, blank=True, verbose_name=_("instructor")
    )
    weekdays = models.CharField(
        _("weekdays"), max_length=7, help_text=_("ISO weekday digits, e.g. 135 for Mon, Wed, Fri")
    )
    start_time = models.TimeField(_("local start time"))
    valid_from = models.DateField(_("valid from"))
    valid_until = models.DateField(_("valid until"), null=True, blank=True)
    capacity = models.PositiveSmallIntegerField(
        _("capacity"),
        null=True,
        blank=True,
        validators=[MinValueValidator(1), MaxValueValidator(500)],
        help_text=_("Empty: the class type's default, at most the room's."),
    )
    is_active = models.BooleanField(_("active"), default=True)

    class Meta:
        verbose_name = _("weekly schedule")
        verbose_name_plural = _("weekly schedules")

    def __str__(self) -> str:
        return f"{self.class_type} {self.start_time:%H:%M}"


class SessionStatus(models.TextChoices):
    SCHEDULED = "scheduled", _("Scheduled")
    CANCELLED = "cancelled", _("Cancelled by the gym")


class ClassSession(models.Model):
    """One class on one day: its own capacity, instructor, room and status."""

    class_type = models.ForeignKey(
        ClassType, on_delete=models.PROTECT, related_name="sessions", verbose_name=_("class type")
    )
    schedule = models.ForeignKey(
        Schedule,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="sessions",
        verbose_name=_("schedule"),
    )
    room = models.ForeignKey(Room, on_delete=models.PROTECT, verbose_name=_("room"))
    instructor = models.ForeignKey(
        Instructor, on_delete=models.PROTECT, null=True, blank=True, verbose_name=_("instructor")
    )
    starts_at = models.DateTimeField(_("starts"))
    ends_at = models.DateTimeField(_("ends"))
    capacity = models.PositiveSmallIntegerField(
        _("capacity"), validators=[MinValueValidator(1), MaxValueValidator(500)]
    )
    status = models.CharField(
        _("status"), max_length=10, choices=SessionStatus.choices, default=SessionStatus.SCHEDULED
    )
    # Changed only under the session's row lock (classes.services.booking).
    booked_count = models.PositiveSmallIntegerField(_("booked"), default=0, editable=False)
    attendance_closed_at = models.DateTimeField(
        _("attendance closed"), null=True, blank=True, editable=False
    )

    class Meta:
        verbose_name = _("class session")
        verbose_name_plural = _("class sessions")
        ordering = ["starts_at", "pk"]
        indexes = [models.Index(fields=["starts_at"], name="classsession_start")]
        constraints = [
            models.UniqueConstraint(fields=["schedule", "starts_at"], name="session_once_per_slot"),
            models.CheckConstraint(
                condition=Q(ends_at__gt=models.F("starts_at")), name="session_ends_after_start"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.class_type} · {format_datetime(local_start(self).replace(tzinfo=None))}"

    @property
    def location(self) -> Location:
        return self.room.location

    @property
    def places_left(self) -> int:
        return max(self.capacity - self.booked_count, 0)


class BookingStatus(models.TextChoices):
    BOOKED = "booked", _("Booked")
    WAITLISTED = "waitlisted", _("Waitlisted")
    CANCELLED = "cancelled", _("Cancelled")
    LATE_CANCELLED = "late_cancelled", _("Late-cancelled")
    ATTENDED = "attended", _("Attended")
    NO_SHOW = "no_show", _("No-show")


LIVE_BOOKING = ("booked", "waitlisted", "attended")
HOLDS_PLACE = ("booked", "attended")


class BookingSource(models.TextChoices):
    MEMBER = "member", _("The member")
    STAFF = "staff", _("Staff")
    WAITLIST = "waitlist", _("From the waitlist")
    WALK_IN = "walk_in", _("Walk-in")


class PaidBy(models.TextChoices):
    NONE = "", _("Nothing yet")
    PLAN = "plan", _("A plan credit")
    PACK = "pack", _("A class-pack credit")
    DROP_IN = "drop_in", _("Drop-in price")
    FREE = "free", _("Free")


class Booking(models.Model):
    session = models.ForeignKey(
        ClassSession, on_delete=models.PROTECT, related_name="bookings", verbose_name=_("session")
    )
    member = models.ForeignKey(
        Member, on_delete=models.PROTECT, related_name="class_bookings", verbose_name=_("member")
    )
    status = models.CharField(_("status"), max_length=16, choices=BookingStatus.choices)
    source = models.CharField(
        _("source"), max_length=10, choices=BookingSource.choices, default=BookingSource.MEMBER
    )
    paid_by = models.CharField(
        _("paid by"), max_length=8, choices=PaidBy.choices, default="", blank=True
    )
    membership = models.ForeignKey(
        Membership,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("membership"),
    )
    credit_period_start = models.DateField(_("credit of the period from"), null=True, blank=True)
    pack_purchase = models.ForeignKey(
        PackPurchase,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("class pack"),
    )
    credit_returned = models.BooleanField(_("credit returned"), default=False)
    spot = models.PositiveSmallIntegerField(_("spot"), null=True, blank=True)
    waitlist_position = models.PositiveIntegerField(_("waitlist position"), null=True, blank=True)
    offer_expires_at = models.DateTimeField(_("place offered until"), null=True, blank=True)
    override_reason = models.CharField(_("window override reason"), max_length=300, blank=True)
    cancel_reason = models.CharField(_("cancellation reason"), max_length=40, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("by"),
    )
    created_at = models.DateTimeField(_("created"), default=clock.now)
    booked_at = models.DateTimeField(_("booked"), null=True, blank=True)
    cancelled_at = models.DateTimeField(_("cancelled"), null=True, blank=True)
    attended_at = models.DateTimeField(_("attended"), null=True, blank=True)

    class Meta:
        verbose_name = _("booking")
        verbose_name_plural = _("bookings")
        ordering = ["session__starts_at", "waitlist_position", "pk"]
        indexes = [
            models.Index(fields=["member", "status"], name="booking_member_status"),
            models.Index(fields=["session", "status", "waitlist_position"], name="booking_queue"),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["session", "member"],
                condition=Q(status__in=LIVE_BOOKING),
                name="booking_one_per_member",
            ),
            models.UniqueConstraint(
                fields=["session", "spot"],
                condition=Q(status__in=HOLDS_PLACE, spot__isnull=False),
                name="booking_one_per_spot",
            ),
            models.UniqueConstraint(
                fields=["session", "waitlist_position"],
                condition=Q(status="waitlisted"),
                name="booking_one_per_queue_place",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.member} · {self.session}"


class FeeKind(models.TextChoices):
    LATE_CANCEL = "late_cancel", _("Late-cancel fee")
    NO_SHOW = "no_show", _("No-show fee")


class FeeStatus(models.TextChoices):
    PENDING = "pending", _("Pending: staff may waive it")
    WAIVED = "waived", _("Waived")
    POSTED = "posted", _("Posted to the account")


class ClassFee(models.Model):
    """A late-cancel or no-show fee: pending for a while, then posted unless waived."""

    booking = models.ForeignKey(
        Booking, on_delete=models.PROTECT, related_name="fees", verbose_name=_("booking")
    )
    member = models.ForeignKey(
        Member, on_delete=models.PROTECT, related_name="class_fees", verbose_name=_("member")
    )
    kind = models.CharField(_("kind"), max_length=12, choices=FeeKind.choices)
    amount = PositiveMoneyField(_("amount"))
    currency = models.CharField(_("currency"), max_length=3)
    status = models.CharField(
        _("status"), max_length=8, choices=FeeStatus.choices, default=FeeStatus.PENDING
    )
    post_after = models.DateTimeField(_("posted after"))
    waived_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("waived by"),
    )
    waive_reason = models.CharField(_("reason for waiving"), max_length=300, blank=True)
    ledger_entry = models.ForeignKey(
        "billing.LedgerEntry",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("account entry"),
    )
    created_at = models.DateTimeField(_("created"), default=clock.now)
    decided_at = models.DateTimeField(_("decided"), null=True, blank=True)

    class Meta:
        verbose_name = _("class fee")
        verbose_name_plural = _("class fees")
        ordering = ["post_after", "pk"]
        constraints = [
            models.UniqueConstraint(fields=["booking", "kind"], name="fee_once_per_booking"),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} · {self.member}"


class BookingSuspension(models.Model):
    """Booking rights withdrawn for a while after repeated no-shows."""

    member = models.ForeignKey(
        Member,
        on_delete=models.CASCADE,
        related_name="booking_suspensions",
        verbose_name=_("member"),
    )
    starts_at = models.DateTimeField(_("from"))
    ends_at = models.DateTimeField(_("until"))
    strikes = models.PositiveSmallIntegerField(_("no-shows"))

    class Meta:
        verbose_name = _("booking suspension")
        verbose_name_plural = _("booking suspensions")
        ordering = ["-starts_at"]

    def __str__(self) -> str:
        return str(self.member)


class BookingEvent(models.Model):
    """The audit trail of a booking: overrides, waitlist moves, promotions, waivers."""

    booking = models.ForeignKey(
        Booking, on_delete=models.CASCADE, related_name="events", verbose_name=_("booking")
    )
    kind = models.CharField(_("what happened"), max_length=30)
    reason = models.CharField(_("reason"), max_length=300, blank=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("by"),
    )
    created_at = models.DateTimeField(_("when"), default=clock.now)

    class Meta:
        verbose_name = _("booking history entry")
        verbose_name_plural = _("booking history")
        ordering = ["-created_at", "-pk"]

    def __str__(self) -> str:
        return self.kind


class Channel(models.TextChoices):
    EMAIL = "email", _("Email")
    SMS = "sms", _("SMS")


class MessageStatus(models.TextChoices):
    PENDING = "pending", _("Waiting to be sent")
    SENDING = "sending", _("Being sent")
    SENT = "sent", _("Sent")
    FAILED = "failed", _("Failed")
    SKIPPED = "skipped", _("Not sent")
    UNSURE = "unsure", _("Interrupted: resend or treat as sent?")


class MessageDecision(models.TextChoices):
    PROVIDER_HAS_IT = "provider_has_it", _("Sent: the provider confirmed it")
    PROVIDER_NEVER_GOT_IT = "provider_never_got_it", _("Resent: the provider never got it")


class ClassMessage(models.Model):
    """A message about a booking (reminder, promotion, place offered, class cancelled).

    The key is unique: written inside the booking's transaction, sent after commit, so
    each message goes out once however often a job runs; sent by the shared outbox
    (:mod:`billing.messaging.outbox`: claimed and committed, sent, recorded; an
    interrupted send is settled by asking the provider, never resent blindly).
    """

    booking = models.ForeignKey(
        Booking, on_delete=models.CASCADE, related_name="messages", verbose_name=_("booking")
    )
    member = models.ForeignKey(
        Member, on_delete=models.CASCADE, related_name="+", verbose_name=_("member")
    )
    kind = models.CharField(_("kind"), max_length=20)
    channel = models.CharField(_("channel"), max_length=5, choices=Channel.choices)
    key = models.CharField(_("key"), max_length=120, unique=True)
    language = models.CharField(_("language"), max_length=5, default="en")
    status = models.CharField(
        _("status"), max_length=8, choices=MessageStatus.choices, default=MessageStatus.PENDING
    )
    skip_reason = models.CharField(_("why not sent"), max_length=40, blank=True)
    scheduled_for = models.DateTimeField(_("send at"))
    subject = models.CharField(_("subject"), max_length=200, blank=True)
    body = models.TextField(_("text"), blank=True)
    error = models.CharField(_("error"), max_length=300, blank=True)
    claimed_at = models.DateTimeField(_("claimed for sending"), null=True, blank=True)
    provider_message_id = models.CharField(_("provider's id"), max_length=200, blank=True)
    decision = models.CharField(
        _("decision after an interruption"),
        max_length=30,
        choices=MessageDecision.choices,
        blank=True,
    )
    sent_at = models.DateTimeField(_("sent"), null=True, blank=True)
    created_at = models.DateTimeField(_("created"), default=clock.now)

    class Meta:
        verbose_name = _("class message")
        verbose_name_plural = _("class messages")
        ordering = ["-created_at", "-pk"]
        indexes = [
            models.Index(
                fields=["scheduled_for"], condition=Q(status="pending"), name="classmessage_due"
            )
        ]

    def __str__(self) -> str:
        return self.key


def local_start(session: ClassSession) -> dt.datetime:
    return session.starts_at.astimezone(session.room.location.tz)
