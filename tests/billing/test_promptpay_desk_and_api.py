"""PromptPay at the desk (the admin) and over the API: roles, refusals, the schema."""

from __future__ import annotations

import json

import pytest
from django.contrib.messages import get_messages
from django.test import Client
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from billing.gateways import get_gateway
from billing.models import (
    InvoiceStatus,
    LineKind,
    Payment,
    PaymentSource,
    PromptPayChannel,
    PromptPayRequest,
    PromptPayStatus,
)
from billing.promptpay.payload import parse_payload
from billing.services import invoices as inv
from billing.services import promptpay as pp
from tests.factories import MemberFactory

pytestmark = pytest.mark.django_db
ADMIN = "/admin/billing/promptpayrequest"
API = "/api/v1/billing/promptpay-requests/"


@pytest.fixture(autouse=True)
def _own_id(settings):
    settings.PROMPTPAY_ROUTE = "auto"
    settings.PROMPTPAY_ID = "081-234-5678"
    get_gateway("sandbox").reset()


def owed(amount=80_000):
    return inv.invoice_create(
        member=MemberFactory(),
        currency="THB",
        reason="manual",
        specs=[inv.LineSpec(LineKind.OTHER, "Membership", amount, 700, inclusive=True)],
    )


@pytest.fixture
def login(make_staff):
    def as_role(role):
        client = Client()
        client.force_login(make_staff(role))
        return client

    return as_role


# --- the admin --------------------------------------------------------------------------


def test_the_desk_shows_a_qr_for_an_invoice_and_confirms_the_transfer(login):
    desk = login("Front desk")
    invoice = owed()
    page = desk.get(f"/admin/billing/invoice/{invoice.pk}/change/").content.decode()
    assert f"{ADMIN}/for-invoice/{invoice.pk}/" in page

    shown = desk.post(f"{ADMIN}/for-invoice/{invoice.pk}/", {}, follow=True)
    assert shown.status_code == 200
    [request] = PromptPayRequest.objects.all()
    assert (request.channel, request.requested_by.username) == ("desk", "front_desk")
    body = shown.content.decode()
    assert "<svg" in body and "Confirm transfer received" in body

    confirmed = desk.post(
        f"{ADMIN}/{request.pk}/confirm/",
        {"amount": "800.00", "bank_reference": "KBANK 0415 1234"},
    )
    assert confirmed.status_code == 302
    assert "Recorded ฿800.00 received by PromptPay." in [
        str(m) for m in get_messages(confirmed.wsgi_request)
    ]
    invoice.refresh_from_db()
    assert invoice.status == InvoiceStatus.PAID
    payment = Payment.objects.get(invoice=invoice)
    assert (payment.source, payment.reference) == (PaymentSource.PROMPTPAY, "KBANK 0415 1234")


def test_refusals_come_back_as_messages_never_errors(login):
    desk = login("Front desk")
    request = pp.promptpay_request_create(invoices=[owed()], channel=PromptPayChannel.DESK)
    for data in (
        {"amount": "900.00", "bank_reference": "x"},  # more than asked
        {"amount": "800.00", "bank_reference": "a\x00b"},
        {"amount": "abc", "bank_reference": "x"},
        {"amount": "800.001", "bank_reference": "x"},
        {"amount": "800.00", "bank_reference": ""},
    ):
        response = desk.post(f"{ADMIN}/{request.pk}/confirm/", data)
        assert response.status_code == 200, data  # the form again, with the reason
    request.refresh_from_db()
    assert request.status == PromptPayStatus.PENDING
    assert desk.get(f"{ADMIN}/for-invoice/x%00/").status_code == 404
    assert desk.get(f"{ADMIN}/for-invoice/{'9' * 40}/").status_code == 404
    assert desk.get(f"{ADMIN}/99999999/confirm/").status_code == 404


def test_the_list_opens_on_transfers_members_say_they_made(login):
    desk = login("Front desk")
    waiting = pp.promptpay_request_create(invoices=[owed()], channel=PromptPayChannel.PAY_PAGE)
    pp.promptpay_request_report_paid(waiting)
    pp.promptpay_request_create(invoices=[owed()], channel=PromptPayChannel.PAY_PAGE)
    listed = desk.get(f"{ADMIN}/?awaiting=yes").content.decode()
    assert f"PromptPay #{waiting.pk}" in listed
    assert listed.count("PromptPay #") == 1
    assert desk.get(f"{ADMIN}/?q={waiting.member.member_number}").status_code == 200


def test_a_role_without_take_payment_cannot_confirm_or_create(make_staff, login):
    from django.contrib.auth.models import Permission

    clerk = make_staff("Front desk", username="clerk")
    clerk.groups.clear()
    clerk.user_permissions.add(Permission.objects.get(codename="view_promptpayrequest"))
    client = Client()
    client.force_login(clerk)
    request = pp.promptpay_request_create(invoices=[owed()], channel=PromptPayChannel.DESK)
    assert client.post(f"{ADMIN}/{request.pk}/confirm/", {"amount": "800"}).status_code == 403
    assert client.post(f"{ADMIN}/for-invoice/{request.lines.get().invoice_id}/").status_code == 403
    request.refresh_from_db()
    assert request.status == PromptPayStatus.PENDING


# --- the API ------------------------------------------------------------------------------


def test_create_poll_and_confirm_over_the_api(api_as):
    client = api_as("Front desk")
    invoice = owed()
    created = client.post(
        API, {"invoices": [invoice.pk]}, format="json", headers={"Idempotency-Key": "kiosk-1"}
    )
    assert created.status_code == 201, created.content
    body = created.json()
    assert (body["amount"], body["amount_display"], body["status"]) == (
        80_000,
        "฿800.00",
        "pending",
    )
    assert parse_payload(body["qr_data"]).amount == 80_000
    assert body["qr_svg"].startswith("<svg")
    again = client.post(
        API, {"invoices": [invoice.pk]}, format="json", headers={"Idempotency-Key": "kiosk-1"}
    )
    assert again.json()["id"] == body["id"]

    assert client.get(f"{API}{body['id']}/").json()["status"] == "pending"
    confirmed = client.post(
        f"{API}{body['id']}/confirm/",
        {"amount": 80_000, "bank_reference": "SCB 99"},
        format="json",
    )
    assert confirmed.status_code == 200
    assert (confirmed.json()["status"], confirmed.json()["paid_amount"]) == ("paid", 80_000)
    refused = client.post(
        f"{API}{body['id']}/confirm/", {"amount": 80_000, "bank_reference": "SCB 99"}, format="json"
    )
    assert refused.status_code == 409
    assert (refused.json()["code"], refused.json()["reason"]) == (
        "promptpay_not_allowed",
        "already_paid",
    )


@pytest.mark.parametrize(
    ("body", "headers", "field"),
    [
        ({}, {}, "non_field_errors"),
        ({"invoices": [1], "amount": 100}, {}, "invoices"),
        ({"amount": "100"}, {}, "amount"),
        ({"amount": 10.5}, {}, "amount"),
        ({"amount": 0}, {}, "amount"),
        ({"amount": 10**13}, {}, "amount"),
        ({"invoices": ["x"]}, {}, "invoices"),
        ({"invoices": [999999999]}, {}, "invoices"),
        ({"amount": 100, "reference": "a\x00b"}, {}, "reference"),
        ({"amount": 100, "reference": "4111111111111111"}, {}, "reference"),
        ({"amount": 100, "reference": "ok"}, {"Idempotency-Key": "k" * 81}, "Idempotency-Key"),
    ],
)
def test_bad_input_is_a_400_with_field_errors(api_as, body, headers, field):
    response = api_as("Front desk").post(API, body, format="json", headers=headers)
    assert response.status_code == 400, response.content
    payload = response.json()
    assert payload["code"] in ("invalid", "card_number_refused")
    assert field in payload.get("fields", {}) or payload["code"] == "card_number_refused"
    assert not PromptPayRequest.objects.exists()


def test_business_refusals_are_409_with_a_reason(api_as):
    client = api_as("Front desk")
    invoice = owed()
    inv.payment_record(invoice, amount=invoice.amount_due, source=PaymentSource.CASH)
    response = client.post(API, {"invoices": [invoice.pk]}, format="json")
    assert (response.status_code, response.json()["reason"]) == (409, "nothing_due")
    response = client.post(API, {"amount": 100}, format="json")
    assert response.json()["reason"] == "member_or_reference_required"


def test_unknown_ids_are_404_and_anonymous_callers_401(api_as):
    client = api_as("Front desk")
    for path in (f"{API}123456/", f"{API}abc/", f"{API}123456/confirm/"):
        method = client.post if path.endswith("confirm/") else client.get
        response = method(path, {"amount": 1, "bank_reference": "x"}, format="json")
        assert response.status_code == 404 and response.json()["code"] == "not_found"
    from rest_framework.test import APIClient

    assert APIClient().get(API).status_code == 401


BODIES = st.dictionaries(
    st.sampled_from(["invoices", "amount", "member", "reference", "x"]),
    st.one_of(
        st.none(),
        st.booleans(),
        st.integers(min_value=-(2**70), max_value=2**70),
        st.floats(allow_nan=False),
        st.text(max_size=40),
        st.lists(st.one_of(st.integers(), st.text(max_size=5)), max_size=3),
    ),
    max_size=4,
)


def test_hostile_bodies_never_cause_a_server_error(api_as):
    client = api_as("Owner")

    @settings(max_examples=60, suppress_health_check=[HealthCheck.function_scoped_fixture])
    @given(body=BODIES, key=st.text(max_size=90))
    def post(body, key):
        response = client.post(
            API,
            json.dumps(body),
            content_type="application/json",
            headers={"Idempotency-Key": key.encode("utf-8", "replace").decode("latin-1")},
        )
        assert response.status_code in (201, 400, 409), (body, response.content)
        assert "code" in response.json() or response.status_code == 201

    post()


def test_the_endpoints_are_in_the_openapi_schema(api_as):
    schema = api_as("Owner").get("/api/schema/?format=json").json()
    paths = schema["paths"]
    assert "post" in paths["/api/v1/billing/promptpay-requests/"]
    assert "get" in paths["/api/v1/billing/promptpay-requests/{id}/"]
    assert "post" in paths["/api/v1/billing/promptpay-requests/{id}/confirm/"]
    assert "post" in paths["/api/v1/billing/promptpay-requests/{id}/cancel/"]
    create = paths["/api/v1/billing/promptpay-requests/"]["post"]
    assert any(p["name"] == "Idempotency-Key" for p in create["parameters"])
