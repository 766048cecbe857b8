"""Joining online: a visitor chooses a plan, gives their details, signs the agreement and
pays, and is a member.  The pages (``billing.portal.join``) hold the join's progress in
the visitor's session; every rule is here or in the services this calls, the desk's own:

- the details are checked by the member model's own validation (``Member.full_clean``,
  as ``members.services.member_register`` does for the desk), a minor's guardian too;
- what the first invoice will be is worked out by the sign-up itself
  (``desk.sign_up_quote``), so the fees shown are the fees charged;
- the agreement is signed with ``members.services.agreement_sign`` (the member's own
  time, address and browser, recorded when they signed);
- the membership starts with ``memberships.membership_sign_up`` and the first invoice is
  paid with ``payments.invoice_charge`` (a card from the gateway's own form) or a
  PromptPay QR (``promptpay.promptpay_request_create``).

States (docs/join.md):

1. **lead**: the details step passed; a :class:`members.models.Lead`, nothing else.
2. **signed**: the agreement is signed in the session; still only the lead.
3. **paying**: the pay step made the member (``prospect``), the signatures, the card and
   the membership (``pending``, no access, no login) in one transaction, and asked for
   the first payment.  A refusal before that (a card the gateway does not know, a plan
   no longer on sale, an email already a member's) saves nothing.  A declined card or an
   unpaid QR leaves the join *paying*: the page offers another card or PromptPay for the
   same invoice, and the desk sees the sign-up awaiting payment.  The lead stays open.
4. **joined**: the first invoice is paid (or nothing was due): the membership is active,
   the lead is won, the member has a portal login.
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.db import transaction
from django.utils.translation import gettext as _

from config import clock
from config.inputs import text_problem
from members import leads
from members.models import AgreementVersion, Lead, LeadSource, Member, MemberStatus
from members.services import (
    agreement_sign,
    household_create,
    member_login_ensure,
    member_register,
    member_set_marketing_consent,
)

from ..errors import PaymentNotAllowed
from ..gateways import default_gateway_name
from ..models import (
    AttemptStatus,
    AttemptTrigger,
    Invoice,
    InvoiceStatus,
    Membership,
    MembershipStatus,
    PaymentMethod,
    Plan,
    PlanKind,
    PromptPayChannel,
    PromptPayRequest,
    PromptPayStatus,
)
from ..promptpay import conf as promptpay_conf
from . import memberships as membership_services
from . import payments as payment_services
from .desk import SignUpQuote, agreements_to_sign, sign_up_quote
from .promptpay import promptpay_request_create

CARD = "card"
PROMPTPAY = "promptpay"

# What the details step asks; the join refuses anything else.
DETAIL_FIELDS = ("first_name", "last_name", "email", "phone", "date_of_birth", "language")
REQUIRED_DETAILS = ("first_name", "last_name", "email", "phone", "date_of_birth")
GUARDIAN_FIELDS = ("first_name", "last_name", "phone", "date_of_birth")


# --- The plans ------------------------------------------------------------------------------


def join_plans() -> list[Plan]:
    """The plans a visitor may join online: on sale, cheapest first."""
    return list(Plan.objects.filter(is_active=True).order_by("price", "pk"))


def join_anchor_day(start: dt.date | None = None) -> int | None:
    """The day of the month online joiners are billed on (``JOIN_ANCHOR_DAY``); ``None``:
    the day they start (no prorating)."""
    anchor = int(getattr(settings, "JOIN_ANCHOR_DAY", 0) or 0)
    return anchor if 1 <= anchor <= 28 else None


class _Quoted(Exception):
    def __init__(self, quote: SignUpQuote) -> None:
        self.quote = quote


def join_quote(plan: Plan) -> SignUpQuote:
    """What joining ``plan`` today costs: the first invoice (joining fee, the first period
    prorated to the anchor day, tax) and the charge after it, worked out by the desk's
    own quote (a real sign-up, rolled back) for a stand-in member.  Nothing is kept."""
    try:
        with transaction.atomic():
            # A number far above real ones, so quotes never wait on the member sequence.
            stand_in = Member(
                first_name="Quote",
                last_name="Quote",
                member_number=random.randint(2_000_000_000, 2_100_000_000),
            )
            stand_in.save()
            raise _Quoted(sign_up_quote(stand_in, plan, anchor_day=join_anchor_day()))
    except _Quoted as made:
        return made.quote


# --- Details --------------------------------------------------------------------------------


@dataclass
class JoinDetails:
    """The details step's answers, checked; kept in the session as plain data."""

    member: dict[str, Any]
    guardian: dict[str, Any] | None = None
    marketing_email: bool = False

    def as_session(self) -> dict[str, Any]:
        def plain(values: Mapping[str, Any]) -> dict[str, Any]:
            return {k: v.isoformat() if isinstance(v, dt.date) else v for k, v in values.items()}

        return {
            "member": plain(self.member),
            "guardian": plain(self.guardian) if self.guardian else None,
            "marketing_email": self.marketing_email,
        }

    @classmethod
    def from_session(cls, data: Mapping[str, Any]) -> JoinDetails:
        def dates(values: Mapping[str, Any]) -> dict[str, Any]:
            out = dict(values)
            if out.get("date_of_birth"):
                out["date_of_birth"] = dt.date.fromisoformat(out["date_of_birth"])
            return out

        guardian = data.get("guardian")
        return cls(
            member=dates(data["member"]),
            guardian=dates(guardian) if guardian else None,
            marketing_email=bool(data.get("marketing_email")),
        )

    def new_member(self) -> Member:
        return Member(**self.member, lead_source=LeadSource.WEBSITE)

    def new_guardian(self) -> Member | None:
        if not self.guardian:
            return None
        return Member(**self.guardian, language=self.member.get("language", "th"))

    @property
    def is_minor(self) -> bool:
        return self.new_member().is_minor


def _required(
    values: Mapping[str, Any], names: tuple[str, ...], prefix: str = ""
) -> dict[str, Any]:
    return {
        f"{prefix}{name}": [ValidationError(_("This field is required."), code="required")]
        for name in names
        if not values.get(name)
    }


def _member_errors(member: Member, *, guardian_given: bool) -> dict[str, list[ValidationError]]:
    """The desk's validation of a new member (``Member.full_clean``), as a dict."""
    try:
        member.full_clean(exclude=["member_number"])
    except ValidationError as exc:
        errors = exc.update_error_dict({})
        if guardian_given:
            errors["guardian"] = [
                e for e in errors.get("guardian", []) if e.code != "guardian_required"
            ]
            if not errors["guardian"]:
                del errors["guardian"]
        return errors
    return {}


def join_details_check(
    member: Mapping[str, Any], guardian: Mapping[str, Any] | None, *, marketing_email: bool
) -> JoinDetails:
    """Check the details step: the same rules as a member registered at the desk, plus
    what joining online needs (an email to sign in with, a phone, a date of birth).

    A minor needs a guardian, an adult, who signs for them and pays; the guardian's
    fields are named ``guardian_<field>`` in the errors.  Raises ``ValidationError``
    naming every bad field; nothing is saved.
    """
    values = {k: member.get(k) for k in DETAIL_FIELDS if member.get(k) not in (None, "")}
    errors: dict[str, Any] = _required(values, REQUIRED_DETAILS)
    details = JoinDetails(member=values, marketing_email=bool(marketing_email))
    candidate = details.new_member()
    errors.update(
        {
            k: v
            for k, v in _member_errors(candidate, guardian_given=bool(guardian)).items()
            if k not in errors
        }
    )
    # The model cleaned the values (trimmed, the phone in E.164): keep what it kept.
    for name in values:
        values[name] = getattr(candidate, name)
    if candidate.is_minor:
        errors.pop("guardian", None)
        g_values = {
            k: (guardian or {}).get(k)
            for k in GUARDIAN_FIELDS
            if (guardian or {}).get(k) not in (None, "")
        }
        g_errors: dict[str, Any] = _required(g_values, GUARDIAN_FIELDS)
        g = Member(**g_values)
        for name, problems in _member_errors(g, guardian_given=False).items():
            g_errors.setdefault(name, problems)
        if g.date_of_birth and g.is_minor and "date_of_birth" not in g_errors:
            g_errors["date_of_birth"] = [
                ValidationError(_("The guardian must be an adult."), code="guardian_minor")
            ]
        for name in g_values:
            g_values[name] = getattr(g, name)
        errors.update(
            {
                f"guardian_{name}": problems
                for name, problems in g_errors.items()
                if name in GUARDIAN_FIELDS
            }
        )
        details.guardian = g_values
    if errors:
        raise ValidationError(errors)
    return details


def join_lead_record(details: JoinDetails, plan: Plan, lead_id: int | None = None) -> Lead:
    """The details step passed: the join is a lead until it is paid."""
    member = details.member
    return leads.lead_record(
        marketing_email=details.marketing_email,
        lead_id=lead_id,
        first_name=member["first_name"],
        last_name=member["last_name"],
        email=member["email"],
        phone=member.get("phone", ""),
        language=member.get("language", "th"),
        interested_in=plan.name,
        source=LeadSource.WEBSITE,
    )


# --- The agreement --------------------------------------------------------------------------


@dataclass
class JoinSignature:
    """The agreement as signed on the member's own device: the versions shown, the typed
    name, and when, from where and with what browser."""

    signer_name: str
    signed_at: dt.datetime
    ip_address: str | None
    user_agent: str
    versions: list[int] = field(default_factory=list)

    def as_session(self) -> dict[str, Any]:
        return {
            "signer_name": self.signer_name,
            "signed_at": self.signed_at.isoformat(),
            "ip_address": self.ip_address,
            "user_agent": self.user_agent,
            "versions": self.versions,
        }

    @classmethod
    def from_session(cls, data: Mapping[str, Any]) -> JoinSignature:
        return cls(
            signer_name=data["signer_name"],
            signed_at=dt.datetime.fromisoformat(data["signed_at"]),
            ip_address=data.get("ip_address"),
            user_agent=data.get("user_agent", ""),
            versions=list(data.get("versions", [])),
        )


def join_agreements() -> list[AgreementVersion]:
    """What a joining member signs: the current version of each agreement."""
    return agreements_to_sign()


def join_sign(
    details: JoinDetails,
    *,
    signer_name: str,
    consent: bool,
    ip_address: str | None,
    user_agent: str,
) -> JoinSignature:
    """The member (a minor's guardian) typed their name and agreed.  Nothing is saved
    yet: the signature is recorded when the member is, at the pay step, with this time,
    address and browser."""
    errors: dict[str, list[ValidationError]] = {}
    name = " ".join((signer_name or "").split())
    problem = text_problem(signer_name or "")
    if problem is not None:
        errors["signer_name"] = [problem]
    elif not name:
        errors["signer_name"] = [ValidationError(_("Type your full name to sign."))]
    elif len(name) > 160:
        errors["signer_name"] = [ValidationError(_("Type at most 160 characters."))]
    if not consent:
        errors["consent"] = [
            ValidationError(_("Tick the box to accept the agreement."), code="not_accepted")
        ]
    versions = [version.pk for version in join_agreements()]
    if not versions:
        errors[NON_FIELD_ERRORS] = [
            ValidationError(_("Joining online is closed: the gym has no agreement to sign."))
        ]
    if errors:
        raise ValidationError(errors)
    return JoinSignature(
        signer_name=name,
        signed_at=clock.now(),
        ip_address=ip_address or None,
        user_agent=(user_agent or "")[:400],
        versions=versions,
    )


# --- Paying and joining ---------------------------------------------------------------------


@dataclass
class JoinOutcome:
    """Where the pay step left the join."""

    member: Member
    membership: Membership
    invoice: Invoice | None
    declined: str = ""  # the decline's reason, for the member
    promptpay: PromptPayRequest | None = None

    @property
    def joined(self) -> bool:
        return self.membership.status in (MembershipStatus.ACTIVE, MembershipStatus.TRIALING)


def _save_people(details: JoinDetails) -> Member:
    """The member (and a minor's guardian, who pays for them) registered as at the desk."""
    member = details.new_member()
    guardian = details.new_guardian()
    if guardian is not None:
        member_register(guardian)
        member.guardian = guardian
    member_register(member)
    if guardian is not None:
        household = household_create(payer=guardian, name=f"{guardian.last_name} household")
        member.household = household
        member.save(update_fields=["household", "updated_at"])
    if details.marketing_email:
        member_set_marketing_consent(member, email=True, sms=False, source="join")
    return member


def _record_signatures(member: Member, signature: JoinSignature) -> None:
    current = {version.pk: version for version in join_agreements()}
    if set(signature.versions) != set(current):
        # A new wording came out while the member was signing: they must read it.
        raise PaymentNotAllowed(reason="agreement_changed")
    for version in current.values():
        agreement_sign(
            member=member,
            version=version,
            signer_name=signature.signer_name,
            ip_address=signature.ip_address,
            user_agent=signature.user_agent,
            signed_at=signature.signed_at,
            consent_source="join",
        )


def _card(payer: Member, card_token: str) -> PaymentMethod:
    token = (card_token or "").strip()
    if not token:
        raise PaymentNotAllowed(reason="card_missing")
    problem = text_problem(token)
    if problem is not None or len(token) > 200:
        raise ValidationError({"card_token": [problem or _("This card token is too long.")]})
    return payment_services.payment_method_attach(
        payer, gateway=default_gateway_name(), token=token
    )


def _check_route(route: str, plan: Plan) -> None:
    if route == PROMPTPAY and not (promptpay_conf.available() and plan.currency == "THB"):
        raise PaymentNotAllowed(reason="promptpay_unavailable")
    if route not in (CARD, PROMPTPAY):
        raise PaymentNotAllowed(reason="route_not_available")


def join_start(
    plan: Plan, details: JoinDetails, signature: JoinSignature, *, route: str, card_token: str = ""
) -> JoinOutcome:
    """The pay step's first press: make the member, their signatures, the card and the
    pending membership in one transaction, then ask for the first payment.

    Any refusal before the payment (a card the gateway does not know, an email that is
    already a member's, an agreement changed meanwhile, the plan off sale) saves nothing.
    """
    _check_route(route, plan)
    with transaction.atomic():
        member = _save_people(details)
        _record_signatures(member, signature)
        card = _card(member.payer, card_token) if route == CARD else None
        membership = membership_services.membership_sign_up(
            member,
            plan,
            anchor_day=join_anchor_day(),
            payment_method=card if plan.kind == PlanKind.RECURRING else None,
            charge=False,
        )
    return _first_payment(member, membership, route, card)


def join_pay_again(member: Member, *, route: str, card_token: str = "") -> JoinOutcome:
    """Another try at the first payment of a join still *paying* (the same invoice):
    a new card, or PromptPay."""
    membership = (
        Membership.objects.select_related("plan")
        .filter(member=member, status=MembershipStatus.PENDING)
        .order_by("-pk")
        .first()
    )
    if membership is None or member.status != MemberStatus.PROSPECT:
        raise PaymentNotAllowed(reason="nothing_to_pay")
    _check_route(route, membership.plan)
    card = None
    if route == CARD:
        with transaction.atomic():
            card = _card(member.payer, card_token)
            membership_services.membership_set_payment_method(membership, method=card)
    return _first_payment(member, membership, route, card)


def _first_invoice(membership: Membership) -> Invoice | None:
    return (
        Invoice.objects.filter(membership=membership, status=InvoiceStatus.OPEN)
        .order_by("pk")
        .first()
    )


def _first_payment(
    member: Member, membership: Membership, route: str, card: PaymentMethod | None
) -> JoinOutcome:
    invoice = _first_invoice(membership)
    outcome = JoinOutcome(member=member, membership=membership, invoice=invoice)
    if invoice is not None and route == CARD:
        assert card is not None
        attempt = payment_services.invoice_charge(
            invoice, trigger=AttemptTrigger.CUSTOMER, method=card
        )
        if attempt.status != AttemptStatus.SUCCEEDED:
            outcome.declined = attempt.decline_code or "declined"
    elif invoice is not None:
        outcome.promptpay = promptpay_request_create(
            invoices=[invoice], member=member.payer, channel=PromptPayChannel.PORTAL
        )
    membership.refresh_from_db()
    return outcome


def join_state(member_id: int) -> JoinOutcome | None:
    """Where a join that reached the pay step is now (the QR page's poll, a reload)."""
    member = Member.objects.filter(pk=member_id).first()
    if member is None:
        return None
    membership = Membership.objects.filter(member=member).order_by("-pk").first()
    if membership is None:
        return None
    outcome = JoinOutcome(member=member, membership=membership, invoice=_first_invoice(membership))
    if outcome.invoice is not None:
        outcome.promptpay = (
            PromptPayRequest.objects.filter(
                lines__invoice=outcome.invoice, status=PromptPayStatus.PENDING
            )
            .order_by("-pk")
            .first()
        )
    return outcome


def join_finish(member: Member, lead_id: int | None) -> Any:
    """The join is paid: the lead is won and the member has a portal login (their email,
    shown to be theirs only once they follow a link or type a code sent there)."""
    leads.lead_won(lead_id, member)
    return member_login_ensure(member)
