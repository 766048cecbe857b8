"""The schema tells the truth (issue 16, point 5, the fuzzer's third group of findings):
the fields that can be null or blank say so, every operation documents its 400, 401, 403
and 404 answers, and the form bodies the schema offers carry money as JSON does."""

from __future__ import annotations

import datetime as dt
import json
from urllib.parse import urlencode

import pytest
import time_machine
from rest_framework.test import APIClient

from billing.models import Invoice, Payment
from members import roles
from tests.billing.factories import PlanFactory, signed_up

pytestmark = pytest.mark.django_db


@pytest.fixture(scope="module")
def schema(django_db_setup, django_db_blocker):
    with django_db_blocker.unblock():
        response = APIClient().get("/api/schema/", {"format": "json"})
    assert response.status_code == 200
    return json.loads(response.content)


@pytest.mark.parametrize(
    ("component", "field"),
    [
        ("Payment", "received_by"),
        ("Membership", "coupon"),
        ("MembershipEvent", "actor"),
        ("DunningEvent", "actor"),
    ],
)
def test_fields_answered_as_null_are_nullable_in_the_schema(schema, component, field):
    assert schema["components"]["schemas"][component]["properties"][field].get("nullable")


@pytest.mark.parametrize("component", ["DunningCase", "DunningCaseDetail"])
def test_a_blank_recovered_route_is_allowed_by_the_schema(schema, component):
    prop = schema["components"]["schemas"][component]["properties"]["recovered_route"]
    refs = {option.get("$ref", "").rsplit("/", 1)[-1] for option in prop.get("oneOf", [])}
    assert "BlankEnum" in refs or prop.get("nullable")


def test_every_operation_documents_its_error_answers(schema):
    missing = []
    for path, operations in schema["paths"].items():
        if path.startswith(("/api/v1/billing/webhooks/", "/api/schema")) or "ping" in path:
            continue  # no login: the webhook's signature and the public ping
        for method, operation in operations.items():
            if method not in ("get", "post", "put", "patch", "delete"):
                continue
            needed = {"401", "403"}
            if "{" in path:
                needed.add("404")
            if method in ("post", "put", "patch"):
                needed.add("400")
            lacking = needed - set(operation["responses"])
            if lacking:
                missing.append(f"{method.upper()} {path}: {sorted(lacking)}")
    assert not missing, "\n".join(missing)


# Operations that move money: their schema offers JSON only (a form's strings are not
# amounts), and a form body is a 415, not a half-read amount.
MONEY_OPERATIONS = [
    ("post", "/api/v1/billing/invoices/{id}/pay/"),
    ("post", "/api/v1/pos/products/"),
    ("patch", "/api/v1/pos/products/{id}/"),
    ("post", "/api/v1/pos/sales/"),
    ("post", "/api/v1/pos/sales/{id}/refund/"),
    ("post", "/api/v1/pos/tills/"),
    ("post", "/api/v1/pos/tills/{id}/cash/"),
    ("post", "/api/v1/pos/tills/{id}/close/"),
    ("post", "/api/v1/pos/stock/receive/"),
]


@pytest.mark.parametrize(("method", "path"), MONEY_OPERATIONS)
def test_money_operations_offer_json_bodies_only(schema, method, path):
    content = schema["paths"][path][method]["requestBody"]["content"]
    assert set(content) == {"application/json"}


@pytest.mark.parametrize("body_format", ["multipart", None], ids=["multipart", "form"])
def test_a_payment_in_a_form_body_is_a_415_and_json_pays(api_as, body_format):
    with time_machine.travel(dt.datetime(2027, 1, 31, 3, tzinfo=dt.UTC), tick=False):
        membership = signed_up(
            plan=PlanFactory(price=258_000), token="tok_decline_insufficient_funds"
        )
        invoice = Invoice.objects.get(membership=membership)
        desk = api_as(roles.FRONT_DESK)
        url = f"/api/v1/billing/invoices/{invoice.pk}/pay/"
        body = {"amount": str(invoice.amount_due), "source": "cash"}
        if body_format is None:
            response = desk.post(
                url, urlencode(body), content_type="application/x-www-form-urlencoded"
            )
        else:
            response = desk.post(url, body, format=body_format)
        assert response.status_code == 415, response.content
        assert response.json()["code"] == "unsupported_media_type"
        assert not Payment.objects.filter(invoice=invoice).exists()
        paid = desk.post(url, {"amount": invoice.amount_due, "source": "cash"}, format="json")
        assert paid.status_code == 201, paid.content
