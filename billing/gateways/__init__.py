"""Payment gateways behind one small interface (:mod:`billing.gateways.interface`).

:func:`get_gateway` is the only way the rest of billing obtains a gateway, by name:

* ``"sandbox"``: :class:`~billing.gateways.sandbox.SandboxGateway`, deterministic test
  tokens, no network (the demo and the tests);
* ``"stripe"``: :class:`~billing.gateways.stripe_gateway.StripeGateway`, configured by
  ``STRIPE_SECRET_KEY`` and ``STRIPE_WEBHOOK_SECRET``.

``PAYMENT_GATEWAY`` names the default (``"sandbox"`` when unset).  Instances are built
once per process and shared; they hold no per-request state.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from django.conf import settings

from .interface import GatewayError, PaymentGateway

__all__ = ["GATEWAY_NAMES", "clear_gateway_cache", "default_gateway_name", "get_gateway"]


def _build_sandbox() -> PaymentGateway:
    from .sandbox import SandboxGateway

    return SandboxGateway()


def _build_stripe() -> PaymentGateway:
    # Imported on first use: the demo and the tests never pay for loading the SDK.
    from .stripe_gateway import stripe_gateway_from_settings

    return stripe_gateway_from_settings()


_FACTORIES: dict[str, Callable[[], PaymentGateway]] = {
    "sandbox": _build_sandbox,
    "stripe": _build_stripe,
}
GATEWAY_NAMES = tuple(_FACTORIES)

_instances: dict[str, PaymentGateway] = {}
_lock = threading.Lock()


def default_gateway_name() -> str:
    """The gateway new charges use: ``settings.PAYMENT_GATEWAY``, default ``"sandbox"``."""
    return str(getattr(settings, "PAYMENT_GATEWAY", "sandbox"))


def get_gateway(name: str | None = None) -> PaymentGateway:
    """The shared gateway called ``name`` (the default gateway if ``None``).

    Raises ``GatewayError`` for an unknown name or a gateway that is not configured.
    """
    name = default_gateway_name() if name is None else name
    factory = _FACTORIES.get(name)
    if factory is None:
        raise GatewayError(f"Unknown payment gateway {name!r}; known: {', '.join(GATEWAY_NAMES)}.")
    with _lock:
        if name not in _instances:
            _instances[name] = factory()
        return _instances[name]


def clear_gateway_cache() -> None:
    """Forget the shared instances, so the next :func:`get_gateway` reads settings again."""
    with _lock:
        _instances.clear()
