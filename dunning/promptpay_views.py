"""PromptPay behind the hosted pay page's signed link: the QR, its status, the receipt.

Thin: ``dunning.services.pay_promptpay`` scopes billing's PromptPay to the link's
member.  Every address answers a clear status with a stable code: a tampered link 400,
an expired one 410, a request id that is not the member's (or not a number at all) 404;
never a server error.  Like the pay page, these pages speak the member's language, are
never cached and share the pay page's referrer policy (``same-origin``).
"""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods

from billing.models import PromptPayRequest, PromptPayStatus
from billing.money import format_amount
from billing.promptpay.display import promptpay_display
from config import clock

from .links import LinkExpired, LinkInvalid
from .services import pay_promptpay, portal
from .services.messages import gym_profile
from .views import REFERRER_POLICY, _link_error

REPORT_PAID, WITHDRAW = "report_paid", "withdraw"
NOT_FOUND = "promptpay_request_not_found"


def _private(response: HttpResponse) -> HttpResponse:
    response["Referrer-Policy"] = REFERRER_POLICY
    return response


def _json(body: dict[str, Any], status: int = 200) -> JsonResponse:
    response = JsonResponse(body, status=status)
    _private(response)
    return response


def _missing(
    request: HttpRequest, page: portal.PayPage, token: str, status: int = 404
) -> HttpResponse:
    """A friendly page for a request that is not this member's (or a bad action)."""
    with translation.override(page.member.language):
        response = render(
            request,
            "dunning/pay_promptpay_missing.html",
            {"gym": gym_profile(), "pay_url": _pay_url(token), "bad": status == 400},
            status=status,
        )
    return _private(response)


def _pay_url(token: str) -> str:
    """The pay page this PromptPay page belongs to."""
    return reverse("dunning:pay", args=[token])


def _receipt_lines(pp: PromptPayRequest) -> list[dict[str, str]]:
    """Per invoice: what was paid on it, or what became account credit."""
    return [
        {
            "number": str(line.invoice.number or ""),
            "amount": format_amount(line.payment.amount if line.payment else 0, pp.currency),
            "credited": format_amount(line.credited, pp.currency) if line.credited else "",
        }
        for line in pp.lines.all()
    ]


@never_cache
@require_http_methods(["GET", "POST"])
def promptpay_page(request: HttpRequest, token: str, request_id: str) -> HttpResponse:
    """The QR to scan; then, once paid, the thank-you with the amount and the receipt."""
    try:
        page = portal.page_for(token)
    except LinkExpired:
        return _link_error(request, expired=True)
    except LinkInvalid:
        return _link_error(request, expired=False)
    pp = pay_promptpay.page_request(page, request_id)
    if pp is None:
        return _missing(request, page, token)
    notice = ""
    # Times in the gym's zone, words in the member's language.
    with translation.override(page.member.language), timezone.override(clock.gym_tz()):
        if request.method == "POST":
            action = request.POST.get("action", "")
            if action == WITHDRAW:
                refusal = pay_promptpay.member_withdrew(pp)
                if not refusal:
                    return _private(HttpResponseRedirect(_pay_url(token), status=303))
            elif action == REPORT_PAID:
                refusal = pay_promptpay.member_reported_paid(pp)
            else:
                return _missing(request, page, token, status=400)
            if refusal == "already_paid":
                notice = _("Your payment had already arrived.")
            pp.refresh_from_db()
        else:
            pp = pay_promptpay.request_refreshed(pp)
        context = {
            "gym": gym_profile(),
            "member": page.member,
            "show": promptpay_display(pp),
            "lines": _receipt_lines(pp) if pp.status == PromptPayStatus.PAID else [],
            "invoices": [line.invoice.number for line in pp.lines.all()],
            "pay_url": _pay_url(token),
            "status_url": reverse("dunning:promptpay_status", args=[token, pp.pk]),
            "receipt_url": reverse("dunning:promptpay_receipt", args=[token, pp.pk]),
            "notice": notice,
            "settled": page.settled,
        }
        response = render(request, "dunning/pay_promptpay.html", context)
        response["Content-Language"] = page.member.language
    return _private(response)


@never_cache
@require_GET
def promptpay_status(request: HttpRequest, token: str, request_id: str) -> JsonResponse:
    """What the QR page polls: ``{"status": "pending" | "paid" | "expired" | "cancelled"}``."""
    try:
        page = portal.page_for(token)
    except LinkExpired:
        return _json({"code": "link_expired"}, status=410)
    except LinkInvalid:
        return _json({"code": "link_invalid"}, status=400)
    pp = pay_promptpay.page_request(page, request_id)
    if pp is None:
        return _json({"code": NOT_FOUND}, status=404)
    pp = pay_promptpay.request_refreshed(pp)
    left = max(int((pp.expires_at - clock.now()).total_seconds()), 0)
    return _json({"status": pp.status, "seconds_left": left})


@never_cache
@require_GET
def promptpay_receipt(request: HttpRequest, token: str, request_id: str) -> HttpResponse:
    """A printable receipt for a paid PromptPay request (404 until it is paid)."""
    try:
        page = portal.page_for(token)
    except LinkExpired:
        return _link_error(request, expired=True)
    except LinkInvalid:
        return _link_error(request, expired=False)
    pp = pay_promptpay.page_request(page, request_id)
    if pp is None or pp.status != PromptPayStatus.PAID:
        return _missing(request, page, token)
    with translation.override(page.member.language), timezone.override(clock.gym_tz()):
        context = {
            "gym": gym_profile(),
            "member": page.member,
            "show": promptpay_display(pp),
            "lines": _receipt_lines(pp),
            "paid_at": (pp.paid_at or clock.now()).astimezone(clock.gym_tz()),
            "reference": pp.bank_reference or pp.gateway_reference,
            "pay_url": _pay_url(token),
        }
        response = render(request, "dunning/pay_promptpay_receipt.html", context)
        response["Content-Language"] = page.member.language
    return _private(response)
