"""Integrations call the staff API with scoped keys (``Authorization: Api-Key <key>``):
hashed and shown once, scoped, expiring, revocable, throttled per key on Redis."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.cache import cache
from django.test import Client
from rest_framework.test import APIClient

from config import clock
from members import api_keys, roles
from members.models import ApiKey
from tests.factories import MemberFactory

pytestmark = pytest.mark.django_db
MEMBERS = "/api/v1/members/"
OCCUPANCY = "/api/v1/access/occupancy"


@pytest.fixture
def owner(make_staff):
    return make_staff(roles.OWNER, username="owner")


@pytest.fixture
def make_key(owner):
    def make(*scopes: str, days: int = 30, rate: int = 600) -> tuple[ApiKey, str]:
        return api_keys.api_key_create(
            name="Door system",
            scopes=list(scopes),
            expires_at=clock.now() + dt.timedelta(days=days),
            created_by=owner,
            rate=rate,
        )

    return make


def call(plain: str, path: str, method: str = "get", **data):
    client = APIClient()
    return getattr(client, method)(path, data or None, HTTP_AUTHORIZATION=f"Api-Key {plain}")


def test_a_key_reads_what_its_scope_names_and_nothing_more(make_key):
    MemberFactory()
    _key, plain = make_key("members:read")
    assert call(plain, MEMBERS).status_code == 200
    refused = call(plain, MEMBERS, "post", first_name="Pim", last_name="Sook")
    assert refused.status_code == 403
    assert call(plain, OCCUPANCY).status_code == 403


def test_a_key_scoped_to_access_devices_cannot_read_members(make_key):
    MemberFactory()
    _key, plain = make_key("access:devices")
    response = call(plain, MEMBERS)
    assert response.status_code == 403
    assert response.json()["code"] == "permission_denied"
    assert call(plain, OCCUPANCY).status_code == 403  # devices, not the events
    _reader, reader = make_key("access:read")
    assert call(reader, OCCUPANCY).status_code == 200


def test_a_revoked_key_gets_401(make_key, owner):
    key, plain = make_key("members:read")
    assert call(plain, MEMBERS).status_code == 200
    assert api_keys.api_key_revoke(key, actor=owner) is True
    response = call(plain, MEMBERS)
    assert response.status_code == 401
    assert response.json()["code"] == "api_key_revoked"
    assert response["WWW-Authenticate"]
    assert api_keys.api_key_revoke(key, actor=owner) is False


def test_an_expired_key_gets_401(make_key, time_machine):
    _key, plain = make_key("members:read", days=1)
    time_machine.move_to(clock.now() + dt.timedelta(days=1, seconds=1))
    response = call(plain, MEMBERS)
    assert response.status_code == 401
    assert response.json()["code"] == "api_key_expired"


@pytest.mark.parametrize("plain", ["gym_nothing.here", "not-even-ours", "gym_\u00e9t\u00e9"])
def test_an_unknown_key_gets_401(plain):
    response = APIClient().get(MEMBERS, HTTP_AUTHORIZATION=f"Api-Key {plain}".encode())
    assert response.status_code == 401
    assert response.json()["code"] == "api_key_invalid"


def test_only_the_keyed_hash_is_stored_and_the_key_is_its_own_account(make_key):
    key, plain = make_key("billing:write")
    key.refresh_from_db()
    assert plain.startswith(f"gym_{key.prefix}.")
    assert plain not in key.digest and plain.split(".")[1] not in key.digest
    assert key.user.groups.count() == 0 and not key.user.has_usable_password()
    assert not key.user.has_perm("billing.view_invoice")  # outside a request made with it


def test_a_key_over_its_rate_is_throttled_with_a_stable_code(make_key, time_machine):
    cache.clear()
    time_machine.move_to(dt.datetime(2027, 3, 1, 3, 0, 5, tzinfo=dt.UTC))
    _key, plain = make_key("members:read", rate=3)
    _other, other = make_key("members:read", rate=3)
    assert [call(plain, MEMBERS).status_code for _i in range(3)] == [200, 200, 200]
    throttled = call(plain, MEMBERS)
    assert throttled.status_code == 429
    assert throttled.json()["code"] == "throttled"
    assert 0 < int(throttled["Retry-After"]) <= 60
    assert call(other, MEMBERS).status_code == 200  # per key
    time_machine.move_to(dt.datetime(2027, 3, 1, 3, 1, 1, tzinfo=dt.UTC))
    assert call(plain, MEMBERS).status_code == 200  # the next minute


def test_the_last_used_time_is_written_at_most_every_few_minutes(
    make_key, time_machine, django_assert_num_queries
):
    time_machine.move_to(dt.datetime(2027, 3, 1, 3, 0, tzinfo=dt.UTC), tick=False)
    key, plain = make_key("members:read")
    api_keys.api_key_authenticate(plain)
    key.refresh_from_db()
    first = key.last_used_at
    assert first == clock.now()
    time_machine.move_to(first + dt.timedelta(minutes=1), tick=False)
    with django_assert_num_queries(1):  # the lookup, no write
        api_keys.api_key_authenticate(plain)
    key.refresh_from_db()
    assert key.last_used_at == first
    time_machine.move_to(first + api_keys.LAST_USED_EVERY + dt.timedelta(seconds=1))
    api_keys.api_key_authenticate(plain)
    key.refresh_from_db()
    assert key.last_used_at > first


def test_an_owner_makes_a_key_in_the_admin_and_sees_it_once(owner, make_staff):
    client = Client()
    client.force_login(owner)
    expires = (clock.now() + dt.timedelta(days=30)).astimezone(dt.UTC)
    response = client.post(
        "/admin/members/apikey/add/",
        {
            "name": "Accounting export",
            "scopes": ["billing:read", "members:read"],
            "expires_at_0": expires.strftime("%Y-%m-%d"),
            "expires_at_1": "10:00:00",
            "rate_per_minute": "120",
        },
    )
    assert response.status_code == 200, response.content[:2000]
    plain = response.context["plain"]
    key = ApiKey.objects.get(name="Accounting export")
    assert key.scopes == ["billing:read", "members:read"] and key.created_by == owner
    assert call(plain, MEMBERS).status_code == 200
    listing = client.get("/admin/members/apikey/")
    assert plain not in listing.content.decode()
    assert key.prefix in listing.content.decode()

    revoke = client.post(
        "/admin/members/apikey/", {"action": "revoke", "_selected_action": [key.pk]}
    )
    assert revoke.status_code == 302
    assert call(plain, MEMBERS).status_code == 401


def test_a_manager_cannot_make_keys(make_staff):
    client = Client()
    client.force_login(make_staff(roles.MANAGER))
    assert client.get("/admin/members/apikey/add/").status_code == 403
    assert client.get("/admin/members/apikey/").status_code == 403


def test_the_schema_documents_the_key(owner):
    client = APIClient()
    client.force_authenticate(owner)
    schema = client.get("/api/schema/", HTTP_ACCEPT="application/json").json()
    scheme = schema["components"]["securitySchemes"]["ApiKey"]
    assert "Api-Key" in scheme["description"] and "members:read" in scheme["description"]
