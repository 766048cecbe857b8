"""PromptPay on the hosted pay page: a QR for everything the page says is owed.

Billing does the work (``billing.services.promptpay``); this module only scopes it to
the signed link's member and case.  The money, once it arrives, ends the case through
billing's ``invoices_paid`` hook like any other payment.
"""

from __future__ import annotations

from dataclasses import dataclass

from billing.errors import PromptPayNotAllowed
from billing.models import PromptPayChannel, PromptPayRequest, PromptPayStatus
from billing.promptpay import conf as promptpay_conf
from billing.selectors import promptpay_request_of_member
from billing.services.promptpay import (
    promptpay_request_cancel,
    promptpay_request_check,
    promptpay_request_create,
    promptpay_request_report_paid,
)

from .portal import PayPage

CURRENCY = "THB"


@dataclass(frozen=True)
class PromptPayStart:
    """``request`` when a QR is ready; else ``result`` is why not (a stable reason)."""

    request: PromptPayRequest | None = None
    result: str = ""


def offered(page: PayPage) -> bool:
    """Whether the page offers PromptPay: something owed, in baht, and PromptPay is on."""
    return bool(page.owed) and page.currency == CURRENCY and promptpay_conf.available()


def member_promptpay(page: PayPage) -> PromptPayStart:
    """A QR for what the page says is owed (the same QR again while it can be paid)."""
    if not page.owed:
        return PromptPayStart(result="nothing_due" if not page.held else "contact_us")
    if not offered(page):
        return PromptPayStart(result="promptpay_unavailable")
    try:
        request = promptpay_request_create(
            invoices=page.owed, member=page.member, channel=PromptPayChannel.PAY_PAGE
        )
    except PromptPayNotAllowed as exc:
        return PromptPayStart(result=exc.reason or "promptpay_unavailable")
    return PromptPayStart(request=request)


def page_request(page: PayPage, request_id: object) -> PromptPayRequest | None:
    """The page member's own request ``request_id`` (``None`` for anyone else's)."""
    return promptpay_request_of_member(request_id, page.member.pk)


def request_refreshed(request: PromptPayRequest) -> PromptPayRequest:
    """The request after asking the gateway, if its webhook is late (rate-limited)."""
    if request.status == PromptPayStatus.PENDING:
        promptpay_request_check(request)
        request.refresh_from_db()
    return request


def member_reported_paid(request: PromptPayRequest) -> str:
    """The member says they paid a QR to the gym's own ID; ``""`` or a refusal reason."""
    try:
        promptpay_request_report_paid(request)
    except PromptPayNotAllowed as exc:
        return exc.reason or "not_pending"
    return ""


def member_withdrew(request: PromptPayRequest) -> str:
    """The member chose another way to pay: the QR is withdrawn; ``""`` or a reason
    (``already_paid`` if the money came first)."""
    try:
        promptpay_request_cancel(request, why="member_chose_another_way")
    except PromptPayNotAllowed as exc:
        return exc.reason or "not_pending"
    return ""
