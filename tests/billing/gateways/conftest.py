"""Fixtures for the gateway tests: a fresh sandbox bank and a stubbed Stripe."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from billing.gateways import clear_gateway_cache
from billing.gateways.interface import ChargeRequest
from billing.gateways.sandbox import SandboxGateway
from billing.gateways.stripe_gateway import StripeGateway

from .stripe_stub import API_KEY, WEBHOOK_SECRET, StubStripeHTTPClient


@pytest.fixture
def sandbox() -> SandboxGateway:
    gateway = SandboxGateway(latency_ms=0, webhook_secret="test-sandbox-secret")
    gateway.reset()
    return gateway


@pytest.fixture
def charge_request() -> Callable[..., ChargeRequest]:
    """Build a charge request; ``token`` and ``key`` are the ones that matter."""

    def build(token: str = "tok_ok", key: str = "attempt-1", amount: int = 150000) -> ChargeRequest:
        return ChargeRequest(
            amount=amount,
            currency="THB",
            payment_token=token,
            customer_reference="",
            idempotency_key=key,
            description="Monthly membership",
            metadata={"invoice": "INV-1"},
        )

    return build


@pytest.fixture
def stripe_http() -> StubStripeHTTPClient:
    return StubStripeHTTPClient()


@pytest.fixture
def stripe_gateway(stripe_http: StubStripeHTTPClient) -> StripeGateway:
    return StripeGateway(API_KEY, WEBHOOK_SECRET, http_client=stripe_http, max_network_retries=0)


@pytest.fixture
def fresh_registry() -> Iterator[None]:
    clear_gateway_cache()
    yield
    clear_gateway_cache()
