"""PromptPay in the portal: the QR for what is owed, its status, and what it paid.

Billing's PromptPay services do the work (``docs/promptpay.md``); these views only scope
them to the signed-in member: another member's request id, or anything that is not one,
answers 404.
"""

from __future__ import annotations

from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods

from config import clock
from members.portal.access import member_required

from ..errors import PromptPayNotAllowed
from ..models import PromptPayRequest, PromptPayStatus
from ..money import format_amount
from ..promptpay.display import promptpay_display
from ..selectors import promptpay_request_of_member
from ..services.promptpay import (
    promptpay_request_cancel,
    promptpay_request_check,
    promptpay_request_report_paid,
)
from .scope import me

SECTION = "billing"
REPORT_PAID, WITHDRAW = "report_paid", "withdraw"


def _members_request(request: HttpRequest, request_id: int) -> PromptPayRequest:
    pp = promptpay_request_of_member(request_id, me(request).pk)
    if pp is None:
        raise Http404
    return pp


def _refreshed(pp: PromptPayRequest) -> PromptPayRequest:
    """The request after asking the gateway, if its webhook is late (rate-limited)."""
    if pp.status == PromptPayStatus.PENDING:
        promptpay_request_check(pp)
        pp.refresh_from_db()
    return pp


@member_required
@require_http_methods(["GET", "POST"])
def promptpay_page(request: HttpRequest, request_id: int) -> HttpResponse:
    """The QR to scan; then, once paid, the thank-you with what it paid."""
    request.portal_section = SECTION  # type: ignore[attr-defined]
    pp = _members_request(request, request_id)
    notice = ""
    if request.method == "POST":
        action = request.POST.get("action", "")
        try:
            if action == WITHDRAW:
                promptpay_request_cancel(pp, why="member_chose_another_way")
                return HttpResponseRedirect(reverse("billing_portal:pay"), status=303)
            if action == REPORT_PAID:
                promptpay_request_report_paid(pp)
            else:
                return HttpResponse(status=400)
        except PromptPayNotAllowed as exc:
            if exc.reason == "already_paid":
                notice = _("Your payment had already arrived.")
        pp.refresh_from_db()
    else:
        pp = _refreshed(pp)
    lines = list(pp.lines.select_related("invoice", "payment"))
    context = {
        "show": promptpay_display(pp),
        "invoices": [line.invoice.number for line in lines],
        "paid_lines": [
            {
                "pk": line.invoice_id,
                "number": line.invoice.number,
                "amount": format_amount(line.payment.amount if line.payment else 0, pp.currency),
                "credited": format_amount(line.credited, pp.currency) if line.credited else "",
            }
            for line in lines
        ]
        if pp.status == PromptPayStatus.PAID
        else [],
        "status_url": reverse("billing_portal:promptpay_status", args=[pp.pk]),
        "notice": notice,
    }
    return render(request, "billing/portal/promptpay.html", context)


@member_required
@require_GET
def promptpay_status(request: HttpRequest, request_id: int) -> JsonResponse:
    """What the QR page polls: ``{"status": "pending" | "paid" | "expired" | "cancelled"}``."""
    pp = promptpay_request_of_member(request_id, me(request).pk)
    if pp is None:
        return JsonResponse({"code": "promptpay_request_not_found"}, status=404)
    pp = _refreshed(pp)
    left = max(int((pp.expires_at - clock.now()).total_seconds()), 0)
    return JsonResponse({"status": pp.status, "seconds_left": left})
