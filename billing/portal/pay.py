"""Pay what is owed: with the card on file, a new card (3-D Secure included) or PromptPay.

The work is billing's: ``services.online_pay`` (the same on-session payment as the hosted
pay page behind dunning's links) and ``services.promptpay`` (``channel="portal"``).  A
payment settles the invoices through ``payment_record``, so dunning closes its case and
the gate admits the member at its next check, as with any payment.  Card numbers never
reach us: the form posts the gateway's token.
"""

from __future__ import annotations

import uuid
from typing import Any

from django.db.models import F
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_http_methods, require_POST

from members.portal.access import member_required

from ..errors import PromptPayNotAllowed
from ..models import (
    AttemptStatus,
    AttemptTrigger,
    Invoice,
    InvoiceStatus,
    PaymentAttempt,
    PromptPayChannel,
)
from ..money import format_amount
from ..promptpay import conf as promptpay_conf
from ..services.online_pay import (
    PayOutcome,
    authentication_finished,
    card_form_key,
    card_setup_start,
    pay_on_session,
)
from ..services.payments import default_payment_method
from ..services.promptpay import promptpay_request_create
from .outcomes import pay_outcome_text
from .scope import me

SECTION = "billing"
PAY_SAVED, PAY_NEW, PAY_PROMPTPAY, AUTHENTICATED = (
    "pay_saved",
    "pay_new",
    "pay_promptpay",
    "authenticated",
)
TOKEN_MAX = 120


def owed_invoices(request: HttpRequest) -> list[Invoice]:
    """The member's open invoices with something due, oldest due first."""
    return list(
        Invoice.objects.filter(member=me(request), status=InvoiceStatus.OPEN)
        .filter(total__gt=F("amount_paid") + F("amount_credited"))
        .order_by("due_on", "pk")
    )


def clean_card_token(value: Any) -> str:
    """The gateway's card token as posted, or "" for anything that cannot be one."""
    text = str(value or "").strip()
    if not text or len(text) > TOKEN_MAX or not text.isprintable():
        return ""
    return text


def _authenticated(request: HttpRequest, owed: list[Invoice]) -> PayOutcome:
    """The member finished the bank's confirmation of one of their charges on this page."""
    attempt_id = str(request.POST.get("attempt", ""))
    attempt = (
        PaymentAttempt.objects.filter(
            pk=int(attempt_id) if attempt_id.isdigit() and len(attempt_id) < 18 else 0,
            invoice_id__in=[invoice.pk for invoice in owed],  # the member's, owed
            trigger=AttemptTrigger.CUSTOMER,
            status=AttemptStatus.REQUIRES_ACTION,
        )
        .select_related("invoice", "payment_method")
        .first()
    )
    if attempt is None:
        return PayOutcome("in_progress")
    answer = request.POST.get("answer", "")
    finished = authentication_finished(
        attempt, approve={"approve": True, "refuse": False}.get(str(answer))
    )
    if finished.status == AttemptStatus.FAILED:
        return PayOutcome("declined", finished.attempt.decline_category)
    if finished.status != AttemptStatus.SUCCEEDED:
        return PayOutcome("in_progress")
    confirmed = ((attempt.invoice_id, attempt.amount),)
    rest = owed_invoices(request)
    if not rest:
        return PayOutcome("paid", paid=confirmed)
    method = default_payment_method(me(request).pk)
    return pay_on_session(me(request), rest, method=method).after(confirmed)


def _paid_now(outcome: PayOutcome, currency: str) -> dict[str, Any] | None:
    if not outcome.paid:
        return None
    numbers = dict(
        Invoice.objects.filter(pk__in=[pk for pk, _ in outcome.paid]).values_list("pk", "number")
    )
    return {
        "amount": format_amount(outcome.paid_amount, currency),
        "receipts": [
            {"number": numbers.get(pk, ""), "url": reverse("billing_portal:invoice", args=[pk])}
            for pk, _ in outcome.paid
        ],
    }


@member_required
@require_http_methods(["GET", "POST"])
def pay(request: HttpRequest) -> HttpResponse:
    request.portal_section = SECTION  # type: ignore[attr-defined]
    member = me(request)
    owed = owed_invoices(request)
    currency = owed[0].currency if owed else ""
    outcome: PayOutcome | None = None
    status = 200
    if request.method == "POST":
        action = request.POST.get("action", "")
        if action == PAY_PROMPTPAY:
            try:
                pp = promptpay_request_create(
                    invoices=owed, member=member, channel=PromptPayChannel.PORTAL
                )
            except PromptPayNotAllowed as exc:
                reason = exc.reason or ""
                outcome = PayOutcome(
                    "in_progress"
                    if reason == "attempt_in_flight"
                    else "nothing_due"
                    if reason == "nothing_due"
                    else "promptpay_unavailable"
                )
            else:
                url = reverse("billing_portal:promptpay", args=[pp.pk])
                return HttpResponseRedirect(url, status=303)
        elif action == AUTHENTICATED:
            outcome = _authenticated(request, owed)
        elif action == PAY_SAVED:
            outcome = pay_on_session(member, owed, method=default_payment_method(member.pk))
        elif action == PAY_NEW:
            token = clean_card_token(request.POST.get("card_token"))
            outcome = (
                pay_on_session(member, owed, method=None, card_token=token)
                if token
                else PayOutcome("invalid_card")
            )
        else:
            status = 400
            outcome = PayOutcome("invalid_card")
        owed = owed_invoices(request)
    outcome_class, outcome_text = pay_outcome_text(outcome) if outcome else ("", "")
    total = sum(invoice.amount_due for invoice in owed)
    context = {
        "owed": owed,
        "total": format_amount(total, currency) if owed else "",
        "method": default_payment_method(member.pk),
        "card_form_key": card_form_key() if owed else "",
        "promptpay_offered": bool(owed) and currency == "THB" and promptpay_conf.available(),
        "outcome_class": outcome_class,
        "outcome_text": outcome_text,
        "confirm": outcome if outcome and outcome.result == "authenticate" else None,
        "paid": _paid_now(outcome, currency or "THB") if outcome else None,
    }
    return render(request, "billing/portal/pay.html", context, status=status)


@member_required
@require_POST
def card_setup(request: HttpRequest) -> JsonResponse:
    """Start the gateway's card session for the card form (its script calls this when the
    member submits a card): ``{"client_secret": ...}``, or an error code."""
    setup = card_setup_start(me(request), f"card-setup-{me(request).pk}-{uuid.uuid4().hex}")
    if setup is None:
        return JsonResponse({"code": "card_form_unavailable"}, status=503)
    return JsonResponse({"client_secret": setup.client_secret})
