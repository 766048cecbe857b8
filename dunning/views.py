"""The hosted update-card-and-pay page.  Thin: ``dunning.services.portal`` does the work.

A tampered link answers 400 and an expired one 410, each with a friendly page that says
how else to pay; neither ever becomes a server error.  The page speaks the member's
language and is never cached.  Its referrer policy is ``same-origin``: the link is a
credential, so no other site ever sees it, while the page's own forms still carry their
origin, which Django's CSRF check needs (``no-referrer`` made browsers post with
``Origin: null``, and every payment was refused).
"""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone, translation
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods

from billing.models import Invoice
from billing.money import format_amount
from billing.portal.outcomes import pay_outcome_text
from billing.services.online_pay import card_form_key
from config import clock

from .forms import APPROVE, AUTHENTICATED, PAY_NEW, PAY_PROMPTPAY, REFUSE, PayForm
from .links import LinkExpired, LinkInvalid
from .services import pay_promptpay, portal
from .services.messages import gym_profile

REFERRER_POLICY = "same-origin"


def _outcome_text(outcome: portal.PayOutcome) -> tuple[str, str]:
    """``(css class, sentence)`` for what happened when the member paid (billing's words,
    shared with the member portal's Pay page)."""
    return pay_outcome_text(outcome)


def _promptpay_refusal(reason: str) -> str:
    """The page's outcome for a PromptPay QR it could not show."""
    if reason == "attempt_in_flight":
        return "in_progress"  # a card payment is being processed: it may settle it
    if reason in ("nothing_due", "contact_us"):
        return reason
    return "promptpay_unavailable"


def _page_context(page: portal.PayPage) -> dict[str, Any]:
    return {
        "gym": gym_profile(),
        "page": page,
        "member": page.member,
        "lines": [
            {
                "number": invoice.number,
                "due_on": invoice.due_on,
                "amount": format_amount(invoice.amount_due, invoice.currency),
                "is_fee": page.case is not None and invoice.pk == page.case.late_fee_invoice_id,
            }
            for invoice in page.owed
        ],
        "total": format_amount(page.total, page.currency),
        "held": [
            {
                "number": invoice.number,
                "amount": format_amount(invoice.amount_due, invoice.currency),
            }
            for invoice in page.held
        ],
        "method": page.method,
    }


def _paid_now(
    token: str, page: portal.PayPage, outcome: portal.PayOutcome
) -> dict[str, Any] | None:
    """What the member just paid, and a receipt for each invoice it paid."""
    if not outcome.paid:
        return None
    numbers = dict(
        Invoice.objects.filter(pk__in=[pk for pk, _ in outcome.paid]).values_list("pk", "number")
    )
    return {
        "amount": format_amount(outcome.paid_amount, page.currency),
        "receipts": [
            {"number": numbers.get(pk, ""), "url": reverse("dunning:receipt", args=[token, pk])}
            for pk, _ in outcome.paid
        ],
    }


def _link_error(request: HttpRequest, *, expired: bool) -> HttpResponse:
    language = translation.get_language_from_request(request)
    with translation.override(language):
        response = render(
            request,
            "dunning/link_error.html",
            {"gym": gym_profile(), "expired": expired},
            status=410 if expired else 400,
        )
    response["Referrer-Policy"] = REFERRER_POLICY
    return response


@never_cache
@require_http_methods(["GET", "POST"])
def pay_page(request: HttpRequest, token: str) -> HttpResponse:
    try:
        page = portal.page_for(token)
    except LinkExpired:
        return _link_error(request, expired=True)
    except LinkInvalid:
        return _link_error(request, expired=False)
    status = 200
    outcome_class, outcome_text = "", ""
    confirm: portal.PayOutcome | None = None
    paid: dict[str, Any] | None = None
    with translation.override(page.member.language):
        if request.method == "POST":
            form = PayForm(request.POST)
            if form.is_valid():
                data = form.cleaned_data
                if data["action"] == PAY_PROMPTPAY:
                    started = pay_promptpay.member_promptpay(page)
                    if started.request is not None:
                        # See the QR on its own page (a reload never asks for another).
                        url = reverse("dunning:promptpay", args=[token, started.request.pk])
                        redirect = HttpResponseRedirect(url, status=303)
                        redirect["Referrer-Policy"] = REFERRER_POLICY
                        return redirect
                    outcome = portal.PayOutcome(_promptpay_refusal(started.result))
                elif data["action"] == AUTHENTICATED:
                    outcome = portal.member_authenticated(
                        token,
                        page,
                        data["attempt"],
                        approve={APPROVE: True, REFUSE: False}.get(data["answer"]),
                    )
                else:
                    outcome = portal.member_pay(
                        page, card_token=data["card_token"] if data["action"] == PAY_NEW else ""
                    )
                outcome_class, outcome_text = _outcome_text(outcome)
                if outcome.result == "authenticate":
                    confirm = outcome
                paid = _paid_now(token, page, outcome)
                page = portal.page_for(token)
                form = PayForm()
            else:
                status = 400
        else:
            portal.link_opened(page)
            form = PayForm()
        context = {
            **_page_context(page),
            "card_form_key": card_form_key() if page.owed else "",
            "promptpay_offered": pay_promptpay.offered(page),
            "token": token,
            "form": form,
            "outcome_class": outcome_class,
            "outcome_text": outcome_text,
            "confirm": confirm,
            "paid": paid,
            "language": page.member.language,
        }
        response = render(request, "dunning/pay.html", context, status=status)
        response["Content-Language"] = page.member.language
    response["Referrer-Policy"] = REFERRER_POLICY
    return response


@never_cache
@require_http_methods(["POST"])
def card_setup(request: HttpRequest, token: str) -> JsonResponse:
    """Start the gateway's card session for the page's card form (its script calls this
    when the member submits a card): ``{"client_secret": ...}``, or an error code."""
    try:
        page = portal.page_for(token)
    except LinkExpired:
        return JsonResponse({"code": "link_expired"}, status=410)
    except LinkInvalid:
        return JsonResponse({"code": "link_invalid"}, status=400)
    setup = portal.card_setup_for(page, token) if page.owed else None
    if setup is None:
        return JsonResponse({"code": "card_form_unavailable"}, status=503)
    response = JsonResponse({"client_secret": setup.client_secret})
    response["Referrer-Policy"] = REFERRER_POLICY
    return response


@never_cache
@require_GET
def receipt(request: HttpRequest, token: str, invoice_id: str) -> HttpResponse:
    """A receipt for an invoice the link's member paid (behind the same signed, expiring
    link as the page): the gym, the invoice's lines and tax, and each payment received."""
    try:
        page = portal.page_for(token)
    except LinkExpired:
        return _link_error(request, expired=True)
    except LinkInvalid:
        return _link_error(request, expired=False)
    shown = portal.receipt_for(page, invoice_id)
    with translation.override(page.member.language), timezone.override(clock.gym_tz()):
        context = {
            "gym": gym_profile(),
            "member": page.member,
            "receipt": shown,
            "pay_url": reverse("dunning:pay", args=[token]),
        }
        response = render(request, "dunning/receipt.html", context, status=200 if shown else 404)
        response["Content-Language"] = page.member.language
    response["Referrer-Policy"] = REFERRER_POLICY
    return response
