"""Writes for the members domain.  Views, the API and the admin call these."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterable, Mapping
from typing import Any

from allauth.account.models import EmailAddress
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.core.exceptions import ValidationError
from django.core.mail import EmailMessage
from django.db import IntegrityError, transaction
from django.db.models import F
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import translation
from django.utils.translation import gettext as _

from config import clock

from .audit import audit_record
from .models import (
    AgreementKind,
    AgreementSignature,
    AgreementVersion,
    Consent,
    ConsentKind,
    ConsentSource,
    GymProfile,
    Household,
    Language,
    Member,
    MemberNote,
    PrivacyRequest,
    PrivacyRequestKind,
    PrivacyRequestStatus,
    Sequence,
    StaffSettings,
)
from .portal.invites import invite_path_parts

logger = logging.getLogger(__name__)

MEMBER_NUMBER_SEQUENCE = "member_number"
MEMBER_NUMBER_START = 1000

# Fields a member record may be created or updated with.  Anything else is refused.
MEMBER_FIELDS = frozenset(
    {
        "first_name",
        "last_name",
        "nickname",
        "email",
        "phone",
        "date_of_birth",
        "photo",
        "address_line1",
        "address_line2",
        "city",
        "province",
        "postal_code",
        "country",
        "emergency_contact_name",
        "emergency_contact_phone",
        "emergency_contact_relationship",
        "language",
        "transactional_email",
        "transactional_sms",
        "marketing_email",
        "marketing_sms",
        "guardian",
        "household",
        "lead_source",
        "tax_name",
        "tax_address",
        "tax_id",
        "tax_branch",
    }
)

StaffUser = AbstractBaseUser | AnonymousUser | None


def sequence_allocate(name: str, count: int = 1, *, start: int = 0) -> range:
    """Reserve ``count`` consecutive numbers of the named sequence.

    The counter row is locked until the caller's transaction ends, so numbers
    allocated in a transaction that rolls back are handed out again: no gaps.
    """
    if count < 1:
        raise ValueError("count must be positive")
    with transaction.atomic():
        Sequence.objects.get_or_create(name=name, defaults={"last_value": start})
        seq = Sequence.objects.select_for_update().get(name=name)
        first = seq.last_value + 1
        Sequence.objects.filter(name=name).update(last_value=F("last_value") + count)
    return range(first, first + count)


def _apply(member: Member, data: Mapping[str, Any]) -> None:
    unknown = set(data) - MEMBER_FIELDS
    if unknown:
        raise ValidationError({field: _("This field cannot be set here.") for field in unknown})
    for field, value in data.items():
        setattr(member, field, value)


def _save_validated(member: Member) -> Member:
    try:
        with transaction.atomic():
            member.save()
    except IntegrityError as exc:
        if "member_email_unique_ci" in str(exc):
            raise ValidationError(
                {"email": _("Another member already uses this email address.")}
            ) from exc
        raise
    return member


@transaction.atomic
def member_create(**data: Any) -> Member:
    """Register a member.  Raises ``ValidationError`` with field errors; saves nothing then."""
    member = Member()
    _apply(member, data)
    return member_register(member)


@transaction.atomic
def member_register(member: Member) -> Member:
    """Validate an unsaved member, give it the next member number and save it."""
    if member.pk:
        raise ValueError("member_register takes an unsaved member")
    member.full_clean(exclude=["member_number"])
    member.member_number = sequence_allocate(
        MEMBER_NUMBER_SEQUENCE, start=MEMBER_NUMBER_START
    ).start
    return _save_validated(member)


# The member's flags each consent kind keeps the current answer in.
CONSENT_FLAGS: dict[str, str] = {
    ConsentKind.MARKETING_EMAIL: "marketing_email",
    ConsentKind.MARKETING_SMS: "marketing_sms",
    ConsentKind.BILLING_EMAIL: "transactional_email",
    ConsentKind.BILLING_SMS: "transactional_sms",
}
AGREEMENT_CONSENTS: dict[str, str] = {
    AgreementKind.MEMBERSHIP_TERMS: ConsentKind.TERMS,
    AgreementKind.WAIVER: ConsentKind.WAIVER,
    AgreementKind.PRIVACY: ConsentKind.PRIVACY_NOTICE,
}


def _consent_context(ip_address: str | None, by: Any) -> tuple[str | None, Any]:
    """The request's address and staff member when the caller gave none."""
    from .audit import _context

    ctx = _context.get()
    if ip_address is None and ctx is not None:
        ip_address = ctx.ip
    if by is None and ctx is not None and ctx.request is not None:
        user = getattr(ctx.request, "user", None)
        if getattr(user, "is_staff", False):
            by = user
    return ip_address, by


def consent_record(
    member: Member,
    kind: str,
    *,
    granted: bool,
    source: str,
    ip_address: str | None = None,
    by: Any = None,
    evidence: str = "",
    at: dt.datetime | None = None,
) -> Consent:
    """Record a consent given or withdrawn, with its time and source; the member's flag
    for it (marketing, billing messages) is set to match."""
    if kind not in ConsentKind.values:
        raise ValidationError({"kind": _("Unknown consent.")}, code="consent_kind")
    if source not in ConsentSource.values:
        raise ValidationError({"source": _("Unknown source.")}, code="consent_source")
    ip_address, by = _consent_context(ip_address, by)
    consent = Consent.objects.create(
        member=member,
        kind=kind,
        granted=bool(granted),
        source=source,
        at=at or clock.now(),
        ip_address=ip_address or None,
        recorded_by=by if getattr(by, "is_staff", False) else None,
        evidence=(evidence or "")[:200],
    )
    flag = CONSENT_FLAGS.get(kind)
    if flag and getattr(member, flag) != bool(granted):
        setattr(member, flag, bool(granted))
        Member.objects.filter(pk=member.pk).update(**{flag: bool(granted)})
    return consent


def _consents_changed(member: Member, before: Mapping[str, Any], *, source: str) -> None:
    for kind, flag in CONSENT_FLAGS.items():
        if flag in before and before[flag] != getattr(member, flag):
            consent_record(member, kind, granted=getattr(member, flag), source=source)


def _consent_flags(member: Member) -> dict[str, Any]:
    if not member.pk:
        return {}
    return Member.objects.filter(pk=member.pk).values(*CONSENT_FLAGS.values()).first() or {}


@transaction.atomic
def member_update(
    member: Member, *, consent_source: str = ConsentSource.DESK, **data: Any
) -> Member:
    """Change a member's details (the desk, the API).  A member with a portal login signs
    in with their email, so a new email moves the login to it, unverified until the
    member confirms it (allauth asks them at their next sign-in).  A changed consent flag
    is recorded (``Consent``) with ``consent_source``."""
    before = _consent_flags(member)
    _apply(member, data)
    member.full_clean()
    stored = (
        Member.objects.filter(pk=member.pk).values_list("email", flat=True).first()
        if member.user_id
        else None
    )
    _save_validated(member)
    if stored is not None and stored != member.email:
        _login_email_follow(member)
    _consents_changed(member, before, source=consent_source)
    return member


def _login_email_follow(member: Member) -> None:
    user = member.user
    if user is None or user.is_staff or user.is_superuser:
        return
    EmailAddress.objects.filter(user=user).exclude(email__iexact=member.email).delete()
    if member.email:
        EmailAddress.objects.update_or_create(
            user=user,
            email=member.email,
            defaults={"primary": True, "verified": False},
        )
    user.email = member.email
    user.save(update_fields=["email"])


def mask_email(address: str) -> str:
    """An address as the audit trail keeps it, which outlives an erasure: enough for
    staff to tell two apart ("s***@example.com"), not enough to find the member by."""
    local, _at, domain = (address or "").partition("@")
    return f"{local[:1]}***@{domain}" if local and domain else ""


@transaction.atomic
def member_login_email_confirmed(user: Any, email: str) -> Member | None:
    """The member confirmed a new sign-in address in the portal (allauth's change of
    email): it becomes the address the gym writes to as well, recorded in the audit
    trail.  Returns the member, or ``None`` when the login is not a member's.  Should
    another member's record hold that address (the desk typed it there), the member's
    record keeps its old one and the conflict is left for the desk."""
    member = Member.objects.select_for_update().filter(user_id=user.pk).first()
    email = (email or "").strip().lower()
    if member is None or not email or member.email == email:
        return member
    if Member.objects.filter(email__iexact=email).exclude(pk=member.pk).exists():
        logger.warning("member %s confirmed an address another member holds", member.pk)
        return member
    before = member.email
    member.email = email
    member.save(update_fields=["email", "updated_at"])
    audit_record(
        "member.email_change",
        member,
        member=member,
        before={"email": mask_email(before)},
        after={"email": mask_email(email)},
        reason="confirmed by the member in the portal",
        actor=user,
    )
    return member


def member_language_set(member: Member, language: str) -> Member:
    """The language the member reads the portal and their messages in."""
    if language not in Language.values:
        raise ValidationError({"language": _("Choose English or Thai.")})
    member.language = language
    member.save(update_fields=["language", "updated_at"])
    return member


@transaction.atomic
def member_set_marketing_consent(
    member: Member, *, email: bool, sms: bool, source: str = ConsentSource.PORTAL
) -> Member:
    """The member's marketing consent, recorded per channel that changed (``Consent``)."""
    before = _consent_flags(member)
    member.marketing_email = email
    member.marketing_sms = sms
    member.marketing_consent_at = clock.now() if (email or sms) else None
    member.save(update_fields=["marketing_email", "marketing_sms", "marketing_consent_at"])
    for kind, flag, now in (
        (ConsentKind.MARKETING_EMAIL, "marketing_email", email),
        (ConsentKind.MARKETING_SMS, "marketing_sms", sms),
    ):
        if before.get(flag) != now or not member.consents.filter(kind=kind).exists():
            consent_record(member, kind, granted=now, source=source)
    return member


@transaction.atomic
def household_create(*, payer: Member, name: str = "") -> Household:
    """Make ``payer`` the payer of a new household that contains them."""
    household = Household(payer=payer, name=name or f"{payer.last_name} household")
    household.full_clean()
    household.save()
    payer.household = household
    payer.save(update_fields=["household", "updated_at"])
    return household


@transaction.atomic
def household_add_member(household: Household, member: Member) -> Member:
    if member.household_id and member.household_id != household.pk:
        raise ValidationError({"household": _("This member already belongs to another household.")})
    member.household = household
    member.save(update_fields=["household", "updated_at"])
    return member


@transaction.atomic
def household_remove_member(household: Household, member: Member) -> Member:
    if member.pk == household.payer_id:
        raise ValidationError({"household": _("The payer cannot leave their own household.")})
    member.household = None
    member.save(update_fields=["household", "updated_at"])
    return member


@transaction.atomic
def agreement_sign(
    *,
    member: Member,
    version: AgreementVersion,
    signer_name: str,
    ip_address: str | None,
    user_agent: str = "",
    signed_at: dt.datetime | None = None,
    consent_source: str = ConsentSource.DESK,
) -> AgreementSignature:
    """Record that ``signer_name`` accepted ``version`` for ``member``; never twice.

    ``signed_at``: when they signed, if that was before now (a member signs online, and
    the signature is recorded with their membership a few minutes later); never ahead.
    """
    signer_name = (signer_name or "").strip()
    if not signer_name:
        raise ValidationError({"signer_name": _("Type the signer's full name.")})
    by_guardian = member.is_minor
    if by_guardian and not member.guardian_id:
        raise ValidationError({"signer_name": _("A guardian must sign for a minor.")})
    if AgreementSignature.objects.filter(member=member, version=version).exists():
        raise ValidationError({"version": _("This version is already signed.")})
    signature = AgreementSignature.objects.create(
        member=member,
        version=version,
        signer_name=signer_name,
        signed_by_guardian=by_guardian,
        signed_at=min(signed_at or clock.now(), clock.now()),
        ip_address=ip_address or None,
        user_agent=(user_agent or "")[:400],
    )
    consent_record(
        member,
        AGREEMENT_CONSENTS.get(version.kind, ConsentKind.TERMS),
        granted=True,
        source=consent_source,
        ip_address=ip_address,
        evidence=f"{version.kind} v{version.version}",
        at=signature.signed_at,
    )
    return signature


def note_add(
    *, member: Member, body: str, is_alert: bool = False, author: Any = None
) -> MemberNote:
    body = (body or "").strip()
    if not body:
        raise ValidationError({"body": _("Write the note first.")})
    return MemberNote.objects.create(
        member=member,
        body=body,
        is_alert=is_alert,
        author=author if getattr(author, "is_authenticated", False) else None,
    )


def alerts_resolve(note_ids: Iterable[int]) -> int:
    """:func:`alert_resolve` for many notes at once; returns how many were still open."""
    return MemberNote.objects.filter(pk__in=list(note_ids), resolved_at__isnull=True).update(
        resolved_at=clock.now()
    )


def alert_resolve(note: MemberNote) -> MemberNote:
    if note.resolved_at is None:
        note.resolved_at = clock.now()
        note.save(update_fields=["resolved_at"])
    return note


def staff_language_set(user: Any, language: str) -> StaffSettings:
    """Remember the language ``user`` works in (English or Thai)."""
    if language not in Language.values:
        raise ValidationError(_("Choose English or Thai."), code="invalid_language")
    chosen, _created = StaffSettings.objects.update_or_create(
        user=user, defaults={"language": language}
    )
    return chosen


# --- Portal logins ----------------------------------------------------------------------


def portal_username(member: Member) -> str:
    return f"member-{member.member_number}"


@transaction.atomic
def member_login_ensure(member: Member, *, email_verified: bool = False) -> Any:
    """The member's portal login, made on first need (joining online, the desk's invite).

    A login is the member's email: the user's username is ``member-<number>`` and it has
    no usable password until the member sets one (the invite link, a password reset) or
    signs in with a code.  ``email_verified``: the member has shown they read that inbox
    (they followed a link or typed a code sent there).  Never for staff: a staff login
    stays the admin's.
    """
    locked = Member.objects.select_for_update().get(pk=member.pk)
    email = (locked.email or "").strip().lower()
    if not email:
        raise ValidationError(
            {"email": _("The member needs an email address to sign in.")}, code="email_missing"
        )
    user = locked.user
    if user is None:
        user = get_user_model().objects.create_user(
            username=portal_username(locked), email=email, password=None
        )
        locked.user = user
        locked.save(update_fields=["user", "updated_at"])
    elif user.is_staff or user.is_superuser:
        raise ValidationError(
            _("This member's login is a staff login; staff sign in at the desk."),
            code="staff_login",
        )
    elif user.email != email:
        user.email = email
        user.save(update_fields=["email"])
    address = EmailAddress.objects.filter(user=user, email__iexact=email).first()
    if address is None:
        EmailAddress.objects.filter(user=user).update(primary=False)
        address = EmailAddress.objects.create(
            user=user, email=email, primary=True, verified=email_verified
        )
    elif email_verified and not address.verified:
        address.verified = True
        address.save(update_fields=["verified"])
    member.user = user
    return user


# --- The member's own changes in the portal ---------------------------------------------

# What a member may change about themselves in the portal (the rest is the desk's).
PORTAL_PROFILE_FIELDS = (
    "nickname",
    "phone",
    "address_line1",
    "address_line2",
    "city",
    "province",
    "postal_code",
    "emergency_contact_name",
    "emergency_contact_phone",
    "emergency_contact_relationship",
    "language",
    "transactional_email",
    "transactional_sms",
    "tax_name",
    "tax_address",
    "tax_id",
    "tax_branch",
)


@transaction.atomic
def member_profile_update(
    member: Member, *, marketing_email: bool, marketing_sms: bool, **data: Any
) -> Member:
    """The member's own changes from the portal's profile page: contact details, emergency
    contact, language, billing messages, tax invoice details; and marketing consent,
    stamped only when it changes.  All or nothing: ``ValidationError`` saves nothing."""
    unknown = set(data) - set(PORTAL_PROFILE_FIELDS)
    if unknown:
        raise ValidationError({field: _("This field cannot be set here.") for field in unknown})
    locked = Member.objects.select_for_update().get(pk=member.pk)
    member_update(locked, consent_source=ConsentSource.PORTAL, **data)
    if (locked.marketing_email, locked.marketing_sms) != (marketing_email, marketing_sms):
        member_set_marketing_consent(locked, email=marketing_email, sms=marketing_sms)
    return locked


@transaction.atomic
def privacy_request_make(
    member: Member, *, kind: str, note: str = "", ip_address: str | None = None
) -> PrivacyRequest:
    """Record a member's request for a copy or the erasure of their data, for staff to
    answer.  Asking again while one of the same kind is open returns that one."""
    if kind not in PrivacyRequestKind.values:
        raise ValidationError({"kind": _("Choose a copy of your data or its erasure.")})
    Member.objects.select_for_update().filter(pk=member.pk).first()
    existing = PrivacyRequest.objects.filter(
        member=member, kind=kind, status=PrivacyRequestStatus.OPEN
    ).first()
    if existing is not None:
        return existing
    request = PrivacyRequest(member=member, kind=kind, note=note.strip(), ip_address=ip_address)
    request.full_clean()
    request.save()
    return request


@transaction.atomic
def privacy_request_close(request: PrivacyRequest, *, status: str, by: Any) -> PrivacyRequest:
    """Staff answer a privacy request (done or refused)."""
    if status not in (PrivacyRequestStatus.DONE, PrivacyRequestStatus.REFUSED):
        raise ValidationError({"status": _("Choose answered or declined.")})
    locked = PrivacyRequest.objects.select_for_update().get(pk=request.pk)
    if locked.status != PrivacyRequestStatus.OPEN:
        return locked
    locked.status = status
    locked.handled_at = clock.now()
    locked.handled_by = by
    locked.save(update_fields=["status", "handled_at", "handled_by"])
    return locked


def portal_invite_send(member: Member) -> None:
    """Email the member a link to set their portal password (the desk's "send portal
    invite").  Makes their login first if they have none; a staff login is refused.
    The email goes after the transaction commits, in the member's language."""
    with transaction.atomic():
        user = member_login_ensure(member)
        uid, token = invite_path_parts(user)
        link = settings.PORTAL_PUBLIC_BASE_URL.rstrip("/") + reverse(
            "portal:invite", args=[uid, token]
        )
        gym = GymProfile.objects.first()
        with translation.override(member.language or settings.LANGUAGE_CODE):
            context = {
                "member": member,
                "link": link,
                "gym": gym,
                "days": settings.PORTAL_INVITE_MAX_AGE_DAYS,
            }
            subject = render_to_string("members/portal/email/invite_subject.txt", context)
            body = render_to_string("members/portal/email/invite.txt", context)
        message = EmailMessage(" ".join(subject.split()), body, to=[user.email])
        transaction.on_commit(lambda: message.send(fail_silently=False))


@transaction.atomic
def portal_invite_accept(member: Member, password: str) -> Any:
    """The member followed their invite and chose a password (already validated): it is
    set, and their email counts as verified (the link reached that inbox)."""
    user = member_login_ensure(member, email_verified=True)
    user.set_password(password)
    user.save(update_fields=["password"])
    return user
