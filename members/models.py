"""People at the gym: members, households, guardians, agreements and staff notes.

A member's ``status`` is a denormalised copy of what their memberships say; only
billing services write it, so the front desk can filter 100k members by it quickly.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.conf import settings
from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.db import models
from django.db.models.functions import Lower
from django.utils.translation import gettext_lazy as _
from django_otp.models import Device, ThrottlingMixin, TimestampMixin

from config import clock
from config.inputs import CleanTextModel
from config.keyed_hash import digests

from .audit_models import ActorKind, AuditRecord  # noqa: F401  (the audit trail's model)
from .phones import normalize_phone


class Sequence(models.Model):
    """A named counter.  Allocation inside a transaction keeps numbers gap-free."""

    name = models.CharField(max_length=64, primary_key=True, verbose_name=_("name"))
    last_value = models.BigIntegerField(default=0, verbose_name=_("last number"))

    class Meta:
        verbose_name = _("number sequence")
        verbose_name_plural = _("number sequences")

    def __str__(self) -> str:
        return f"{self.name}={self.last_value}"


class Language(models.TextChoices):
    ENGLISH = "en", _("English")
    THAI = "th", _("Thai")


class MemberStatus(models.TextChoices):
    PROSPECT = "prospect", _("Prospect")
    ACTIVE = "active", _("Active")
    FROZEN = "frozen", _("Frozen")
    PAST_DUE = "past_due", _("Past due")
    SUSPENDED = "suspended", _("Suspended")
    CANCELLED = "cancelled", _("Cancelled")
    ENDED = "ended", _("Ended")


class LeadSource(models.TextChoices):
    WALK_IN = "walk_in", _("Walk-in")
    WEBSITE = "website", _("Website")
    REFERRAL = "referral", _("Referral")
    SOCIAL = "social", _("Social media")
    CORPORATE = "corporate", _("Corporate")
    OTHER = "other", _("Other")


def age_on(born: dt.date, day: dt.date) -> int:
    return day.year - born.year - ((day.month, day.day) < (born.month, born.day))


class Household(CleanTextModel, models.Model):
    """A payer and the dependants they are billed for."""

    name = models.CharField(_("name"), max_length=120)
    payer = models.OneToOneField(
        "Member",
        on_delete=models.PROTECT,
        related_name="paying_household",
        verbose_name=_("payer"),
    )
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("created"))

    class Meta:
        verbose_name = _("household")
        verbose_name_plural = _("households")

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        payer = self.payer if self.payer_id else None
        if payer is None:
            return
        if payer.is_minor:
            raise ValidationError(
                {"payer": ValidationError(_("The payer must be an adult."), code="payer_minor")}
            )
        if payer.household_id and payer.household_id != self.pk:
            raise ValidationError(
                {
                    "payer": ValidationError(
                        _("This member already belongs to another household."),
                        code="payer_in_other_household",
                    )
                }
            )


class Member(CleanTextModel, models.Model):
    member_number = models.PositiveIntegerField(_("member number"), unique=True, editable=False)
    first_name = models.CharField(_("first name"), max_length=80)
    last_name = models.CharField(_("last name"), max_length=80)
    nickname = models.CharField(_("nickname"), max_length=40, blank=True)
    email = models.EmailField(_("email"), blank=True)
    phone = models.CharField(
        _("phone"), max_length=20, blank=True, db_index=True, help_text=_("Stored as +66812345678")
    )
    date_of_birth = models.DateField(_("date of birth"), null=True, blank=True)
    photo = models.ImageField(_("photo"), upload_to="members/photos/", blank=True)

    address_line1 = models.CharField(_("address"), max_length=200, blank=True)
    address_line2 = models.CharField(_("address line 2"), max_length=200, blank=True)
    city = models.CharField(_("city or district"), max_length=100, blank=True)
    province = models.CharField(_("province or state"), max_length=100, blank=True)
    postal_code = models.CharField(_("postal code"), max_length=20, blank=True)
    country = models.CharField(_("country"), max_length=2, default="TH")

    emergency_contact_name = models.CharField(_("emergency contact"), max_length=120, blank=True)
    emergency_contact_phone = models.CharField(
        _("emergency contact phone"), max_length=20, blank=True
    )
    emergency_contact_relationship = models.CharField(_("relationship"), max_length=60, blank=True)

    # A full tax invoice's buyer (ใบกำกับภาษีเต็มรูป), as the member gives them in the portal;
    # blank: invoices name the member, with no address or tax ID.
    tax_name = models.CharField(_("name on tax invoices"), max_length=200, blank=True)
    tax_address = models.CharField(_("address on tax invoices"), max_length=500, blank=True)
    tax_id = models.CharField(
        _("tax ID on tax invoices"),
        max_length=13,
        blank=True,
        help_text=_("13 digits: a company's or a person's tax identification number."),
    )
    tax_branch = models.CharField(
        _("branch on tax invoices"),
        max_length=40,
        blank=True,
        help_text=_("For a company: สำนักงานใหญ่ (head office) or its 5-digit branch number."),
    )

    language = models.CharField(
        _("language"), max_length=5, choices=Language.choices, default=Language.THAI
    )
    # Transactional messages (receipts, billing notices) and marketing are separate consents.
    transactional_email = models.BooleanField(_("billing and service emails"), default=True)
    transactional_sms = models.BooleanField(_("billing and service SMS"), default=True)
    # Money that arrives twice for one invoice is refunded by its own route, unless the
    # member chose to keep it as account credit.
    overpayment_as_credit = models.BooleanField(
        _("keep a payment made twice as account credit"), default=False
    )
    marketing_email = models.BooleanField(_("marketing emails"), default=False)
    marketing_sms = models.BooleanField(_("marketing SMS"), default=False)
    marketing_consent_at = models.DateTimeField(
        null=True, blank=True, editable=False, verbose_name=_("marketing consent changed")
    )

    household = models.ForeignKey(
        Household,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="members",
        verbose_name=_("household"),
    )
    guardian = models.ForeignKey(
        "self",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="wards",
        verbose_name=_("guardian"),
    )
    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="member",
        verbose_name=_("portal login"),
    )
    status = models.CharField(
        _("status"),
        max_length=12,
        choices=MemberStatus.choices,
        default=MemberStatus.PROSPECT,
        editable=False,
        db_index=True,
    )
    lead_source = models.CharField(
        _("how they found us"), max_length=20, choices=LeadSource.choices, blank=True
    )
    created_at = models.DateTimeField(_("joined"), auto_now_add=True, db_index=True)
    updated_at = models.DateTimeField(auto_now=True, verbose_name=_("updated"))
    # Set when the member's personal data was erased (``members.privacy.erasure``): the
    # record stays, anonymised, for the invoices the law keeps (docs/privacy.md).
    erased_at = models.DateTimeField(_("erased"), null=True, blank=True, editable=False)

    class Meta:
        verbose_name = _("member")
        verbose_name_plural = _("members")
        ordering = ["-member_number"]
        constraints = [
            models.UniqueConstraint(
                Lower("email"),
                condition=~models.Q(email=""),
                name="member_email_unique_ci",
                violation_error_message=_("Another member already uses this email address."),
                violation_error_code="email_taken",
            ),
            models.CheckConstraint(
                condition=~models.Q(guardian=models.F("id")), name="member_not_own_guardian"
            ),
        ]
        indexes = [
            models.Index(Lower("last_name"), Lower("first_name"), name="member_name_ci"),
        ]
        permissions = [("check_in_member", "Can check a member in at the desk")]

    def __str__(self) -> str:
        return f"{self.full_name} (#{self.member_number})"

    @property
    def full_name(self) -> str:
        return f"{self.first_name} {self.last_name}".strip()

    def age(self, on: dt.date | None = None) -> int | None:
        if not self.date_of_birth:
            return None
        return age_on(self.date_of_birth, on or clock.today())

    @property
    def is_minor(self) -> bool:
        age = self.age()
        return age is not None and age < settings.MEMBERS_ADULT_AGE

    @property
    def payer(self) -> Member:
        """Who is billed for this member: the household payer, or the member."""
        if self.household_id and self.household:
            return self.household.payer
        return self

    def validate_constraints(self, exclude: Any = None) -> None:
        # The case-insensitive email constraint is an expression; report it on the field.
        try:
            super().validate_constraints(exclude=exclude)
        except ValidationError as exc:
            errors = exc.update_error_dict({})
            general = errors.pop(NON_FIELD_ERRORS, [])
            for error in general:
                target = "email" if error.code == "email_taken" else NON_FIELD_ERRORS
                errors.setdefault(target, []).append(error)
            raise ValidationError(errors) from exc

    def _login_email_taken(self) -> bool:
        """This member has a portal login and their new email is someone else's sign-in
        address: the login follows the member's email, so two logins would share one."""
        if not self.user_id:
            return False
        from allauth.account.models import EmailAddress
        from django.contrib.auth import get_user_model

        users = get_user_model().objects.exclude(pk=self.user_id)
        return (
            EmailAddress.objects.filter(email__iexact=self.email)
            .exclude(user_id=self.user_id)
            .exists()
            or users.filter(email__iexact=self.email).exists()
        )

    def clean(self) -> None:
        errors: dict[str, list[ValidationError]] = {}

        def add(field: str, error: ValidationError) -> None:
            errors.setdefault(field, []).append(error)

        self.first_name = (self.first_name or "").strip()
        self.last_name = (self.last_name or "").strip()
        self.email = (self.email or "").strip().lower()
        if self.email and self._login_email_taken():
            add(
                "email",
                ValidationError(
                    _("Another login already uses this email address."),
                    code="login_email_taken",
                ),
            )
        for field in ("phone", "emergency_contact_phone"):
            try:
                setattr(self, field, normalize_phone(getattr(self, field)))
            except ValidationError as exc:
                add(field, exc)

        self.tax_id = "".join(ch for ch in (self.tax_id or "") if ch.isdigit())
        if self.tax_id and len(self.tax_id) != 13:
            add(
                "tax_id",
                ValidationError(_("A Thai tax ID has 13 digits."), code="tax_id_length"),
            )

        today = clock.today()
        if self.date_of_birth:
            if self.date_of_birth > today:
                add(
                    "date_of_birth",
                    ValidationError(
                        _("The date of birth cannot be in the future."), code="dob_in_future"
                    ),
                )
            elif age_on(self.date_of_birth, today) > 120:
                add(
                    "date_of_birth",
                    ValidationError(
                        _("Check the year: that would make the member over 120."),
                        code="dob_implausible",
                    ),
                )
            elif self.is_minor and not self.guardian_id:
                add(
                    "guardian",
                    ValidationError(
                        _("A member under %(age)s needs a guardian.")
                        % {"age": settings.MEMBERS_ADULT_AGE},
                        code="guardian_required",
                    ),
                )
        if self.guardian_id:
            if self.pk and self.guardian_id == self.pk:
                add(
                    "guardian",
                    ValidationError(
                        _("A member cannot be their own guardian."), code="guardian_self"
                    ),
                )
            elif self.guardian and self.guardian.is_minor:
                add(
                    "guardian",
                    ValidationError(_("The guardian must be an adult."), code="guardian_minor"),
                )
        if errors:
            raise ValidationError(errors)


class PrivacyRequestKind(models.TextChoices):
    EXPORT = "export", _("A copy of my data")
    ERASURE = "erasure", _("Erase my data")


class PrivacyRequestStatus(models.TextChoices):
    OPEN = "open", _("Awaiting an answer")
    DONE = "done", _("Answered")
    REFUSED = "refused", _("Declined")


class PrivacyRequestSource(models.TextChoices):
    PORTAL = "portal", _("Member portal")
    DESK = "desk", _("Front desk")


class PrivacyRequest(CleanTextModel, models.Model):
    """A member's request under the data protection law (PDPA, GDPR): a copy of their
    data, or its erasure.  Made in the portal or at the desk; a copy is ready at once, an
    erasure waits for a manager's approval (``members.privacy``; the law gives 30 days)."""

    member = models.ForeignKey(
        Member, on_delete=models.CASCADE, related_name="privacy_requests", verbose_name=_("member")
    )
    kind = models.CharField(_("request"), max_length=10, choices=PrivacyRequestKind.choices)
    status = models.CharField(
        _("status"),
        max_length=10,
        choices=PrivacyRequestStatus.choices,
        default=PrivacyRequestStatus.OPEN,
        db_index=True,
    )
    note = models.TextField(_("member's note"), blank=True, max_length=1000)
    source = models.CharField(
        _("made in"),
        max_length=10,
        choices=PrivacyRequestSource.choices,
        default=PrivacyRequestSource.PORTAL,
    )
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("recorded by"),
    )
    requested_at = models.DateTimeField(_("requested"), default=clock.now, db_index=True)
    ip_address = models.GenericIPAddressField(_("IP address"), null=True, blank=True)
    handled_at = models.DateTimeField(_("handled"), null=True, blank=True)
    handled_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("handled by"),
    )
    answer = models.CharField(_("answer"), max_length=500, blank=True)

    class Meta:
        verbose_name = _("privacy request")
        verbose_name_plural = _("privacy requests")
        ordering = ["-requested_at", "-pk"]
        permissions = [
            ("export_member_data", "Can download a member's data (PDPA)"),
            ("approve_erasure", "Can approve the erasure of a member's data"),
        ]
        constraints = [
            # One open request of each kind per member: asking again changes nothing.
            models.UniqueConstraint(
                fields=["member", "kind"],
                condition=models.Q(status="open"),
                name="privacy_request_one_open_per_kind",
            )
        ]

    def __str__(self) -> str:
        return f"{self.member} · {self.get_kind_display()}"


class ConsentKind(models.TextChoices):
    MARKETING_EMAIL = "marketing_email", _("Marketing emails")
    MARKETING_SMS = "marketing_sms", _("Marketing SMS")
    BILLING_EMAIL = "billing_email", _("Billing and service emails")
    BILLING_SMS = "billing_sms", _("Billing and service SMS")
    TERMS = "terms", _("Membership terms")
    WAIVER = "waiver", _("Liability waiver")
    PRIVACY_NOTICE = "privacy", _("Privacy notice (PDPA)")
    PHOTO = "photo", _("Photo on file")


class ConsentSource(models.TextChoices):
    PORTAL = "portal", _("Member portal")
    JOIN = "join", _("Online join")
    DESK = "desk", _("Front desk")
    API = "api", _("Staff API")
    ERASURE = "erasure", _("Data erased")
    SYSTEM = "system", _("System")


class Consent(models.Model):
    """One consent given or withdrawn: what, yes or no, when, and where it came from.

    Append-only: a change is a new row, so the history shows what the member agreed to at
    any time.  The member's flags (``marketing_email``...) are the current answer;
    ``members.services.consent_record`` writes both."""

    member = models.ForeignKey(
        Member, on_delete=models.CASCADE, related_name="consents", verbose_name=_("member")
    )
    kind = models.CharField(_("consent"), max_length=20, choices=ConsentKind.choices)
    granted = models.BooleanField(_("given"))
    source = models.CharField(_("where"), max_length=10, choices=ConsentSource.choices)
    at = models.DateTimeField(_("when"), default=clock.now, db_index=True)
    ip_address = models.GenericIPAddressField(_("IP address"), null=True, blank=True)
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("recorded by"),
    )
    evidence = models.CharField(_("evidence"), max_length=200, blank=True)

    class Meta:
        verbose_name = _("consent")
        verbose_name_plural = _("consents")
        ordering = ["-at", "-pk"]
        indexes = [models.Index(fields=["member", "kind", "-at"], name="consent_member_kind_at")]

    def __str__(self) -> str:
        yes = _("given") if self.granted else _("withdrawn")
        return f"{self.get_kind_display()}: {yes}"


class MemberNote(CleanTextModel, models.Model):
    """A staff note.  An alert shows at check-in and at the desk until it is resolved."""

    member = models.ForeignKey(
        Member, on_delete=models.CASCADE, related_name="notes", verbose_name=_("member")
    )
    body = models.TextField(_("note"), max_length=2000)
    is_alert = models.BooleanField(
        _("alert"), default=False, help_text=_("Show at check-in, e.g. 'see staff'.")
    )
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        verbose_name=_("written by"),
    )
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("written"))
    resolved_at = models.DateTimeField(null=True, blank=True, verbose_name=_("resolved"))

    class Meta:
        verbose_name = _("staff note")
        verbose_name_plural = _("staff notes")
        ordering = ["-created_at"]
        indexes = [
            models.Index(
                fields=["member"],
                condition=models.Q(is_alert=True, resolved_at__isnull=True),
                name="member_open_alerts",
            )
        ]

    def __str__(self) -> str:
        return self.body[:60]


class AgreementKind(models.TextChoices):
    MEMBERSHIP_TERMS = "terms", _("Membership terms")
    WAIVER = "waiver", _("Liability waiver")
    PRIVACY = "privacy", _("Privacy notice (PDPA)")


class AgreementVersion(CleanTextModel, models.Model):
    """A published text members sign.  A new wording is a new version, never an edit."""

    kind = models.CharField(_("kind"), max_length=20, choices=AgreementKind.choices)
    version = models.CharField(_("version"), max_length=20)
    title = models.CharField(_("title"), max_length=200)
    body_en = models.TextField(_("text (English)"))
    body_th = models.TextField(_("text (Thai)"))
    effective_from = models.DateField(_("effective from"))
    is_current = models.BooleanField(_("current"), default=False)

    class Meta:
        verbose_name = _("agreement version")
        verbose_name_plural = _("agreement versions")
        ordering = ["kind", "-effective_from"]
        constraints = [
            models.UniqueConstraint(fields=["kind", "version"], name="agreement_kind_version"),
            models.UniqueConstraint(
                fields=["kind"], condition=models.Q(is_current=True), name="one_current_agreement"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.title} v{self.version}"

    def body_for(self, language: str) -> str:
        return self.body_th if language == Language.THAI else self.body_en


class AgreementSignature(models.Model):
    """Evidence that a member accepted one exact version: who, when, from where."""

    member = models.ForeignKey(
        Member, on_delete=models.PROTECT, related_name="signatures", verbose_name=_("member")
    )
    version = models.ForeignKey(
        AgreementVersion,
        on_delete=models.PROTECT,
        related_name="signatures",
        verbose_name=_("version"),
    )
    signer_name = models.CharField(_("signed by"), max_length=160)
    signed_by_guardian = models.BooleanField(default=False, verbose_name=_("signed by a guardian"))
    signed_at = models.DateTimeField(_("signed at"))
    ip_address = models.GenericIPAddressField(_("IP address"), null=True, blank=True)
    user_agent = models.CharField(_("device"), max_length=400, blank=True)

    class Meta:
        verbose_name = _("signed agreement")
        verbose_name_plural = _("signed agreements")
        ordering = ["-signed_at"]
        constraints = [
            models.UniqueConstraint(fields=["member", "version"], name="one_signature_per_version")
        ]

    def __str__(self) -> str:
        return f"{self.version} — {self.signer_name}"


class GymProfile(CleanTextModel, models.Model):
    """Who the gym is: shown on invoices, receipts and every message to a member."""

    name = models.CharField(_("gym name"), max_length=120)
    legal_name = models.CharField(_("legal name"), max_length=200, blank=True)
    tax_id = models.CharField(_("tax ID"), max_length=30, blank=True)
    address = models.TextField(_("address"), blank=True)
    phone = models.CharField(_("phone"), max_length=30, blank=True)
    email = models.EmailField(_("email"), blank=True)
    website = models.URLField(_("website"), blank=True)
    opening_hours = models.CharField(_("opening hours"), max_length=200, blank=True)

    class Meta:
        verbose_name = _("gym profile")
        verbose_name_plural = _("gym profile")
        permissions = [("view_reports", "Can view owner reports")]

    def __str__(self) -> str:
        return self.name


class StaffSettings(models.Model):
    """A staff member's own settings at the front desk: the language they work in.

    Applied on every request they make (``config.middleware.StaffLanguageMiddleware``),
    so the admin speaks their language on any computer they sign in on."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="staff_settings",
        verbose_name=_("staff member"),
    )
    language = models.CharField(
        _("language"), max_length=8, choices=Language.choices, blank=True, default=""
    )
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
        verbose_name = _("staff settings")
        verbose_name_plural = _("staff settings")

    def __str__(self) -> str:
        return str(self.user)


class StaffSecurityKind(models.TextChoices):
    SECOND_FACTOR_ENROLLED = "second_factor_enrolled", _("second factor set up")
    SECOND_FACTOR_RESET = "second_factor_reset", _("second factor reset")
    RECOVERY_CODE_USED = "recovery_code_used", _("recovery code used")


class StaffSecurityEvent(models.Model):
    """What happened to a staff member's sign-in: a second factor set up, reset by an
    owner, a recovery code spent.  Append-only; kept until the audit trail takes over."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="security_events",
        verbose_name=_("staff member"),
    )
    kind = models.CharField(_("what"), max_length=30, choices=StaffSecurityKind.choices)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("by"),
    )
    ip_address = models.GenericIPAddressField(_("IP address"), null=True, blank=True)
    created_at = models.DateTimeField(_("when"), default=clock.now, db_index=True)

    class Meta:
        verbose_name = _("staff security event")
        verbose_name_plural = _("staff security events")
        ordering = ["-created_at", "-pk"]

    def __str__(self) -> str:
        return f"{self.user} · {self.get_kind_display()}"


class LeadStatus(models.TextChoices):
    NEW = "new", _("New")
    CONTACTED = "contacted", _("Contacted")
    TRIAL = "trial", _("Trial")
    WON = "won", _("Won")
    LOST = "lost", _("Lost")


class JoinStep(models.TextChoices):
    """How far an online join got."""

    DETAILS = "details", _("Details given")
    AGREEMENT = "agreement", _("Agreement signed")
    PAYMENT = "payment", _("Payment not completed")
    JOINED = "joined", _("Became a member")


# Leads the automatic follow-ups still write to: nobody has booked them in or closed them.
LEAD_OPEN_STATUSES = (LeadStatus.NEW, LeadStatus.CONTACTED)


class Lead(CleanTextModel, models.Model):
    """Someone who started to join and stopped after giving their details.

    Created (or refreshed) when an online join passes the details step; it becomes
    ``won`` when that join ends in a membership.  The desk works it from the admin:
    a status and notes.  It is not a member: nothing is billed and no pass is issued.
    """

    first_name = models.CharField(_("first name"), max_length=80)
    last_name = models.CharField(_("last name"), max_length=80)
    email = models.EmailField(_("email"))
    phone = models.CharField(_("phone"), max_length=20, blank=True)
    language = models.CharField(
        _("language"), max_length=5, choices=Language.choices, default=Language.THAI
    )
    interested_in = models.CharField(_("interested in"), max_length=120, blank=True)
    source = models.CharField(
        _("how they found us"),
        max_length=20,
        choices=LeadSource.choices,
        default=LeadSource.WEBSITE,
    )
    marketing_email = models.BooleanField(_("marketing emails"), default=False)
    marketing_consent_at = models.DateTimeField(
        _("marketing consent given"), null=True, blank=True, editable=False
    )
    status = models.CharField(
        _("status"), max_length=12, choices=LeadStatus.choices, default=LeadStatus.NEW
    )
    notes = models.TextField(_("notes"), max_length=4000, blank=True)
    stopped_at = models.CharField(
        _("stopped at"),
        max_length=20,
        choices=JoinStep.choices,
        default=JoinStep.DETAILS,
        editable=False,
    )
    member = models.ForeignKey(
        Member,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="leads",
        verbose_name=_("member"),
    )
    created_at = models.DateTimeField(_("created"), default=clock.now, db_index=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
        verbose_name = _("lead")
        verbose_name_plural = _("leads")
        ordering = ["-created_at", "-pk"]
        indexes = [
            models.Index(fields=["status", "created_at"], name="lead_status_created"),
            models.Index(Lower("email"), name="lead_email_ci"),
        ]

    def __str__(self) -> str:
        return f"{self.first_name} {self.last_name}".strip() or self.email

    def clean(self) -> None:
        self.first_name = (self.first_name or "").strip()
        self.last_name = (self.last_name or "").strip()
        self.email = (self.email or "").strip().lower()
        try:
            self.phone = normalize_phone(self.phone)
        except ValidationError as exc:
            raise ValidationError({"phone": exc}) from exc


class LeadMessageKind(models.TextChoices):
    FOLLOW_UP_1 = "follow_up_1", _("Follow-up after 1 day")
    FOLLOW_UP_3 = "follow_up_3", _("Follow-up after 3 days")


class LeadMessageStatus(models.TextChoices):
    SENDING = "sending", _("Sending")
    SENT = "sent", _("Sent")
    FAILED = "failed", _("Failed")
    SKIPPED = "skipped", _("Not sent")
    UNSURE = "unsure", _("Interrupted: unknown whether sent")


class LeadMessage(models.Model):
    """One automatic follow-up email to a lead: the row is claimed (``sending``) and
    committed before the email goes, and its outcome is written after, so each
    follow-up goes out once (unique per lead and kind)."""

    lead = models.ForeignKey(
        Lead, on_delete=models.CASCADE, related_name="messages", verbose_name=_("lead")
    )
    kind = models.CharField(_("message"), max_length=20, choices=LeadMessageKind.choices)
    status = models.CharField(
        _("status"),
        max_length=10,
        choices=LeadMessageStatus.choices,
        default=LeadMessageStatus.SENDING,
    )
    recipient = models.EmailField(_("to"), blank=True)
    subject = models.CharField(_("subject"), max_length=200, blank=True)
    skip_reason = models.CharField(_("why not sent"), max_length=40, blank=True)
    error = models.CharField(_("error"), max_length=300, blank=True)
    provider_message_id = models.CharField(_("provider's id"), max_length=200, blank=True)
    claimed_at = models.DateTimeField(_("claimed"), default=clock.now)
    sent_at = models.DateTimeField(_("sent"), null=True, blank=True)

    class Meta:
        verbose_name = _("lead follow-up")
        verbose_name_plural = _("lead follow-ups")
        ordering = ["claimed_at", "pk"]
        constraints = [
            models.UniqueConstraint(fields=["lead", "kind"], name="one_follow_up_per_lead_kind")
        ]
        indexes = [
            models.Index(
                fields=["claimed_at"],
                condition=models.Q(status="sending"),
                name="lead_message_in_flight",
            )
        ]

    def __str__(self) -> str:
        return f"{self.lead} · {self.get_kind_display()}"


RECOVERY_CODE_PURPOSE = "recovery-code"


def normalise_recovery_code(code: str) -> str:
    """A code as typed (any case, spaces or dashes) in the form it was hashed."""
    return "".join(ch for ch in code.lower() if ch.isalnum())


class RecoveryCodes(TimestampMixin, ThrottlingMixin, Device):
    """A staff member's one-time recovery codes, as a django-otp device.

    Only a keyed hash of each code is stored (``members.staff_security.recovery_code_digest``):
    someone who reads the database can't sign in with them.  Each code works once."""

    # django-otp's fields, labelled for the admin in both languages.
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, verbose_name=_("staff member")
    )
    name = models.CharField(_("name"), max_length=64)
    confirmed = models.BooleanField(_("confirmed"), default=True)
    throttling_failure_timestamp = models.DateTimeField(
        _("last failed code"), null=True, blank=True, default=None
    )
    throttling_failure_count = models.PositiveIntegerField(_("failed codes in a row"), default=0)
    created_at = models.DateTimeField(_("created"), auto_now_add=True, null=True)
    last_used_at = models.DateTimeField(_("last used"), null=True, blank=True)

    class Meta:
        verbose_name = _("recovery codes")
        verbose_name_plural = _("recovery codes")

    def get_throttle_factor(self) -> int:
        return int(getattr(settings, "OTP_STATIC_THROTTLE_FACTOR", 1))

    def verify_token(self, token: Any) -> bool:
        allowed, _reason = self.verify_is_allowed()
        if not allowed:
            return False
        candidates = digests(RECOVERY_CODE_PURPOSE, normalise_recovery_code(str(token)))
        used, _per_model = self.codes.filter(digest__in=candidates).delete()
        if used:
            self.throttle_reset(commit=False)
            self.set_last_used_timestamp(commit=False)
            self.save()
        else:
            self.throttle_increment()
        return bool(used)


class RecoveryCode(models.Model):
    """One unused recovery code, by its keyed hash (never the code itself)."""

    device = models.ForeignKey(
        RecoveryCodes, on_delete=models.CASCADE, related_name="codes", verbose_name=_("codes")
    )
    digest = models.CharField(_("keyed hash"), max_length=64, unique=True)

    class Meta:
        verbose_name = _("recovery code")
        verbose_name_plural = _("recovery codes")

    def __str__(self) -> str:
        return f"{self.device} · {self.digest[:8]}…"


class ApiKey(CleanTextModel, models.Model):
    """A key an integration calls the staff API with: ``Authorization: Api-Key <key>``.

    Only a keyed hash of the key is stored, with its public prefix to tell keys apart;
    the key itself is shown once, when an owner creates it.  A key acts as its own staff
    account (``user``: no password, no role group), whose permissions are exactly its
    scopes (``members.api_keys``).  Expired or revoked, it is refused (401)."""

    name = models.CharField(_("name"), max_length=80)
    prefix = models.CharField(_("key starts with"), max_length=16, unique=True, editable=False)
    digest = models.CharField(_("keyed hash"), max_length=64, unique=True, editable=False)
    scopes = models.JSONField(_("scopes"), default=list)
    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="api_key",
        editable=False,
        verbose_name=_("acts as"),
    )
    rate_per_minute = models.PositiveIntegerField(_("requests per minute"), default=600)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="+",
        editable=False,
        verbose_name=_("created by"),
    )
    created_at = models.DateTimeField(_("created"), default=clock.now, editable=False)
    expires_at = models.DateTimeField(_("expires"))
    revoked_at = models.DateTimeField(_("revoked"), null=True, blank=True, editable=False)
    revoked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        editable=False,
        verbose_name=_("revoked by"),
    )
    last_used_at = models.DateTimeField(_("last used"), null=True, blank=True, editable=False)

    class Meta:
        verbose_name = _("API key")
        verbose_name_plural = _("API keys")
        ordering = ["-created_at", "-pk"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(rate_per_minute__gte=1, rate_per_minute__lte=100_000),
                name="api_key_rate_bounded",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"
