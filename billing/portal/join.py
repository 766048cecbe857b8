"""Joining online, mobile-first, in English and Thai: ``/join/``.

1. ``plans``: every plan on sale with its price and every fee and rule, and what joining
   today costs (the first invoice, worked out by the sign-up itself);
2. ``details``: who is joining (a minor's guardian too), checked as at the desk; passing
   it makes the join a lead;
3. ``agreement``: the current agreements in full, signed with a typed name and consent
   (the member's own time, address and browser are kept);
4. ``pay``: a card through the gateway's own form (the sandbox's test tokens here), or a
   PromptPay QR; then the member is in, signed in to the portal.

Thin: ``billing.services.join`` does the work.  The join's progress lives in the
visitor's session, so no URL names anybody's records.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login
from django.core.cache import cache
from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils import translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods

from config import clock
from config.errors import DomainError
from members import leads
from members.models import JoinStep, Language
from members.portal.auth import MEMBER_BACKEND

from ..gateways import default_gateway_name, get_gateway
from ..gateways.interface import GatewayError
from ..models import Plan, PromptPayStatus
from ..money import format_amount
from ..plan_terms import plan_offer
from ..promptpay import conf as promptpay_conf
from ..promptpay.display import promptpay_display
from ..services import join as join_services
from ..services.desk import SignUpQuote
from ..services.promptpay import promptpay_request_check

SESSION_KEY = "join"
QUOTE_SECONDS = 600


# --- The join's progress, in the session ---------------------------------------------------


def _state(request: HttpRequest) -> dict[str, Any]:
    return dict(request.session.get(SESSION_KEY) or {})


def _keep(request: HttpRequest, state: dict[str, Any]) -> None:
    request.session[SESSION_KEY] = state


def _plan(state: dict[str, Any]) -> Plan | None:
    plan_id = state.get("plan")
    return Plan.objects.filter(pk=plan_id, is_active=True).first() if plan_id else None


def _back_to_plans() -> HttpResponse:
    return HttpResponseRedirect(reverse("join:plans"))


def quote_for(plan: Plan) -> SignUpQuote:
    """The plan's quote for today (plans never change price: a new price is a new plan)."""
    key = f"join-quote:{plan.pk}:{clock.today().isoformat()}:{join_services.join_anchor_day()}"
    quote = cache.get(key)
    if quote is None:
        quote = join_services.join_quote(plan)
        cache.set(key, quote, QUOTE_SECONDS)
    return quote


def quote_view(quote: SignUpQuote) -> dict[str, Any]:
    """The quote as the member reads it: lines and totals as money."""
    money = lambda amount: format_amount(amount, quote.currency)  # noqa: E731
    return {
        "lines": [
            {"label": line.label, "amount": money(line.amount), "line": line}
            for line in quote.lines
        ],
        "total": money(quote.total),
        "next_charge": (
            {"on": quote.next_charge.on, "amount": money(quote.next_charge.amount)}
            if quote.next_charge
            else None
        ),
        "minimum_term_ends_on": quote.minimum_term_ends_on,
        "trial_ends_on": quote.trial_ends_on,
    }


def _offer(plan: Plan) -> dict[str, Any]:
    return {**plan_offer(plan), "today": quote_view(quote_for(plan))}


# --- 1. Plans --------------------------------------------------------------------------------


@require_GET
def plans(request: HttpRequest) -> HttpResponse:
    offers = [_offer(plan) for plan in join_services.join_plans()]
    return render(request, "billing/join/plans.html", {"offers": offers, "step": 1})


# --- 2. Details ------------------------------------------------------------------------------


class DetailsForm(forms.Form):
    """Parses what was typed; the rules are ``join_details_check``'s (the desk's)."""

    first_name = forms.CharField(label=gettext_lazy("First name"), max_length=80, required=False)
    last_name = forms.CharField(label=gettext_lazy("Last name"), max_length=80, required=False)
    email = forms.CharField(label=gettext_lazy("Email"), max_length=254, required=False)
    phone = forms.CharField(label=gettext_lazy("Mobile phone"), max_length=30, required=False)
    date_of_birth = forms.DateField(
        label=gettext_lazy("Date of birth"),
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
    )
    language = forms.ChoiceField(
        label=gettext_lazy("Language of your messages"),
        choices=Language.choices,
        widget=forms.RadioSelect,
    )
    marketing_email = forms.BooleanField(
        label=gettext_lazy("Send me offers and news by email (you can stop them at any time)."),
        required=False,
    )
    guardian_first_name = forms.CharField(
        label=gettext_lazy("Guardian's first name"), max_length=80, required=False
    )
    guardian_last_name = forms.CharField(
        label=gettext_lazy("Guardian's last name"), max_length=80, required=False
    )
    guardian_phone = forms.CharField(
        label=gettext_lazy("Guardian's mobile phone"), max_length=30, required=False
    )
    guardian_date_of_birth = forms.DateField(
        label=gettext_lazy("Guardian's date of birth"),
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
    )

    def split(self) -> tuple[dict[str, Any], dict[str, Any] | None]:
        data = self.cleaned_data
        member = {name: data.get(name) for name in join_services.DETAIL_FIELDS}
        guardian = {name: data.get(f"guardian_{name}") for name in join_services.GUARDIAN_FIELDS}
        return member, guardian if any(guardian.values()) else None


def _form_errors(form: forms.Form, error: ValidationError) -> None:
    for name, problems in error.message_dict.items():
        field = name if name in form.fields else None
        for problem in problems:
            form.add_error(field, problem)


@require_http_methods(["GET", "POST"])
def details(request: HttpRequest, code: str) -> HttpResponse:
    plan = Plan.objects.filter(code=code, is_active=True).first()
    if plan is None:
        raise Http404
    state = _state(request)
    if request.method == "POST":
        form = DetailsForm(request.POST)
        if form.is_valid():
            member, guardian = form.split()
            try:
                checked = join_services.join_details_check(
                    member, guardian, marketing_email=form.cleaned_data["marketing_email"]
                )
            except ValidationError as exc:
                _form_errors(form, exc)
            else:
                lead = join_services.join_lead_record(checked, plan, state.get("lead"))
                state = {"plan": plan.pk, "lead": lead.pk, "details": checked.as_session()}
                _keep(request, state)
                return HttpResponseRedirect(reverse("join:agreement"))
    else:
        initial: dict[str, Any] = {"language": translation.get_language() or "th"}
        if state.get("details") and state.get("plan") == plan.pk:
            saved = join_services.JoinDetails.from_session(state["details"])
            initial.update(saved.member)
            initial["marketing_email"] = saved.marketing_email
            for name, value in (saved.guardian or {}).items():
                initial[f"guardian_{name}"] = value
        form = DetailsForm(initial=initial)
    context = {
        "form": form,
        "offer": _offer(plan),
        "step": 2,
        "adult_age": settings.MEMBERS_ADULT_AGE,
    }
    return render(request, "billing/join/details.html", context)


# --- 3. The agreement ------------------------------------------------------------------------


def _details(state: dict[str, Any]) -> join_services.JoinDetails | None:
    if not state.get("details"):
        return None
    return join_services.JoinDetails.from_session(state["details"])


@require_http_methods(["GET", "POST"])
def agreement(request: HttpRequest) -> HttpResponse:
    state = _state(request)
    plan, details = _plan(state), _details(state)
    if state.get("member"):  # the pay step has begun: the signature is recorded
        return HttpResponseRedirect(reverse("join:pay"))
    if plan is None or details is None:
        return _back_to_plans()
    errors: dict[str, list[str]] = {}
    typed = ""
    if request.method == "POST":
        typed = request.POST.get("signer_name", "")[:400]
        try:
            signature = join_services.join_sign(
                details,
                signer_name=typed,
                consent=request.POST.get("consent") == "yes",
                ip_address=request.META.get("REMOTE_ADDR"),
                user_agent=request.META.get("HTTP_USER_AGENT", ""),
            )
        except ValidationError as exc:
            errors = exc.message_dict
        else:
            state["signature"] = signature.as_session()
            _keep(request, state)
            leads.lead_progress(state.get("lead"), JoinStep.AGREEMENT)
            return HttpResponseRedirect(reverse("join:pay"))
    language = translation.get_language() or "en"
    context = {
        "offer": _offer(plan),
        "minor": details.is_minor,
        "agreements": [
            {"version": version, "body": version.body_for(language)}
            for version in join_services.join_agreements()
        ],
        "errors": errors,
        "general_errors": errors.get(NON_FIELD_ERRORS, []),
        "typed": typed,
        "step": 3,
    }
    return render(request, "billing/join/agreement.html", context)


# --- 4. Paying -------------------------------------------------------------------------------


def card_form_available() -> bool:
    """The join takes a card where the gateway's own form is the sandbox's token field.
    (A gateway with a hosted form, Stripe Elements, is not wired into the join yet.)"""
    try:
        return not get_gateway(default_gateway_name()).hosted_card_form
    except GatewayError:
        return False


def promptpay_available(plan: Plan) -> bool:
    return promptpay_conf.available() and plan.currency == "THB"


DECLINE_WORDS = {
    "insufficient_funds": gettext_lazy("The bank says there is not enough money on the card."),
    "expired_card": gettext_lazy("The card has expired."),
    "incorrect_cvc": gettext_lazy("The security code is wrong."),
    "authentication_required": gettext_lazy(
        "The bank wants you to confirm the payment; use another card or PromptPay."
    ),
}


def _decline_text(code: str) -> str:
    reason = DECLINE_WORDS.get(code) or _("Try another card, or pay by PromptPay.")
    return f"{_('Your card was declined, so nothing was taken.')} {reason}"


def _problem(exc: Exception) -> str:
    """A refusal in words for the member."""
    if isinstance(exc, GatewayError):
        return _("The payment provider does not recognise this card. Check it and try again.")
    if isinstance(exc, DomainError):
        return exc.message
    assert isinstance(exc, ValidationError)
    return " ".join(exc.messages)


def _joined(
    request: HttpRequest, outcome: join_services.JoinOutcome, state: dict[str, Any]
) -> HttpResponse:
    user = join_services.join_finish(outcome.member, state.get("lead"))
    request.session.pop(SESSION_KEY, None)
    login(request, user, backend=MEMBER_BACKEND)
    request.session["joined"] = outcome.member.pk
    return HttpResponseRedirect(reverse("join:welcome"))


@never_cache
@require_http_methods(["GET", "POST"])
def pay(request: HttpRequest) -> HttpResponse:
    state = _state(request)
    plan = _plan(state)
    details = _details(state)
    if plan is None or details is None or not state.get("signature"):
        return _back_to_plans()
    outcome = join_services.join_state(state["member"]) if state.get("member") else None
    if outcome is not None and outcome.joined:
        return _joined(request, outcome, state)
    problem = ""
    if request.method == "POST":
        route = request.POST.get("route", "")
        token = request.POST.get("card_token", "")[:200]
        try:
            if outcome is None:
                signature = join_services.JoinSignature.from_session(state["signature"])
                outcome = join_services.join_start(
                    plan, details, signature, route=route, card_token=token
                )
                state["member"] = outcome.member.pk
                _keep(request, state)
                leads.lead_progress(state.get("lead"), JoinStep.PAYMENT)
            else:
                outcome = join_services.join_pay_again(
                    outcome.member, route=route, card_token=token
                )
        except (GatewayError, DomainError, ValidationError) as exc:
            problem = _problem(exc)
        else:
            if outcome.joined:
                return _joined(request, outcome, state)
            if outcome.declined:
                problem = _decline_text(outcome.declined)
            else:
                return HttpResponseRedirect(reverse("join:pay"))
    invoice = outcome.invoice if outcome else None
    context = {
        "offer": _offer(plan),
        "quote": quote_view(quote_for(plan)) if invoice is None else None,
        "invoice": invoice,
        "due": format_amount(invoice.amount_due, invoice.currency) if invoice else "",
        "problem": problem,
        "card": card_form_available(),
        "promptpay": promptpay_available(plan),
        "show": promptpay_display(outcome.promptpay) if outcome and outcome.promptpay else None,
        "step": 4,
    }
    return render(request, "billing/join/pay.html", context, status=400 if problem else 200)


@never_cache
@require_GET
def pay_status(request: HttpRequest) -> JsonResponse:
    """What the QR's page polls: the join's PromptPay status."""
    state = _state(request)
    outcome = join_services.join_state(state["member"]) if state.get("member") else None
    if outcome is None:
        return JsonResponse({"code": "not_found"}, status=404)
    if outcome.joined:
        return JsonResponse({"status": PromptPayStatus.PAID})
    pp = outcome.promptpay
    if pp is None:
        return JsonResponse({"status": "none"})
    promptpay_request_check(pp)  # asks the gateway, at most every few seconds
    pp.refresh_from_db()
    return JsonResponse({"status": pp.status})


@never_cache
@require_GET
def welcome(request: HttpRequest) -> HttpResponse:
    if not request.session.get("joined") or not request.user.is_authenticated:
        return _back_to_plans()
    member = request.session.get("joined")
    messages.success(
        request,
        _("Welcome! You are a member now. Show this pass at the entrance."),
    )
    request.session.pop("joined", None)
    return HttpResponseRedirect(reverse("access_portal:pass")) if member else _back_to_plans()
