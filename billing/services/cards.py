"""Charging a stored card for an amount that is not an invoice (a sale at the till), and
refunding such a charge.  The caller writes its intent with ``idempotency_key`` first and
calls after commit: the same key never moves money twice, so a retry is safe."""

from __future__ import annotations

from ..gateways import get_gateway
from ..gateways.interface import (
    ChargeRequest,
    ChargeResult,
    ChargeStatus,
    GatewayError,
    RefundRequest,
    RefundResult,
)
from ..models import PaymentMethod, PaymentMethodStatus


def card_charge(
    method: PaymentMethod, *, amount: int, currency: str, idempotency_key: str, description: str
) -> ChargeResult:
    """Charge ``amount`` to ``method`` with the cardholder present (the desk)."""
    if method.status != PaymentMethodStatus.ACTIVE or amount <= 0:
        return ChargeResult(status=ChargeStatus.FAILED, message="card not usable")
    try:
        gateway = get_gateway(method.gateway)
        result = gateway.charge(
            ChargeRequest(
                amount=amount,
                currency=currency,
                payment_token=method.token,
                customer_reference=method.customer_reference,
                idempotency_key=idempotency_key,
                description=description[:200],
                off_session=False,
            )
        )
        if result.status == ChargeStatus.UNKNOWN:
            found = gateway.lookup_charge(idempotency_key)
            if found is not None:
                result = found
    except GatewayError as exc:
        return ChargeResult(status=ChargeStatus.UNKNOWN, message=str(exc)[:300])
    return result


def card_refund(
    *, gateway: str, gateway_reference: str, amount: int, currency: str, idempotency_key: str
) -> RefundResult:
    try:
        return get_gateway(gateway).refund(
            RefundRequest(
                gateway_reference=gateway_reference,
                amount=amount,
                currency=currency,
                idempotency_key=idempotency_key,
            )
        )
    except GatewayError as exc:
        return RefundResult(succeeded=False, message=str(exc)[:300])
