"""Explicit hooks that higher apps (dunning) fill, so billing never imports them.

Billing calls these at fixed points; each hook is a list of callables registered in
the higher app's ``AppConfig.ready``.  Hooks run after the transaction commits.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .models import Invoice, PaymentAttempt, PaymentMethod, PromptPayRequest

PaymentFailedHook = Callable[["PaymentAttempt"], None]
PaymentsFailedHook = Callable[[list["PaymentAttempt"]], None]
InvoicesPaidHook = Callable[[list["Invoice"]], None]
PaymentMethodHook = Callable[["PaymentMethod"], None]
DeclineClassifier = Callable[[str, str, str], str]
CardBlocker = Callable[[set[str]], set[str]]

payment_failed: list[PaymentFailedHook] = []
# Called once with every batch of failed attempts (a run's charges fail together), before
# the one-at-a-time ``payment_failed`` hooks.
payments_failed: list[PaymentsFailedHook] = []
# Called with every batch of invoices that became paid, by any route.
invoices_paid: list[InvoicesPaidHook] = []
payment_method_updated: list[PaymentMethodHook] = []
# A notification whose send was interrupted and never reached the provider was released
# (its key is free again): called with its kind and key, so the app that owns that kind
# of notification (the point of sale's receipts) sends it again, once.
NotificationReleasedHook = Callable[[str, str], None]
notification_released: list[NotificationReleasedHook] = []
# Maps (decline_code, network_code, advice_code) to a category; the last one registered wins.
decline_classifiers: list[DeclineClassifier] = []
# Given card fingerprints, the ones that must never be charged again (a hard decline:
# the card networks forbid presenting that card again).  Called inside the transaction
# that writes the attempts; the union of every blocker's answer is blocked.
card_blockers: list[CardBlocker] = []


def classify_decline(decline_code: str, network_code: str, advice_code: str) -> str:
    if decline_classifiers:
        return decline_classifiers[-1](decline_code, network_code, advice_code)
    from .declines import default_category

    return default_category(decline_code, network_code, advice_code)


def cards_blocked(fingerprints: set[str]) -> set[str]:
    """The cards among ``fingerprints`` that no charge may be sent to."""
    wanted = {fingerprint for fingerprint in fingerprints if fingerprint}
    blocked: set[str] = set()
    if wanted:
        for blocker in card_blockers:
            blocked |= blocker(wanted)
    return blocked


PromptPayPaidHook = Callable[["PromptPayRequest"], None]
# Called after commit with each PromptPay request that became paid, by any route (a POS
# sale paid by a PromptPay tender completes here; invoices are already settled by then).
promptpay_paid: list[PromptPayPaidHook] = []
