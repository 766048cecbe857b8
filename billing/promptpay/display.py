"""A PromptPay request as pages show it: the QR, money as money, times in the gym's zone.

Shared by every page that shows a PromptPay QR (the hosted pay page, the portal, the
desk), so they all say the same thing the same way.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.urls import reverse
from django.utils.safestring import SafeString
from django.utils.translation import gettext as _

from config import clock

from ..gateways import get_gateway
from ..gateways.interface import GatewayError
from ..gateways.sandbox import SandboxGateway
from ..models import PromptPayRequest, PromptPayRoute, PromptPayStatus
from ..money import format_amount
from .qr import qr_svg


@dataclass(frozen=True)
class PromptPayDisplay:
    request: PromptPayRequest
    amount: str  # ฿800.00
    paid_amount: str
    status: str
    qr: SafeString | str  # the inline SVG, "" once it can no longer be paid
    expires_at: dt.datetime  # in the gym's time zone
    seconds_left: int
    own_id: bool  # paid to the gym's own PromptPay ID: staff confirm it
    payee: str
    sandbox_bank_url: str  # the sandbox's banking app for this QR ("" elsewhere)

    @property
    def time_left(self) -> str:
        """``m:ss``, as the page's countdown shows it."""
        minutes, seconds = divmod(self.seconds_left, 60)
        return f"{minutes}:{seconds:02d}"

    @property
    def pending(self) -> bool:
        return self.status == PromptPayStatus.PENDING

    @property
    def paid(self) -> bool:
        return self.status == PromptPayStatus.PAID


def _sandbox_bank_url(request: PromptPayRequest) -> str:
    if request.route != PromptPayRoute.GATEWAY or not request.gateway_reference:
        return ""
    try:
        gateway = get_gateway(request.gateway)
    except GatewayError:
        return ""
    if not isinstance(gateway, SandboxGateway):
        return ""
    return reverse("sandbox_bank:promptpay", args=[request.gateway_reference])


def promptpay_display(request: PromptPayRequest) -> PromptPayDisplay:
    """How to show ``request`` now (in the active language)."""
    amount = format_amount(request.amount, request.currency)
    pending = request.status == PromptPayStatus.PENDING
    qr: SafeString | str = ""
    if pending and request.qr_data:
        qr = qr_svg(
            request.qr_data,
            label=_("PromptPay QR code for %(amount)s") % {"amount": amount},
            element_id=f"promptpay-qr-{request.pk}",
        )
    left = int((request.expires_at - clock.now()).total_seconds())
    return PromptPayDisplay(
        request=request,
        amount=amount,
        paid_amount=format_amount(request.paid_amount or 0, request.currency),
        status=request.status,
        qr=qr,
        expires_at=request.expires_at.astimezone(clock.gym_tz()),
        seconds_left=max(left, 0),
        own_id=request.route == PromptPayRoute.OWN_ID,
        payee=request.payee,
        sandbox_bank_url=_sandbox_bank_url(request) if pending else "",
    )
