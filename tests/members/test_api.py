"""The members API: filtering, search, and bad input answered with 400 and nothing stored."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from members import roles
from members.models import Member
from tests.factories import MemberFactory

pytestmark = pytest.mark.django_db
URL = "/api/v1/members/"


@pytest.fixture
def desk(api_as):
    return api_as(roles.FRONT_DESK)


def test_create_member(desk):
    response = desk.post(
        URL,
        {"first_name": "Nok", "last_name": "Wong", "phone": "089-123-4567", "language": "th"},
        format="json",
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["phone"] == "+66891234567"
    assert body["status"] == "prospect"
    assert Member.objects.get(pk=body["id"]).member_number == body["member_number"]


@pytest.mark.parametrize(
    ("payload", "content_type"),
    [
        (b"{not json", "application/json"),
        (b'["a", "list"]', "application/json"),
        (b'"a string"', "application/json"),
        (b"\xff\xfe\x00", "application/json"),
    ],
)
def test_malformed_bodies_get_400_and_store_nothing(desk, payload, content_type):
    response = desk.generic("POST", URL, payload, content_type=content_type)
    assert response.status_code == 400
    assert response.json()["code"] in {"parse_error", "invalid"}
    assert Member.objects.count() == 0


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"last_name": "B"}, "first_name"),
        ({"first_name": "A", "last_name": "B", "date_of_birth": "yesterday"}, "date_of_birth"),
        ({"first_name": "A", "last_name": "B", "date_of_birth": "2999-01-01"}, "date_of_birth"),
        ({"first_name": "A", "last_name": "B", "phone": "12"}, "phone"),
        ({"first_name": "A", "last_name": "B", "email": "nope"}, "email"),
        ({"first_name": ["A"], "last_name": "B"}, "first_name"),
        ({"first_name": "A" * 500, "last_name": "B"}, "first_name"),
        ({"first_name": "A", "last_name": "B", "language": "klingon"}, "language"),
        ({"first_name": "A", "last_name": "B", "guardian": 999999}, "guardian"),
        ({"first_name": "A", "last_name": "B", "date_of_birth": "2015-01-01"}, "guardian"),
        ({"first_name": "A", "last_name": "B", "marketing_email": "maybe"}, "marketing_email"),
    ],
)
def test_invalid_fields_get_400_with_field_errors(desk, payload, field):
    response = desk.post(URL, payload, format="json")
    assert response.status_code == 400, response.content
    body = response.json()
    assert body["code"] == "invalid"
    assert field in body["fields"]
    assert Member.objects.count() == 0


def test_duplicate_email_gets_400(desk):
    MemberFactory(email="dup@example.com")
    response = desk.post(
        URL, {"first_name": "A", "last_name": "B", "email": "DUP@example.com"}, format="json"
    )
    assert response.status_code == 400
    assert "email" in response.json()["fields"]
    assert Member.objects.count() == 1


def test_status_cannot_be_written(desk):
    member = MemberFactory()
    response = desk.patch(f"{URL}{member.pk}/", {"status": "active"}, format="json")
    assert response.status_code == 200
    member.refresh_from_db()
    assert member.status == "prospect"


def test_update_validates(desk):
    member = MemberFactory()
    response = desk.patch(f"{URL}{member.pk}/", {"phone": "x"}, format="json")
    assert response.status_code == 400
    member.refresh_from_db()
    assert member.phone.startswith("+66")


def test_search_by_phone_in_any_format_and_by_number(desk):
    target = MemberFactory(phone="+66811112222", first_name="Pim")
    MemberFactory(phone="+66833334444")
    for q in [
        "081-111-2222",
        "0811112222",
        "+66 81 111 2222",
        str(target.member_number),
        "pim",
    ]:
        ids = [m["id"] for m in desk.get(URL, {"q": q}).json()["results"]]
        assert ids == [target.pk], q
    # A NUL (PostgreSQL text cannot hold one) or any control character: a clear 400.
    refused = desk.get(URL, {"q": "p\x00im"})
    assert refused.status_code == 400
    assert refused.json()["code"] == "invalid" and "q" in refused.json()["fields"]


def test_filter_by_language(desk):
    thai = MemberFactory(language="th")
    MemberFactory(language="en")
    ids = [m["id"] for m in desk.get(URL, {"language": "th"}).json()["results"]]
    assert ids == [thai.pk]


def test_bad_filter_value_gets_400(desk):
    response = desk.get(URL, {"joined_after": "not-a-date"})
    assert response.status_code == 400


def test_unknown_member_gets_404(desk):
    response = desk.get(f"{URL}987654321/")
    assert response.status_code == 404
    assert response.json()["code"] == "not_found"


def test_list_query_count_is_constant(desk):
    for _ in range(3):
        MemberFactory()
    desk.get(URL)  # warm the permission cache
    with CaptureQueriesContext(connection) as few:
        desk.get(URL)
    payer = MemberFactory()
    from members import services

    household = services.household_create(payer=payer)
    for _ in range(10):
        MemberFactory(household=household, date_of_birth=dt.date(1980, 1, 1))
    with CaptureQueriesContext(connection) as many:
        assert len(desk.get(URL).json()["results"]) == 14
    assert len(many) == len(few)


def test_schema_and_docs_are_served(client):
    schema = client.get("/api/schema/")
    assert schema.status_code == 200
    assert b"/api/v1/members/" in schema.content
    assert client.get("/api/docs/").status_code == 200
