"""The member's membership: freeze and unfreeze, cancel, change plan.

Each change is shown with what it costs and when it takes effect (``services.terms``,
the very calculation the service applies) before the member confirms, and is then made
by the same billing service the desk uses.  Only the member who pays for a membership
changes it; a household member sees theirs and is told who can.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django import forms
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_http_methods

from config import clock, inputs
from config.dates import format_date
from config.errors import DomainError
from members.portal.access import member_required

from ..models import LIVE_STATUSES, CancelReason, Membership, MembershipStatus, Plan, PlanKind
from ..money import format_amount
from ..plan_terms import plan_name
from ..services import memberships as lifecycle
from ..services import terms
from .scope import me, member_ids_in_reach

SECTION = "membership"
PREVIEW, CONFIRM = "preview", "confirm"


def _memberships(request: HttpRequest) -> QuerySet[Membership]:
    return Membership.objects.filter(member_id__in=member_ids_in_reach(request)).select_related(
        "member", "payer", "plan", "pending_plan"
    )


def _paid_for(request: HttpRequest, membership_id: int) -> Membership:
    """A membership the signed-in member pays for (theirs or a dependant's), else 404."""
    membership = _memberships(request).filter(pk=membership_id, payer=me(request)).first()
    if membership is None:
        raise Http404
    return membership


def _money(amount: int, membership: Membership) -> str:
    return format_amount(amount, membership.currency)


@member_required
def membership_page(request: HttpRequest) -> HttpResponse:
    request.portal_section = SECTION  # type: ignore[attr-defined]
    rows = list(_memberships(request).filter(status__in=LIVE_STATUSES).order_by("-started_on"))
    shown = [
        {
            "membership": membership,
            "plan": plan_name(membership.plan),
            "pending_plan": plan_name(membership.pending_plan) if membership.pending_plan else "",
            "mine_to_change": membership.payer_id == me(request).pk,
            "can_freeze": terms.can(membership, "freeze") and membership.plan.freezes_per_year > 0,
            "can_unfreeze": terms.can(membership, "unfreeze"),
            "can_cancel": terms.can(membership, "cancel") and not membership.cancel_at,
            "can_change_plan": membership.plan.kind == PlanKind.RECURRING
            and not membership.cancel_at
            and (terms.can(membership, "upgrade") or terms.can(membership, "downgrade")),
        }
        for membership in rows
    ]
    return render(request, "billing/portal/membership.html", {"rows": shown})


def _done(request: HttpRequest, text: str) -> HttpResponse:
    messages.success(request, text)
    return HttpResponseRedirect(reverse("billing_portal:membership"), status=303)


def _render(
    request: HttpRequest, template: str, context: dict[str, Any], status: int = 200
) -> HttpResponse:
    request.portal_section = SECTION  # type: ignore[attr-defined]
    return render(request, f"billing/portal/{template}", context, status=status)


# --- Freeze ---------------------------------------------------------------------------


class FreezeForm(forms.Form):
    starts_on = forms.DateField(
        label=gettext_lazy("First day frozen"),
        widget=forms.DateInput(format="%Y-%m-%d", attrs={"type": "date"}),
    )
    ends_on = forms.DateField(
        label=gettext_lazy("Back on"),
        widget=forms.DateInput(format="%Y-%m-%d", attrs={"type": "date"}),
    )

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        for name in ("starts_on", "ends_on"):
            if data.get(name):
                try:
                    inputs.check_date(data[name], days_ahead=730)
                except ValidationError as exc:
                    self.add_error(name, exc)
        if data.get("starts_on") and data.get("ends_on") and data["ends_on"] <= data["starts_on"]:
            self.add_error("ends_on", _("The freeze must end after it starts."))
        return data


@member_required
@require_http_methods(["GET", "POST"])
def freeze(request: HttpRequest, membership_id: int) -> HttpResponse:
    membership = _paid_for(request, membership_id)
    today = clock.today()
    form = FreezeForm(
        request.POST or None,
        initial={
            "starts_on": today,
            "ends_on": today + dt.timedelta(days=membership.plan.freeze_min_days or 7),
        },
    )
    context: dict[str, Any] = {
        "membership": membership,
        "plan": plan_name(membership.plan),
        "form": form,
    }
    if request.method == "POST" and form.is_valid():
        starts_on, ends_on = form.cleaned_data["starts_on"], form.cleaned_data["ends_on"]
        try:
            if request.POST.get("step") == CONFIRM:
                lifecycle.membership_freeze(
                    membership,
                    starts_on=starts_on,
                    ends_on=ends_on,
                    reason="member (portal)",
                    actor=request.user,
                )
                return _done(
                    request,
                    _("Your membership is frozen from %(day)s.") % {"day": format_date(starts_on)},
                )
            year_ago = today - dt.timedelta(days=365)
            quote = terms.freeze_terms(
                membership,
                starts_on=starts_on,
                ends_on=ends_on,
                today=today,
                used_this_year=membership.freezes.filter(starts_on__gt=year_ago).count(),
            )
        except DomainError as exc:
            context["error"] = exc.message
        else:
            context["quote"] = {
                "days": quote.days,
                "fee": _money(quote.fee_total, membership) if quote.fee_total else "",
                "next_billing_date": quote.next_billing_date,
                "starts_on": starts_on,
                "ends_on": ends_on,
            }
    return _render(
        request, "freeze.html", context, status=400 if context.get("error") or form.errors else 200
    )


@member_required
@require_http_methods(["GET", "POST"])
def unfreeze(request: HttpRequest, membership_id: int) -> HttpResponse:
    membership = _paid_for(request, membership_id)
    context: dict[str, Any] = {"membership": membership, "plan": plan_name(membership.plan)}
    if request.method == "POST":
        try:
            lifecycle.membership_unfreeze(membership, actor=request.user)
        except DomainError as exc:
            context["error"] = exc.message
        else:
            return _done(request, _("Welcome back! Your membership is active again."))
    return _render(request, "unfreeze.html", context, status=400 if context.get("error") else 200)


# --- Cancel ---------------------------------------------------------------------------


class CancelForm(forms.Form):
    reason = forms.ChoiceField(
        label=gettext_lazy("Why are you leaving?"),
        choices=CancelReason.choices,
        widget=forms.RadioSelect,
    )


@member_required
@require_http_methods(["GET", "POST"])
def cancel(request: HttpRequest, membership_id: int) -> HttpResponse:
    membership = _paid_for(request, membership_id)
    form = CancelForm(request.POST or None)
    context: dict[str, Any] = {
        "membership": membership,
        "plan": plan_name(membership.plan),
        "form": form,
    }
    if request.method == "POST" and form.is_valid():
        reason = form.cleaned_data["reason"]
        try:
            quote = terms.cancel_terms(
                membership, at_period_end=True, waive_fees=False, today=clock.today()
            )
            if request.POST.get("step") == CONFIRM:
                lifecycle.membership_cancel(
                    membership,
                    at_period_end=True,
                    reason=reason,
                    actor=request.user,
                    channel="portal",
                )
                return _done(
                    request,
                    _("Your membership is cancelled. It ends on %(day)s.")
                    % {"day": format_date(quote.ends_on)},
                )
        except DomainError as exc:
            context["error"] = exc.message
        else:
            context["quote"] = {
                "ends_on": quote.ends_on,
                "fee": _money(quote.fee_total, membership) if quote.fee_total else "",
                "in_minimum_term": quote.in_minimum_term,
                "notice_days": membership.plan.cancellation_notice_days,
                "minimum_term_ends_on": membership.minimum_term_ends_on,
                "reason": reason,
                "reason_label": CancelReason(reason).label,
            }
    return _render(
        request, "cancel.html", context, status=400 if context.get("error") or form.errors else 200
    )


# --- Change plan ----------------------------------------------------------------------


def _plans_for(membership: Membership) -> list[Plan]:
    return list(
        Plan.objects.filter(
            is_active=True,
            kind=PlanKind.RECURRING,
            currency=membership.currency,
            interval=membership.plan.interval,
            interval_count=membership.plan.interval_count,
        )
        .exclude(pk=membership.plan_id)
        .order_by("price", "name")
    )


@member_required
@require_http_methods(["GET", "POST"])
def change_plan(request: HttpRequest, membership_id: int) -> HttpResponse:
    membership = _paid_for(request, membership_id)
    plans = _plans_for(membership)
    today = clock.today()
    choices = [
        {
            "plan": plan,
            "label": plan_name(plan),
            "price": _money(plan.price, membership),
            "difference": _money(plan.price - membership.plan.price, membership),
            "upgrade": plan.price >= membership.plan.price,
        }
        for plan in plans
    ]
    context: dict[str, Any] = {
        "membership": membership,
        "plan": plan_name(membership.plan),
        "price": _money(membership.plan.price, membership),
        "choices": choices,
    }
    if request.method == "POST":
        wanted = str(request.POST.get("plan", ""))
        new_plan = next((plan for plan in plans if str(plan.pk) == wanted), None)
        if new_plan is None:
            context["error"] = _("Choose one of the plans below.")
            return _render(request, "change_plan.html", context, status=400)
        try:
            quote = terms.plan_change_terms(membership, new_plan, today=today)
            if request.POST.get("step") == CONFIRM:
                if quote.upgrade:
                    lifecycle.membership_upgrade(membership, new_plan, actor=request.user)
                    text = _("You are now on %(plan)s.") % {"plan": plan_name(new_plan)}
                else:
                    lifecycle.membership_downgrade(membership, new_plan, actor=request.user)
                    text = _("You move to %(plan)s on %(day)s.") % {
                        "plan": plan_name(new_plan),
                        "day": format_date(quote.from_date),
                    }
                return _done(request, text)
        except DomainError as exc:
            context["error"] = exc.message
        else:
            context["quote"] = {
                "plan": new_plan,
                "label": plan_name(new_plan),
                "upgrade": quote.upgrade,
                "charge_now": _money(quote.charge_now, membership),
                "from_date": quote.from_date,
                "new_price": _money(quote.new_price, membership),
                "trial": membership.status == MembershipStatus.TRIALING,
            }
    return _render(
        request, "change_plan.html", context, status=400 if context.get("error") else 200
    )
