"""The sandbox's banking app, for the demo and the browser tests (mounted at
``/sandbox-bank/``; every address answers 404 unless the payment gateway is the sandbox).

Opening a PromptPay QR's page is the payer's app reading it (a scan); its buttons pay it
or let it lapse.  The sandbox bank then delivers its webhook to us through the same
verified path a real gateway's takes, so what the member's page shows next is exactly
what production would show.
"""

from __future__ import annotations

import logging

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import path
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods

from .gateways import default_gateway_name, get_gateway
from .gateways.interface import ChargeStatus, GatewayError, WebhookSignatureError
from .gateways.sandbox import SandboxGateway
from .money import format_amount
from .services.webhooks import webhook_receive

logger = logging.getLogger(__name__)

app_name = "sandbox_bank"
PAY, EXPIRE = "pay", "expire"


def _sandbox() -> SandboxGateway:
    gateway = get_gateway(default_gateway_name())
    if not isinstance(gateway, SandboxGateway):
        raise Http404("The sandbox bank exists only with the sandbox gateway.")
    return gateway


def _deliver(gateway: SandboxGateway, reference: str) -> None:
    """The bank's webhook about the payment, delivered as a real one would be."""
    try:
        payload = gateway.event_payload(gateway.promptpay_event(reference))
        webhook_receive(gateway.name, payload, gateway.sign_webhook(payload))
    except (GatewayError, WebhookSignatureError) as exc:
        # The page's poll and the expiry task ask the bank anyway: nothing is lost.
        logger.warning("Sandbox bank could not deliver its webhook: %s", type(exc).__name__)


@never_cache
@require_http_methods(["GET", "POST"])
def promptpay(request: HttpRequest, reference: str) -> HttpResponse:
    gateway = _sandbox()
    if len(reference) > 64:
        raise Http404("No such payment.")
    answered = ""
    try:
        if request.method == "POST":
            action = request.POST.get("action", "")
            if action == PAY:
                gateway.promptpay_pay(reference)
            elif action == EXPIRE:
                gateway.promptpay_expire(reference)
            else:
                return HttpResponse("Unknown action.", status=400, content_type="text/plain")
            answered = action
            _deliver(gateway, reference)
        scan = gateway.promptpay_scan(reference)
    except GatewayError as exc:
        raise Http404("No such payment.") from exc
    context = {
        "scan": scan,
        "amount": format_amount(scan.amount, scan.currency),
        "waiting": scan.status == ChargeStatus.REQUIRES_ACTION,
        "paid": scan.status == ChargeStatus.SUCCEEDED,
        "answered": answered,
    }
    return render(request, "billing/sandbox_bank.html", context)


urlpatterns = [path("promptpay/<str:reference>/", promptpay, name="promptpay")]
