"""The gateway registry: one shared instance per name, the default from settings."""

from __future__ import annotations

import pytest
from django.test import override_settings

from billing.gateways import default_gateway_name, get_gateway
from billing.gateways.interface import GatewayError
from billing.gateways.sandbox import SandboxGateway
from billing.gateways.stripe_gateway import StripeGateway

pytestmark = pytest.mark.usefixtures("fresh_registry")


def test_the_sandbox_is_shared() -> None:
    gateway = get_gateway("sandbox")

    assert isinstance(gateway, SandboxGateway)
    assert get_gateway("sandbox") is gateway


def test_the_default_gateway_comes_from_settings() -> None:
    with override_settings(PAYMENT_GATEWAY="stripe"):
        assert default_gateway_name() == "stripe"
    with override_settings(PAYMENT_GATEWAY="sandbox"):
        assert default_gateway_name() == "sandbox"
        assert isinstance(get_gateway(), SandboxGateway)


@override_settings(STRIPE_SECRET_KEY="sk_test_123", STRIPE_WEBHOOK_SECRET="whsec_123")
def test_stripe_is_built_from_settings_without_calling_stripe() -> None:
    gateway = get_gateway("stripe")

    assert isinstance(gateway, StripeGateway)
    assert gateway.webhook_secret == "whsec_123"


@override_settings(STRIPE_SECRET_KEY="")
def test_stripe_without_a_key_is_a_configuration_error() -> None:
    with pytest.raises(GatewayError):
        get_gateway("stripe")


def test_unknown_gateways_are_refused() -> None:
    with pytest.raises(GatewayError):
        get_gateway("paypal")
