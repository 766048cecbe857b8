"""Billing's cards on the portal's home page (``members.hooks.portal_home_cards``): the
membership (status, plan, next payment) and what is owed, with a Pay button, and why
access is paused when it is.  A fixed number of queries, however long the history."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from django.urls import NoReverseMatch, reverse
from django.utils.translation import gettext as _

from config.dates import format_date
from members.hooks import DANGER, GOOD, WARN, PortalAction, PortalCard, PortalRow

from ..models import MembershipStatus, PlanKind
from ..money import format_amount
from ..plan_terms import plan_name
from ..summaries import MemberStanding, member_standing

TONES: dict[str, str] = {
    MembershipStatus.ACTIVE: GOOD,
    MembershipStatus.TRIALING: GOOD,
    MembershipStatus.PENDING: WARN,
    MembershipStatus.FROZEN: WARN,
    MembershipStatus.PAST_DUE: WARN,
    MembershipStatus.SUSPENDED: DANGER,
}


def portal_url(name: str, *args: Any) -> str:
    """A billing portal page's address, or "" while that page does not exist."""
    try:
        return reverse(name, args=args)
    except NoReverseMatch:
        return ""


def standing_for(request: HttpRequest, member: Any) -> MemberStanding:
    """The member's standing, read once per request however many cards ask."""
    cache: dict[int, MemberStanding] = request.__dict__.setdefault("_portal_standing", {})
    if member.pk not in cache:
        cache[member.pk] = member_standing(member)
    return cache[member.pk]


def portal_home_cards(request: HttpRequest, member: Any) -> list[PortalCard]:
    standing = standing_for(request, member)
    cards = [_membership_card(standing)]
    if member.payer.pk == member.pk or standing.open_invoices:
        cards.append(_balance_card(standing))
    return cards


def _membership_card(standing: MemberStanding) -> PortalCard:
    membership = standing.membership
    if membership is None:
        return PortalCard(
            key="membership",
            title=_("Your membership"),
            text=_("You have no membership yet. Ask at the front desk, or join online."),
            order=10,
        )
    rows = [
        PortalRow(_("Plan"), plan_name(membership.plan)),
        PortalRow(
            _("Status"), membership.get_status_display(), tone=TONES.get(membership.status, "")
        ),
    ]
    if membership.status == MembershipStatus.FROZEN and membership.frozen_until:
        rows.append(PortalRow(_("Frozen until"), format_date(membership.frozen_until)))
    if membership.cancel_at and membership.status not in (
        MembershipStatus.CANCELLED,
        MembershipStatus.ENDED,
    ):
        rows.append(PortalRow(_("Ends on"), format_date(membership.cancel_at)))
    rows.append(_next_payment_row(standing))
    if membership.payer_id != membership.member_id:
        rows.append(PortalRow(_("Paid by"), membership.payer.full_name))
    manage = portal_url("billing_portal:membership")
    return PortalCard(
        key="membership",
        title=_("Your membership"),
        rows=rows,
        text=_paused_reason(standing),
        actions=[PortalAction(_("Manage membership"), manage, "")] if manage else [],
        tone=TONES.get(membership.status, ""),
        order=10,
    )


def _next_payment_row(standing: MemberStanding) -> PortalRow:
    charge = standing.next_charge
    if charge is None:
        membership = standing.membership
        prepaid = membership is not None and membership.plan.kind == PlanKind.PREPAID
        return PortalRow(_("Next payment"), _("None: prepaid") if prepaid else _("None scheduled"))
    return PortalRow(
        _("Next payment"),
        format_amount(charge.amount, charge.currency),
        detail=format_date(charge.on),
    )


def _paused_reason(standing: MemberStanding) -> str:
    """Why the member cannot get in, in words they can act on ("" when they can)."""
    membership = standing.membership
    status = membership.status if membership else ""
    if status == MembershipStatus.SUSPENDED:
        return _(
            "Your access is paused because a payment is overdue. "
            "Pay what is owed and your access opens again at once."
        )
    if status == MembershipStatus.PAST_DUE:
        return _(
            "Your last payment did not go through. Please pay now so your access is not paused."
        )
    if status == MembershipStatus.FROZEN:
        return _("Your membership is frozen: access opens again when the freeze ends.")
    if status == MembershipStatus.PENDING:
        return _("Your membership starts once the first payment is made.")
    return ""


def _balance_card(standing: MemberStanding) -> PortalCard:
    owed = {currency: amount for currency, amount in standing.owed.items() if amount}
    invoices_url = portal_url("billing_portal:invoices")
    links = [PortalAction(_("Invoices and receipts"), invoices_url, "")] if invoices_url else []
    if not owed:
        return PortalCard(
            key="balance",
            title=_("Payments"),
            text=_("Nothing is owed. Thank you!"),
            actions=links,
            tone=GOOD,
            order=20,
        )
    figure = ", ".join(format_amount(amount, currency) for currency, amount in owed.items())
    rows = [
        PortalRow(
            invoice.number or _("Invoice"),
            format_amount(invoice.amount_due, invoice.currency),
            detail=_due(invoice.due_on),
            tone=DANGER if standing.overdue else "",
        )
        for invoice in standing.open_invoices[:5]
    ]
    pay_url = portal_url("billing_portal:pay")
    actions = [PortalAction(_("Pay now"), pay_url)] if pay_url else []
    text = "" if pay_url else _("Pay at the front desk, or by the link in our last email.")
    return PortalCard(
        key="balance",
        title=_("Payments"),
        figure=figure,
        figure_label=_("owed"),
        rows=rows,
        text=text,
        actions=[*actions, *links],
        tone=DANGER if standing.overdue else WARN,
        order=20,
    )


def _due(day: Any) -> str:
    return _("due %(day)s") % {"day": format_date(day)} if day else ""
