"""Card numbers are refused at the door: never stored, never logged, never echoed.

Staff sometimes paste a card number where the gateway's token belongs.  The API answers
400 ``card_number_refused`` and the admin shows a form error; afterwards the number is
in no database row, no log record (SQL included) and no console output.
"""

from __future__ import annotations

import json
import logging
import re

import pytest
from django.apps import apps
from django.db import connection, models
from django.test import Client

from billing.models import Membership, Payment, PaymentMethod, Plan
from billing.services import payments
from members import roles
from tests.billing.factories import PlanFactory, signed_up
from tests.factories import MemberFactory

pytestmark = pytest.mark.django_db

CARD_NUMBERS = [
    "4242 4242 4242 4242",
    "4000056655665556",
    "4242-4242-4242-4242",
    "5555555555554444",
    "378282246310005",
]


def digits(text: str) -> str:
    return re.sub(r"\D", "", text)


def squeezed(text: str) -> str:
    """``text`` without the separators a card number may be written with."""
    return re.sub(r"[\s-]", "", text)


@pytest.fixture
def watched(caplog, capsys):
    """Capture every log record at DEBUG, including each SQL statement and its parameters."""
    caplog.set_level(logging.DEBUG)
    for name in list(logging.root.manager.loggerDict):
        caplog.set_level(logging.DEBUG, logger=name)
    connection.force_debug_cursor = True
    try:
        yield caplog, capsys
    finally:
        connection.force_debug_cursor = False


def assert_nowhere(number: str, watched, *responses) -> None:
    caplog, capsys = watched
    wanted = digits(number)
    # The database: every text and JSON column of every model, in every app.
    for model in apps.get_models():
        columns = [
            f.attname
            for f in model._meta.concrete_fields
            if isinstance(f, models.CharField | models.TextField | models.JSONField)
        ]
        if not columns:
            continue
        for row in model._default_manager.values_list(*columns):
            for value in row:
                text = value if isinstance(value, str) else json.dumps(value)
                assert wanted not in squeezed(text), f"{model.__name__} stores the number"
    # The logs, with their arguments, and anything printed.
    assert caplog.records, "nothing was captured: the log check would prove nothing"
    for record in caplog.records:
        text = f"{record.getMessage()} {record.args!r} {record.exc_text or ''}"
        assert wanted not in squeezed(text), f"logged by {record.name}"
    out, err = capsys.readouterr()
    assert wanted not in squeezed(out + err)
    # Nor is it sent back.
    for response in responses:
        assert wanted not in squeezed(response.content.decode())


@pytest.fixture
def desk_api(api_as):
    return api_as(roles.FRONT_DESK)


@pytest.fixture
def never_attached(monkeypatch):
    """The gateway is never asked about a card number (its errors quote what they got)."""

    def refuse(*args, **kwargs):
        raise AssertionError("payment_method_attach was called with a card number")

    monkeypatch.setattr(payments, "payment_method_attach", refuse)


@pytest.mark.parametrize("number", CARD_NUMBERS)
def test_api_refuses_a_card_number_as_token(desk_api, watched, never_attached, number):
    member = MemberFactory()
    response = desk_api.post(
        "/api/v1/billing/payment-methods/",
        {"member": member.pk, "gateway": "sandbox", "token": number},
        format="json",
    )
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "card_number_refused"
    assert "token" in body["fields"]
    assert "card number" in body["fields"]["token"][0]
    assert not PaymentMethod.objects.exists()
    assert_nowhere(number, watched, response)


@pytest.mark.parametrize(
    "token", [4242424242424242, ["4242 4242 4242 4242"], {"number": "4000056655665556"}]
)
def test_api_refuses_card_numbers_in_any_json_shape(desk_api, watched, never_attached, token):
    member = MemberFactory()
    response = desk_api.post(
        "/api/v1/billing/payment-methods/",
        {"member": member.pk, "gateway": "sandbox", "token": token},
        format="json",
    )
    assert response.status_code == 400
    assert response.json()["code"] == "card_number_refused"
    assert not PaymentMethod.objects.exists()
    assert_nowhere(json.dumps(token), watched, response)


def test_api_refuses_card_numbers_in_form_encoded_bodies(desk_api, watched, never_attached):
    """The money endpoints speak JSON only: a form body carrying a card number is refused
    before it is parsed, and the number is echoed, logged and stored nowhere."""
    member = MemberFactory()
    response = desk_api.post(
        "/api/v1/billing/payment-methods/",
        {"member": member.pk, "gateway": "sandbox", "token": "4000056655665556"},
    )
    assert response.status_code == 415
    assert response.json()["code"] == "unsupported_media_type"
    assert not PaymentMethod.objects.filter(member=member).exists()
    assert_nowhere("4000056655665556", watched, response)


def test_api_refuses_card_numbers_in_any_text_field(desk_api, api_as, watched):
    number = "4242 4242 4242 4242"
    member, plan = MemberFactory(), PlanFactory()
    signup = desk_api.post(
        "/api/v1/billing/memberships/",
        {"member": member.pk, "plan": plan.pk, "coupon_code": number},
        format="json",
    )
    membership = signed_up(plan=PlanFactory(freezes_per_year=2), token="tok_decline_do_not_honor")
    invoice = membership.invoices.get()
    pay = desk_api.post(
        f"/api/v1/billing/invoices/{invoice.pk}/pay/",
        {"amount": 100, "source": "cash", "reference": f"card {number}"},
        format="json",
    )
    cancel = desk_api.post(
        f"/api/v1/billing/memberships/{membership.pk}/cancel/",
        {"reason": f"paid with {number}"},
        format="json",
    )
    new_plan = api_as(roles.MANAGER).post(
        "/api/v1/billing/plans/",
        {"code": "x", "name": "X", "interval": "month", "price": 1, "description": number},
        format="json",
    )
    for response in (signup, pay, cancel, new_plan):
        assert response.status_code == 400, response.content
        assert response.json()["code"] == "card_number_refused"
    assert Membership.objects.count() == 1
    assert not Payment.objects.exists()
    assert not Plan.objects.filter(code="x").exists()
    membership.refresh_from_db()
    assert membership.cancel_at is None
    assert_nowhere(number, watched, signup, pay, cancel, new_plan)


@pytest.fixture
def desk_admin(make_staff):
    client = Client()
    client.force_login(make_staff(roles.FRONT_DESK))
    return client


@pytest.mark.parametrize("number", CARD_NUMBERS)
def test_admin_form_refuses_a_card_number_as_token(desk_admin, watched, never_attached, number):
    member = MemberFactory()
    response = desk_admin.post(
        "/admin/billing/paymentmethod/add/",
        {"member": member.pk, "gateway": "sandbox", "token": number, "make_default": "on"},
    )
    assert response.status_code == 200
    errors = response.context["form"].errors
    assert "card number" in errors["token"][0]
    assert not PaymentMethod.objects.exists()
    assert_nowhere(number, watched, response)


def test_admin_payment_form_refuses_a_card_number_reference(desk_admin, watched):
    number = "4000056655665556"
    membership = signed_up(plan=PlanFactory(), token="tok_decline_do_not_honor")
    invoice = membership.invoices.get()
    response = desk_admin.post(
        f"/admin/billing/invoice/{invoice.pk}/pay/",
        {"amount": "1500", "source": "cash", "reference": number},
    )
    assert response.status_code == 200
    assert "card number" in response.context["form"].errors["reference"][0]
    assert not Payment.objects.exists()
    assert_nowhere(number, watched, response)


def test_a_token_that_merely_has_digits_is_fine(desk_api):
    member = MemberFactory()
    response = desk_api.post(
        "/api/v1/billing/payment-methods/",
        {"member": member.pk, "gateway": "sandbox", "token": "tok_ok.4242424242424241"},
        format="json",
    )
    assert response.status_code == 201, response.content
