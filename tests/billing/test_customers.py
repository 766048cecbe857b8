"""Gateway customers: one per payer and gateway, created once, adopted from saved cards."""

from __future__ import annotations

import pytest

from billing.gateways import get_gateway
from billing.gateways.interface import CustomerRequest, GatewayError
from billing.gateways.stripe_gateway import StripeGateway
from billing.models import GatewayCustomer, PaymentMethod
from billing.services.customers import gateway_customer_for
from tests.billing.factories import card
from tests.billing.gateways.stripe_stub import API_KEY, WEBHOOK_SECRET, StubStripeHTTPClient
from tests.concurrency import at_once
from tests.factories import MemberFactory

pytestmark = pytest.mark.django_db(transaction=True)


def test_the_sandbox_gives_one_customer_per_key():
    sandbox = get_gateway("sandbox")
    first = sandbox.create_customer(CustomerRequest(idempotency_key="customer-sandbox-1"))
    again = sandbox.create_customer(CustomerRequest(idempotency_key="customer-sandbox-1"))
    other = sandbox.create_customer(CustomerRequest(idempotency_key="customer-sandbox-2"))
    assert first == again != other and first.startswith("cus_sbx_")


def test_a_payer_gets_one_customer_and_keeps_it():
    member = MemberFactory()
    reference = gateway_customer_for(member, "sandbox")
    assert gateway_customer_for(member, "sandbox") == reference
    assert GatewayCustomer.objects.filter(member=member).count() == 1
    assert gateway_customer_for(MemberFactory(), "sandbox") != reference


def test_a_customer_named_by_a_saved_card_is_adopted():
    member = MemberFactory()
    method = card(member)
    PaymentMethod.objects.filter(pk=method.pk).update(customer_reference="cus_from_card")
    assert gateway_customer_for(member, "sandbox") == "cus_from_card"
    assert GatewayCustomer.objects.get(member=member).reference == "cus_from_card"


def test_stripe_creates_the_customer_with_an_idempotency_key_and_no_card_data():
    http = StubStripeHTTPClient().reply(200, {"id": "cus_abc", "object": "customer"})
    gateway = StripeGateway(API_KEY, WEBHOOK_SECRET, http_client=http)
    reference = gateway.create_customer(
        CustomerRequest(
            idempotency_key="customer-stripe-7",
            name="Somchai Jaidee",
            email="somchai@example.com",
            metadata={"member_id": "7"},
        )
    )
    assert reference == "cus_abc"
    (request,) = http.requests
    assert (request.method.lower(), request.path) == ("post", "/v1/customers")
    assert request.headers["Idempotency-Key"] == "customer-stripe-7"
    assert request.params == {
        "name": "Somchai Jaidee",
        "email": "somchai@example.com",
        "metadata[member_id]": "7",
    }


def test_a_stripe_refusal_is_a_gateway_error_and_nothing_is_stored(settings):
    import stripe

    import billing.gateways as gateways

    http = StubStripeHTTPClient().fail(stripe.APIConnectionError("network down"))
    gateways.clear_gateway_cache()
    gateways._instances["stripe"] = StripeGateway(
        API_KEY, WEBHOOK_SECRET, http_client=http, max_network_retries=0
    )
    member = MemberFactory()
    try:
        with pytest.raises(GatewayError):
            gateway_customer_for(member, "stripe")
    finally:
        gateways.clear_gateway_cache()
    assert not GatewayCustomer.objects.filter(member=member).exists()


def test_two_requests_at_once_store_one_customer():
    member = MemberFactory()
    first, second = at_once(lambda: gateway_customer_for(member, "sandbox"))
    assert first == second
    assert GatewayCustomer.objects.filter(member=member).count() == 1
