"""Billing's domain errors.  ``reason`` is a stable code the API and admin show."""

from __future__ import annotations

from typing import Any, ClassVar

from django.utils.translation import gettext_lazy as _

from config.errors import DomainError


class TransitionNotAllowed(DomainError):
    code = "transition_not_allowed"
    default_message: ClassVar[Any] = _("This membership cannot do that in its current state.")


class FreezeNotAllowed(DomainError):
    code = "freeze_not_allowed"
    default_message: ClassVar[Any] = _("This membership cannot be frozen now.")


class CancellationNotAllowed(DomainError):
    code = "cancellation_not_allowed"
    default_message: ClassVar[Any] = _("This membership cannot be cancelled that way.")


class InvoiceImmutable(DomainError):
    code = "invoice_immutable"
    default_message: ClassVar[Any] = _(
        "An issued invoice cannot be changed; issue a credit note instead."
    )


class PaymentNotAllowed(DomainError):
    code = "payment_not_allowed"
    default_message: ClassVar[Any] = _("This payment cannot be taken.")


class RefundNotAllowed(DomainError):
    code = "refund_not_allowed"
    default_message: ClassVar[Any] = _("This refund cannot be made.")


class CouponNotValid(DomainError):
    code = "coupon_not_valid"
    status = 400
    default_message: ClassVar[Any] = _("This coupon cannot be used.")
