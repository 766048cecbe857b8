"""What the members app holds about a member, for the privacy registry."""

from __future__ import annotations

import datetime as dt
from typing import Any

from allauth.account.models import EmailAddress
from django.contrib.auth import get_user_model
from django.db.models import Q, QuerySet
from django.utils.translation import gettext_lazy

from ..models import (
    AgreementSignature,
    AuditRecord,
    Consent,
    Household,
    Lead,
    LeadMessage,
    Member,
    MemberNote,
    PrivacyRequest,
)
from .registry import ModelPolicy, register

ERASED_FIRST_NAME = "Erased"
ERASED_LAST_NAME = "member"

# The profile's personal fields and what they become.
PROFILE_BLANKS: dict[str, Any] = {
    "nickname": "",
    "email": "",
    "phone": "",
    "date_of_birth": None,
    "address_line1": "",
    "address_line2": "",
    "city": "",
    "province": "",
    "postal_code": "",
    "emergency_contact_name": "",
    "emergency_contact_phone": "",
    "emergency_contact_relationship": "",
    "tax_name": "",
    "tax_address": "",
    "tax_id": "",
    "tax_branch": "",
    "marketing_email": False,
    "marketing_sms": False,
    "marketing_consent_at": None,
    "transactional_email": False,
    "transactional_sms": False,
    "lead_source": "",
}


def _member_leads(member: Member) -> QuerySet[Lead]:
    """Leads linked to the member, and those made with their email before they joined."""
    match = Q(member=member)
    if member.email:
        match |= Q(member__isnull=True, email__iexact=member.email)
    return Lead.objects.filter(match)


def erase_profile(member: Member, now: dt.datetime) -> int:
    """The profile: name, contact details, address, emergency contact, photo, tax details
    and preferences go; the member number stays (invoices kept for tax name it)."""
    if member.photo:
        member.photo.delete(save=False)
    Member.objects.filter(pk=member.pk).update(
        first_name=ERASED_FIRST_NAME,
        last_name=ERASED_LAST_NAME,
        photo="",
        erased_at=now,
        updated_at=now,
        **PROFILE_BLANKS,
    )
    return 1


def erase_login(member: Member, now: dt.datetime) -> int:
    """The portal login: no name, no email, no password, signed out everywhere."""
    if not member.user_id:
        return 0
    user_model = get_user_model()
    user = user_model.objects.get(pk=member.user_id)
    EmailAddress.objects.filter(user=user).delete()
    # An inactive account's sessions are refused on the next request (the backends check
    # ``is_active``), so the member is signed out everywhere.
    user.set_unusable_password()
    user.username = f"erased-{member.member_number}"
    user.email = ""
    user.first_name = user.last_name = ""
    user.is_active = False
    user.save()
    return 1


def _user_rows(member: Member) -> QuerySet[Any]:
    return get_user_model().objects.filter(member=member)


def _blank(queryset: QuerySet[Any], **values: Any) -> int:
    return queryset.update(**values)


def member_blockers(member: Member) -> list[str]:
    from django.utils.translation import gettext as _

    reasons = []
    wards = Member.objects.filter(guardian=member, erased_at__isnull=True).count()
    if wards:
        reasons.append(
            _("They are the guardian of %(count)d member(s): name another guardian first.")
            % {"count": wards}
        )
    others = Member.objects.filter(household__payer=member).exclude(pk=member.pk).count()
    if others:
        reasons.append(
            _("They pay for a household with %(count)d other member(s): move them first.")
            % {"count": others}
        )
    return reasons


def register_members() -> None:
    register(
        ModelPolicy(
            "members.Member",
            rows=lambda member: Member.objects.filter(pk=member.pk),
            erase=erase_profile,
            order=90,
        )
    )
    register(
        ModelPolicy(
            "auth.User",
            rows=_user_rows,
            secret=("password",),
            erase=erase_login,
            order=85,
        )
    )
    register(
        ModelPolicy(
            "account.EmailAddress",
            rows=lambda member: EmailAddress.objects.filter(user__member=member),
            erase=lambda member, now: 0,  # deleted with the login (``erase_login``)
        )
    )
    register(
        ModelPolicy(
            "members.Household",
            rows=lambda member: Household.objects.filter(payer=member),
            erase=lambda member, now: sum(
                Household.objects.filter(pk=household.pk).update(name=f"Household {household.pk}")
                for household in Household.objects.filter(payer=member)
            ),
        )
    )
    register(
        ModelPolicy(
            "members.PrivacyRequest",
            rows=lambda member: PrivacyRequest.objects.filter(member=member),
            erase=lambda member, now: _blank(
                PrivacyRequest.objects.filter(member=member), note="", ip_address=None
            ),
        )
    )
    register(
        ModelPolicy(
            "members.MemberNote",
            rows=lambda member: MemberNote.objects.filter(member=member),
            erase=lambda member, now: MemberNote.objects.filter(member=member).delete()[0],
        )
    )
    register(
        ModelPolicy(
            "members.AgreementSignature",
            rows=lambda member: AgreementSignature.objects.filter(member=member),
            # The row stays (which version was accepted, and when); who typed the name and
            # from where goes.
            erase=lambda member, now: _blank(
                AgreementSignature.objects.filter(member=member),
                signer_name="",
                ip_address=None,
                user_agent="",
            ),
        )
    )
    register(
        ModelPolicy(
            "members.Consent",
            rows=lambda member: Consent.objects.filter(member=member),
            # What was agreed and when is kept as proof; the address it came from goes.
            erase=lambda member, now: _blank(
                Consent.objects.filter(member=member), ip_address=None
            ),
        )
    )
    register(
        ModelPolicy(
            "members.Lead",
            rows=_member_leads,
            erase=lambda member, now: _blank(
                _member_leads(member),
                first_name=ERASED_FIRST_NAME,
                last_name=ERASED_LAST_NAME,
                email=f"erased-{member.member_number}@invalid",
                phone="",
                interested_in="",
                notes="",
                marketing_email=False,
                marketing_consent_at=None,
            ),
            order=40,  # before the profile: leads are found by the member's email
        )
    )
    register(
        ModelPolicy(
            "members.LeadMessage",
            rows=lambda member: LeadMessage.objects.filter(lead__in=_member_leads(member)),
            erase=lambda member, now: _blank(
                LeadMessage.objects.filter(lead__in=_member_leads(member)),
                recipient="",
                subject="",
                error="",
            ),
            order=30,  # before the leads lose the email they are found by
        )
    )
    register(
        ModelPolicy(
            "members.AuditRecord",
            rows=lambda member: AuditRecord.objects.filter(member=member),
            retained=gettext_lazy(
                "The audit trail is append-only and tamper-evident (each record carries "
                "the hash of the one before): changing a record would break the chain the "
                "law's accountability rests on. Records name members by id; the erasure "
                "itself is recorded without the erased details."
            ),
        )
    )
