"""Billing on the member page (``members.hooks``): the header card's plan, next payment,
balance and card, and the desk's billing buttons, each for whoever may use it."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from django.conf import settings
from django.contrib.admin.utils import quote
from django.http import HttpRequest
from django.urls import reverse
from django.utils.translation import gettext as _

from config.dates import format_date
from members.hooks import ACTIONS, DANGER, GOOD, PRIMARY, RECORDS, WARN, MemberFact, MemberTool

from ..models import MembershipStatus, PlanKind
from ..money import format_amount
from ..plan_terms import plan_name
from ..services.memberships import ALLOWED_FROM
from ..summaries import MemberStanding, member_standing

MEMBERSHIP_TONES: dict[str, str] = {
    MembershipStatus.ACTIVE: GOOD,
    MembershipStatus.TRIALING: GOOD,
    MembershipStatus.PAST_DUE: WARN,
    MembershipStatus.SUSPENDED: DANGER,
    MembershipStatus.PENDING: WARN,
}


def _standing(request: HttpRequest, member: Any) -> MemberStanding:
    """The member's standing, read once per request however many hooks ask."""
    cache: dict[int, MemberStanding] = request.__dict__.setdefault("_billing_standing", {})
    if member.pk not in cache:
        cache[member.pk] = member_standing(member)
    return cache[member.pk]


def take_payment_url(member: Any, next_url: str = "") -> str:
    url = reverse("admin:billing_invoice_take_payment", args=[quote(member.pk)])
    return f"{url}?{urlencode({'next': next_url})}" if next_url else url


def member_page_facts(request: HttpRequest, member: Any) -> list[MemberFact]:
    if not request.user.has_perm("billing.view_membership"):
        return []
    standing = _standing(request, member)
    facts = [_plan_fact(standing), _next_payment_fact(standing)]
    if request.user.has_perm("billing.view_invoice"):
        facts.append(_balance_fact(request, member, standing))
    if request.user.has_perm("billing.view_paymentmethod"):
        facts.append(_card_fact(standing))
    return facts


def _plan_fact(standing: MemberStanding) -> MemberFact:
    membership = standing.membership
    if membership is None:
        return MemberFact(_("Plan"), _("No membership"), order=10)
    detail = membership.get_status_display()
    if membership.status == MembershipStatus.FROZEN and membership.frozen_until:
        detail = _("Frozen until %(day)s") % {"day": format_date(membership.frozen_until, "short")}
    elif membership.cancel_at and membership.status not in (
        MembershipStatus.CANCELLED,
        MembershipStatus.ENDED,
    ):
        detail = _("Ends on %(day)s") % {"day": format_date(membership.cancel_at, "short")}
    if membership.payer_id != membership.member_id:
        detail += " · " + _("paid by %(payer)s") % {"payer": membership.payer.full_name}
    return MemberFact(
        _("Plan"),
        plan_name(membership.plan),
        detail=detail,
        url=reverse("admin:billing_membership_change", args=[quote(membership.pk)]),
        tone=MEMBERSHIP_TONES.get(membership.status, ""),
        order=10,
    )


def _next_payment_fact(standing: MemberStanding) -> MemberFact:
    charge = standing.next_charge
    if charge is None:
        membership = standing.membership
        prepaid = membership is not None and membership.plan.kind == PlanKind.PREPAID
        return MemberFact(
            _("Next payment"), _("None: prepaid") if prepaid else _("None scheduled"), order=20
        )
    return MemberFact(
        _("Next payment"),
        format_amount(charge.amount, charge.currency),
        detail=format_date(charge.on, "short"),
        order=20,
    )


def _balance_fact(request: HttpRequest, member: Any, standing: MemberStanding) -> MemberFact:
    owed = standing.owed
    if not any(owed.values()):
        return MemberFact(_("Balance owed"), format_amount(0, _currency(standing)), order=30)
    value = ", ".join(format_amount(amount, currency) for currency, amount in owed.items())
    detail = _("%(count)d open invoice(s)") % {"count": len(standing.open_invoices)}
    if standing.overdue:
        detail += " · " + _("overdue")
    return MemberFact(
        _("Balance owed"),
        value,
        detail=detail,
        url=reverse("admin:billing_invoice_changelist")
        + "?"
        + urlencode({"member__id__exact": member.pk, "status__exact": "open"}),
        tone=DANGER if standing.overdue else WARN,
        order=30,
    )


def _currency(standing: MemberStanding) -> str:
    return standing.membership.currency if standing.membership else settings.GYM_CURRENCY


def _next(member: Any) -> str:
    return reverse("admin:members_member_change", args=[quote(member.pk)])


def _card_fact(standing: MemberStanding) -> MemberFact:
    card = standing.card
    if card is None:
        return MemberFact(_("Card on file"), _("None"), order=40)
    return MemberFact(
        _("Card on file"),
        f"{card.brand.capitalize()} •••• {card.last4}",
        detail=_("expires %(month)02d/%(year)d") % {"month": card.exp_month, "year": card.exp_year},
        order=40,
    )


def member_page_tools(request: HttpRequest, member: Any) -> list[MemberTool]:
    """The desk's billing buttons, and links to the member's memberships and invoices."""
    user = request.user
    tools: list[MemberTool] = []
    standing = _standing(request, member) if user.has_perm("billing.view_membership") else None
    back = _next(member)
    if user.has_perm("billing.take_payment") and standing and standing.open_invoices:
        tools.append(
            MemberTool(_("Take payment"), take_payment_url(member, back), ACTIONS, PRIMARY, 20)
        )
    if user.has_perm("billing.add_paymentmethod"):
        url = reverse("admin:billing_paymentmethod_new_card", args=[quote(member.payer.pk)])
        tools.append(
            MemberTool(_("New payment card"), f"{url}?{urlencode({'next': back})}", ACTIONS, "", 40)
        )
    membership = standing.membership if standing else None
    if membership is not None and user.has_perm("billing.change_membership"):
        tools += _membership_tools(membership, back)
    live = membership is not None and membership.status in ALLOWED_FROM["cancel"]
    if not live and user.has_perm("billing.add_membership"):
        url = reverse("admin:billing_membership_add")
        tools.append(
            MemberTool(
                _("Add membership"), f"{url}?{urlencode({'member': member.pk})}", ACTIONS, "", 45
            )
        )
    for label, model in (
        (_("Memberships of %(name)s"), "membership"),
        (_("Invoices of %(name)s"), "invoice"),
    ):
        if user.has_perm(f"billing.view_{model}"):
            url = reverse(f"admin:billing_{model}_changelist")
            tools.append(
                MemberTool(
                    label % {"name": member.full_name},
                    f"{url}?{urlencode({'member__id__exact': member.pk})}",
                    RECORDS,
                    order=10 if model == "membership" else 11,
                )
            )
    return tools


def _membership_tools(membership: Any, back: str) -> list[MemberTool]:
    tools = []
    query = urlencode({"next": back})
    for action, label, tone, order in (
        ("freeze", _("Freeze"), "", 50),
        ("unfreeze", _("Unfreeze"), "", 50),
        ("cancel", _("Cancel membership"), DANGER, 60),
    ):
        if membership.status in ALLOWED_FROM[action]:
            url = reverse(f"admin:billing_membership_{action}", args=[quote(membership.pk)])
            tools.append(MemberTool(label, f"{url}?{query}", ACTIONS, tone, order))
    return tools
