"""Staff sign-in: lockouts per account and per address on the real cache (django-axes),
and the second factor (TOTP, recovery codes) managers and owners cannot skip."""

from __future__ import annotations

import base64

import pytest
from django.test import Client
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice
from rest_framework.test import APIClient

from members import roles, staff_security
from members.models import RecoveryCode, StaffSecurityEvent, StaffSecurityKind

pytestmark = pytest.mark.django_db
PASSWORD = "pw-for-tests-only"
LOGIN = "/admin/login/"


def sign_in(client: Client, username: str, password: str = PASSWORD, ip: str = "10.0.0.1"):
    return client.post(
        LOGIN, {"username": username, "password": password, "next": "/admin/"}, REMOTE_ADDR=ip
    )


def current_code(device: TOTPDevice) -> str:
    return f"{totp(device.bin_key, device.step, device.t0, device.digits, device.drift):06d}"


# --- Lockouts --------------------------------------------------------------------------


def test_brute_force_on_the_admin_is_locked_out_even_with_the_right_password(make_staff, settings):
    make_staff(roles.FRONT_DESK, username="desk")
    client = Client()
    for _attempt in range(settings.AXES_FAILURE_LIMIT - 1):
        assert sign_in(client, "desk", "wrong").status_code == 200  # the form again
    assert sign_in(client, "desk", "wrong").status_code == 429  # the last straw
    locked = sign_in(client, "desk")
    assert locked.status_code == 429
    assert "_auth_user_id" not in client.session


def test_the_lockout_is_per_account_from_any_address(make_staff, settings):
    make_staff(roles.FRONT_DESK, username="desk")
    for attempt in range(settings.AXES_FAILURE_LIMIT):
        sign_in(Client(), "desk", "wrong", ip=f"10.0.1.{attempt}")
    assert sign_in(Client(), "desk", ip="10.0.9.9").status_code == 429


def test_the_lockout_is_per_address_across_accounts(make_staff, settings):
    make_staff(roles.FRONT_DESK, username="desk")
    for attempt in range(settings.AXES_FAILURE_LIMIT):
        sign_in(Client(), f"guess{attempt}", "wrong", ip="10.0.2.2")
    assert sign_in(Client(), "desk", ip="10.0.2.2").status_code == 429
    # Another address still signs in.
    assert sign_in(Client(), "desk", ip="10.0.3.3").status_code == 302


def test_brute_force_on_the_api_is_locked_out(make_staff, settings):
    make_staff(roles.FRONT_DESK, username="desk")
    client = APIClient()

    def basic(password: str) -> str:
        return "Basic " + base64.b64encode(f"desk:{password}".encode()).decode()

    for _attempt in range(settings.AXES_FAILURE_LIMIT - 1):
        wrong = client.get("/api/v1/members/", HTTP_AUTHORIZATION=basic("wrong"))
        assert wrong.status_code == 401
    client.get("/api/v1/members/", HTTP_AUTHORIZATION=basic("wrong"))
    locked = client.get("/api/v1/members/", HTTP_AUTHORIZATION=basic(PASSWORD))
    assert locked.status_code == 429
    assert locked.json()["code"] == "locked_out"


def test_the_lockout_lives_in_redis(make_staff, settings):
    from django.core.cache import cache

    make_staff(roles.FRONT_DESK, username="desk")
    for _attempt in range(settings.AXES_FAILURE_LIMIT):
        sign_in(Client(), "desk", "wrong")
    assert settings.AXES_HANDLER == "axes.handlers.cache.AxesCacheHandler"
    assert settings.CACHES["default"]["BACKEND"] == "config.cache.RedisCache"
    cache.clear()  # what an expired cool-off looks like
    assert sign_in(Client(), "desk").status_code == 302


# --- The second factor ------------------------------------------------------------------


@pytest.mark.parametrize("role", [roles.MANAGER, roles.OWNER])
def test_a_manager_or_owner_without_a_second_factor_cannot_reach_the_admin(make_staff, role):
    make_staff(role, username="boss")
    client = Client()
    response = sign_in(client, "boss")
    assert response.status_code == 302
    for url in ["/admin/", "/admin/members/member/", "/admin/billing/invoice/"]:
        page = client.get(url)
        assert page.status_code == 302, url
        assert "/admin/login/" in page["Location"] or "second-factor" in page["Location"]
    # The login page sends them on to set one up: enrolment is forced.
    onward = client.get("/admin/login/?next=/admin/")
    assert onward.status_code == 302
    assert client.get(onward["Location"]).status_code in (200, 302)
    setup = client.get("/admin/second-factor/setup/")
    assert setup.status_code == 200
    assert b"second-factor-qr" in setup.content
    # Nor can the API be reached with that half-finished session.
    assert client.get("/api/v1/members/").status_code in (401, 403)


def test_setting_up_the_second_factor_then_signing_in_with_it(make_staff):
    user = make_staff(roles.MANAGER, username="boss")
    client = Client()
    sign_in(client, "boss")
    client.get("/admin/second-factor/setup/")
    device = TOTPDevice.objects.get(user=user, confirmed=False)
    wrong = client.post("/admin/second-factor/setup/", {"code": "000000"})
    assert wrong.status_code == 200 and wrong.context["form"].errors
    device.refresh_from_db()
    device.throttle_reset()  # django-otp slows guessing down after a wrong code
    done = client.post("/admin/second-factor/setup/", {"code": current_code(device)})
    assert done.status_code == 200
    codes = done.context["codes"]
    assert len(codes) == 10
    assert client.get("/admin/").status_code == 200
    assert StaffSecurityEvent.objects.filter(
        user=user, kind=StaffSecurityKind.SECOND_FACTOR_ENROLLED
    ).exists()

    # Next time: password, then the code.
    again = Client()
    sign_in(again, "boss")
    assert again.get("/admin/").status_code == 302
    device.refresh_from_db()
    device.last_t = -1
    device.save()
    verified = again.post("/admin/second-factor/", {"code": current_code(device)})
    assert verified.status_code == 302
    assert again.get("/admin/").status_code == 200


def test_recovery_codes_work_once(make_staff):
    user = make_staff(roles.OWNER, username="boss")
    TOTPDevice.objects.create(user=user, name="app", confirmed=True)
    codes = staff_security.recovery_codes_issue(user)
    first = Client()
    sign_in(first, "boss")
    assert first.post("/admin/second-factor/", {"code": codes[0]}).status_code == 302
    assert first.get("/admin/").status_code == 200
    assert (
        StaffSecurityEvent.objects.filter(
            user=user, kind=StaffSecurityKind.RECOVERY_CODE_USED
        ).count()
        == 1
    )

    # Only keyed hashes are stored: the database alone can't sign anyone in.
    stored = list(RecoveryCode.objects.filter(device__user=user).values_list("digest", flat=True))
    assert not any(code.replace("-", "") in digest for code in codes for digest in stored)

    second = Client()
    sign_in(second, "boss")
    reused = second.post("/admin/second-factor/", {"code": codes[0]})
    assert reused.status_code == 200 and reused.context["form"].errors
    assert second.get("/admin/").status_code == 302
    assert RecoveryCode.objects.filter(device__user=user).count() == 9


def test_the_front_desk_needs_no_second_factor_unless_the_setting_says_so(make_staff, settings):
    make_staff(roles.FRONT_DESK, username="desk")
    client = Client()
    sign_in(client, "desk")
    assert client.get("/admin/").status_code == 200
    settings.STAFF_2FA_FRONT_DESK = True
    later = Client()
    sign_in(later, "desk")
    assert later.get("/admin/").status_code == 302


def test_an_owner_resets_a_staff_members_second_factor_and_it_is_recorded(make_staff):
    owner = make_staff(roles.OWNER, username="owner")
    manager = make_staff(roles.MANAGER, username="manager")
    TOTPDevice.objects.create(user=manager, name="app", confirmed=True)
    staff_security.recovery_codes_issue(manager)
    client = Client()
    client.force_login(owner)  # the suite's sign-in completes the owner's second factor
    response = client.post(
        "/admin/auth/user/",
        {"action": "reset_second_factor", "_selected_action": [manager.pk]},
    )
    assert response.status_code == 302
    assert not TOTPDevice.objects.filter(user=manager).exists()
    assert not RecoveryCode.objects.filter(device__user=manager).exists()
    event = StaffSecurityEvent.objects.get(user=manager, kind=StaffSecurityKind.SECOND_FACTOR_RESET)
    assert event.actor == owner


def test_a_manager_cannot_reset_anothers_second_factor(make_staff):
    manager = make_staff(roles.MANAGER, username="manager")
    other = make_staff(roles.OWNER, username="owner")
    TOTPDevice.objects.create(user=other, name="app", confirmed=True)
    client = Client()
    client.force_login(manager)
    client.post(
        "/admin/auth/user/", {"action": "reset_second_factor", "_selected_action": [other.pk]}
    )
    assert TOTPDevice.objects.filter(user=other).exists()
    assert not StaffSecurityEvent.objects.filter(kind=StaffSecurityKind.SECOND_FACTOR_RESET)
