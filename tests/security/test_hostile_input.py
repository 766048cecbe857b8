"""What an outside fuzzer (schemathesis) found, each fixed at its root (``config.inputs``
and the API's parsers, authentication and query guard), each answered with a clear 4xx
and a stable code, and nothing half-saved."""

from __future__ import annotations

import base64
import datetime as dt

import pytest
import time_machine
from django.core.exceptions import ValidationError
from rest_framework.test import APIClient

from billing.models import AddOn, Invoice, Membership, MembershipFreeze, Payment
from config import inputs
from members import roles
from members.models import Member
from tests.billing.factories import PlanFactory, signed_up
from tests.factories import MemberFactory

pytestmark = pytest.mark.django_db
BASE = "/api/v1/billing"

HOSTILE_NAMES = {
    "bel": "Pim\x07",
    "ansi": "\x1b[31mPim\x1b[0m",
    "crlf": "Pim\r\nSet-Cookie: x",
    "rlo": "Pim\u202etxt.exe",
    "zero_width": "P\u200bim",
    "bom": "\ufeffPim",
    "nul": "P\x00im",
}


@pytest.fixture(autouse=True)
def _clock():
    with time_machine.travel(dt.datetime(2027, 1, 31, 3, 0, tzinfo=dt.UTC), tick=False) as t:
        yield t


@pytest.fixture
def desk(api_as):
    return api_as(roles.FRONT_DESK)


def assert_invalid(response, field):
    assert response.status_code == 400, response.content
    body = response.json()
    assert body["code"] == "invalid"
    assert field in body["fields"], body
    return body


# --- The one place: config.inputs ----------------------------------------------------


@pytest.mark.parametrize("name", sorted(HOSTILE_NAMES))
def test_clean_text_refuses_control_and_invisible_characters(name):
    with pytest.raises(ValidationError) as refused:
        inputs.clean_text(HOSTILE_NAMES[name])
    assert refused.value.code in {"control_characters", "line_break"}


def test_clean_text_keeps_thai_emoji_and_line_breaks_where_allowed():
    assert inputs.clean_text("พิมพ์ใจ สุขใจ 💪") == "พิมพ์ใจ สุขใจ 💪"
    assert inputs.clean_text("line one\nline two\tend", multiline=True)
    with pytest.raises(ValidationError):
        inputs.clean_text("line one\nline two")


def test_amounts_and_dates_are_bounded(settings):
    assert inputs.check_amount(settings.INPUT_MAX_AMOUNT) == settings.INPUT_MAX_AMOUNT
    with pytest.raises(ValidationError) as too_large:
        inputs.check_amount(2**31)
    assert too_large.value.code == "amount_too_large"
    assert inputs.max_amount() < 2**31
    with pytest.raises(ValidationError) as far:
        inputs.check_date(dt.date(9999, 12, 31))
    assert far.value.code == "date_too_far_ahead"
    with pytest.raises(ValidationError) as back:
        inputs.check_date(dt.date(1000, 1, 1))
    assert back.value.code == "date_too_far_behind"


# --- Fuzzer findings: the four 500s ---------------------------------------------------


@pytest.mark.parametrize("endpoint", ["add-addon", "remove-addon"])
def test_a_nul_byte_in_an_addon_code_is_a_400(desk, endpoint):
    membership = signed_up(plan=PlanFactory())
    AddOn.objects.create(code="towel", name="Towel", price=5_000, currency="THB")
    response = desk.post(
        f"{BASE}/memberships/{membership.pk}/{endpoint}/", {"addon": "tow\x00el"}, format="json"
    )
    assert_invalid(response, "addon")
    assert not membership.addons.exists()


@pytest.mark.parametrize(
    "path", ["/api/v1/members/", f"{BASE}/invoices/", f"{BASE}/memberships/", f"{BASE}/plans/"]
)
def test_a_nul_byte_in_a_basic_auth_username_is_a_401_before_login(make_staff, path):
    make_staff(roles.OWNER, username="owner")
    client = APIClient()
    credentials = base64.b64encode(b"own\x00er:pw-for-tests-only").decode()
    response = client.get(path, HTTP_AUTHORIZATION=f"Basic {credentials}")
    assert response.status_code == 401, response.content
    assert response.json()["code"] == "authentication_failed"


def open_invoice() -> Invoice:
    membership = signed_up(plan=PlanFactory(price=258_000), token="tok_decline_insufficient_funds")
    return Invoice.objects.get(membership=membership)


@pytest.mark.parametrize("amount", [2**31, 2**31 + 1, 2**53, 10**30])
def test_a_manual_payment_of_two_to_the_31_or_more_is_a_400(desk, amount):
    invoice = open_invoice()
    response = desk.post(
        f"{BASE}/invoices/{invoice.pk}/pay/", {"amount": amount, "source": "cash"}, format="json"
    )
    assert_invalid(response, "amount")
    assert not Payment.objects.exists()


def test_sign_up_starting_9999_12_31_is_a_400(desk):
    member, plan = MemberFactory(), PlanFactory()
    response = desk.post(
        f"{BASE}/memberships/",
        {"member": member.pk, "plan": plan.pk, "start_on": "9999-12-31"},
        format="json",
    )
    assert_invalid(response, "start_on")
    assert not Membership.objects.filter(member=member).exists()


# --- Fuzzer findings: junk that was stored -------------------------------------------


def test_a_cash_payment_above_what_is_owed_is_refused(desk):
    invoice = open_invoice()
    response = desk.post(
        f"{BASE}/invoices/{invoice.pk}/pay/",
        {"amount": 2_147_483_647, "source": "cash"},
        format="json",
    )
    assert response.status_code == 400  # beyond any amount at all
    over = desk.post(
        f"{BASE}/invoices/{invoice.pk}/pay/",
        {"amount": invoice.amount_due + 1, "source": "cash"},
        format="json",
    )
    assert over.status_code == 409, over.content
    assert (over.json()["code"], over.json()["reason"]) == (
        "payment_not_allowed",
        "amount_above_due",
    )
    assert not Payment.objects.exists()
    exact = desk.post(
        f"{BASE}/invoices/{invoice.pk}/pay/",
        {"amount": invoice.amount_due, "source": "cash"},
        format="json",
    )
    assert exact.status_code == 201


def test_a_freeze_from_9999_12_01_is_refused_and_moves_nothing(
    desk, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        membership = signed_up(plan=PlanFactory(freezes_per_year=2, freeze_max_days=60))
    membership.refresh_from_db()
    assert membership.status == "active"
    before = membership.next_billing_date
    response = desk.post(
        f"{BASE}/memberships/{membership.pk}/freeze/",
        {"starts_on": "9999-12-01", "ends_on": "9999-12-31"},
        format="json",
    )
    assert_invalid(response, "starts_on")
    membership.refresh_from_db()
    assert membership.next_billing_date == before
    assert not MembershipFreeze.objects.exists()


def test_a_sign_up_in_the_year_3000_is_refused(desk):
    member, plan = MemberFactory(), PlanFactory()
    response = desk.post(
        f"{BASE}/memberships/",
        {"member": member.pk, "plan": plan.pk, "start_on": "3000-01-01"},
        format="json",
    )
    assert_invalid(response, "start_on")
    assert not Membership.objects.exists()


@pytest.mark.parametrize("name", sorted(HOSTILE_NAMES))
def test_control_characters_in_names_are_refused_by_the_api(desk, name):
    body = {"first_name": HOSTILE_NAMES[name], "last_name": "Sukjai", "phone": "0811112222"}
    response = desk.post("/api/v1/members/", body, format="json")
    assert_invalid(response, "first_name")
    assert not Member.objects.exists()


@pytest.mark.parametrize("name", ["ansi", "rlo", "zero_width"])
def test_control_characters_in_names_are_refused_in_a_form_body_too(desk, name):
    body = {"first_name": "Pim", "last_name": HOSTILE_NAMES[name], "phone": "0811112222"}
    response = desk.post("/api/v1/members/", body)  # multipart
    assert_invalid(response, "last_name")
    assert not Member.objects.exists()


def test_control_characters_are_refused_by_the_service_and_the_admin(make_staff):
    from django.test import Client

    from members import services

    with pytest.raises(ValidationError) as refused:
        services.member_create(first_name="Pim\u202e", last_name="S", phone="0811112222")
    assert "first_name" in refused.value.message_dict
    client = Client()
    client.force_login(make_staff(roles.OWNER))
    response = client.post(
        "/admin/members/member/add/",
        {"first_name": "\x1b[31mPim", "last_name": "Sukjai", "phone": "0811112222"},
    )
    assert response.status_code == 200  # the form again, with its error
    assert "first_name" in response.context["adminform"].form.errors
    assert not Member.objects.exists()


def test_a_control_character_in_a_query_is_a_400(desk):
    response = desk.get(f"{BASE}/invoices/", {"q": "\x1b[2J"})
    assert_invalid(response, "q")
