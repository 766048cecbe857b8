"""A plan's price, fees and rules in words and money, as the desk and the online join
show them before anyone agrees (the same words in both places)."""

from __future__ import annotations

from typing import Any

from django.utils import translation
from django.utils.translation import gettext, ngettext

from .models import Plan, PlanKind
from .money import format_amount


def plan_name(plan: Any) -> str:
    """The plan's name in the reader's language (its Thai name where it has one)."""
    if translation.get_language() == "th" and plan.name_th:
        return str(plan.name_th)
    return str(plan.name)


def interval_text(plan: Plan) -> str:
    """How often the plan's price is charged, in words ("a month", "every 2 weeks")."""
    count = plan.interval_count
    if plan.kind == PlanKind.PREPAID:
        length = {
            "week": ngettext("%(n)d week", "%(n)d weeks", count),
            "month": ngettext("%(n)d month", "%(n)d months", count),
            "year": ngettext("%(n)d year", "%(n)d years", count),
        }[plan.interval] % {"n": count}
        return gettext("for %(length)s, paid once") % {"length": length}
    if count == 1:
        return {"week": gettext("a week"), "month": gettext("a month"), "year": gettext("a year")}[
            plan.interval
        ]
    return {
        "week": ngettext("every %(n)d week", "every %(n)d weeks", count),
        "month": ngettext("every %(n)d month", "every %(n)d months", count),
        "year": ngettext("every %(n)d year", "every %(n)d years", count),
    }[plan.interval] % {"n": count}


def plan_offer(plan: Plan) -> dict[str, Any]:
    """A plan as the desk offers it: the price and every fee and rule, in words and money."""
    money = lambda amount: format_amount(amount, plan.currency)  # noqa: E731
    terms = []
    if plan.joining_fee:
        terms.append(gettext("Joining fee %(fee)s") % {"fee": money(plan.joining_fee)})
    if plan.trial_days:
        terms.append(
            ngettext("%(n)d-day free trial", "%(n)d-day free trial", plan.trial_days)
            % {"n": plan.trial_days}
        )
    if plan.minimum_term_periods:
        terms.append(
            ngettext(
                "Minimum term %(n)d period", "Minimum term %(n)d periods", plan.minimum_term_periods
            )
            % {"n": plan.minimum_term_periods}
        )
    if plan.cancellation_notice_days:
        terms.append(
            ngettext(
                "%(n)d day's notice to cancel",
                "%(n)d days' notice to cancel",
                plan.cancellation_notice_days,
            )
            % {"n": plan.cancellation_notice_days}
        )
    if plan.cancellation_fee:
        terms.append(gettext("Cancellation fee %(fee)s") % {"fee": money(plan.cancellation_fee)})
    if plan.early_termination_fee:
        terms.append(
            gettext("Early-termination fee %(fee)s") % {"fee": money(plan.early_termination_fee)}
        )
    if plan.freezes_per_year:
        freeze = ngettext("%(n)d freeze a year", "%(n)d freezes a year", plan.freezes_per_year) % {
            "n": plan.freezes_per_year
        }
        if plan.freeze_fee:
            freeze += " " + gettext("(fee %(fee)s)") % {"fee": money(plan.freeze_fee)}
        terms.append(freeze)
    rate = f"{plan.tax_rate_bp / 100:g}%"
    tax = (
        gettext("VAT %(rate)s included")
        if plan.prices_include_tax
        else gettext("plus VAT %(rate)s")
    ) % {"rate": rate}
    none = gettext("None")
    return {
        "plan": plan,
        "name": plan_name(plan),
        "price": money(plan.price),
        "every": interval_text(plan),
        "terms": terms,
        "tax": tax,
        # Every fee by name, a zero one too (the online join's table shows them all).
        "joining_fee": money(plan.joining_fee),
        "minimum_term": (
            ngettext("%(n)d period", "%(n)d periods", plan.minimum_term_periods)
            % {"n": plan.minimum_term_periods}
            if plan.minimum_term_periods
            else none
        ),
        "notice": (
            ngettext("%(n)d day", "%(n)d days", plan.cancellation_notice_days)
            % {"n": plan.cancellation_notice_days}
            if plan.cancellation_notice_days
            else none
        ),
        "cancellation_fee": money(plan.cancellation_fee),
        "early_termination_fee": money(plan.early_termination_fee),
        "freezes": (
            ngettext("%(n)d a year", "%(n)d a year", plan.freezes_per_year)
            % {"n": plan.freezes_per_year}
            if plan.freezes_per_year
            else gettext("Not allowed")
        ),
        "freeze_fee": money(plan.freeze_fee),
    }
