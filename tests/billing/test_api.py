"""The billing API: roles, every lifecycle action, refusals as stable codes, bad input, webhooks."""

from __future__ import annotations

import datetime as dt
import json

import pytest
import time_machine
from rest_framework.test import APIClient

from billing.gateways import get_gateway
from billing.models import (
    AttemptStatus,
    AttemptTrigger,
    Coupon,
    CreditNote,
    GatewayWebhookEvent,
    Invoice,
    InvoiceStatus,
    Membership,
    MembershipStatus,
    Payment,
    PaymentMethod,
    Plan,
    Refund,
)
from billing.services import invoices as invoice_services
from billing.services import memberships as ms
from billing.services import payments
from members import roles
from tests.billing.factories import PlanFactory, card, signed_up
from tests.factories import MemberFactory

pytestmark = pytest.mark.django_db
S = MembershipStatus
TODAY = dt.date(2027, 1, 31)
BASE = "/api/v1/billing"


@pytest.fixture(autouse=True)
def _clock():
    # 03:00 UTC is 10:00 in Bangkok, the same local date.
    with time_machine.travel(dt.datetime(2027, 1, 31, 3, 0, tzinfo=dt.UTC), tick=False) as t:
        yield t


@pytest.fixture
def desk(api_as):
    return api_as(roles.FRONT_DESK)


@pytest.fixture
def manager(api_as):
    return api_as(roles.MANAGER)


@pytest.fixture
def committed(django_capture_on_commit_callbacks):
    """Run what services defer to after commit (charges, receipts), as production does."""
    return lambda: django_capture_on_commit_callbacks(execute=True)


@pytest.fixture
def plan():
    return PlanFactory(freezes_per_year=2, freeze_min_days=7, freeze_max_days=60)


@pytest.fixture
def active(committed, plan):
    """An active membership whose first invoice was paid by card."""
    with committed():
        membership = signed_up(plan=plan)
    membership.refresh_from_db()
    assert membership.status == S.ACTIVE
    return membership


def open_invoice(token="tok_decline_insufficient_funds", **plan_kwargs):
    """A membership whose first invoice is still open (its charge has not run yet)."""
    membership = signed_up(plan=PlanFactory(**plan_kwargs), token=token)
    return Invoice.objects.get(membership=membership)


def action(client, membership, name, body=None):
    return client.post(f"{BASE}/memberships/{membership.pk}/{name}/", body or {}, format="json")


def assert_refused(response, code, reason=None, status=409):
    assert response.status_code == status, response.content
    body = response.json()
    assert body["code"] == code
    if reason:
        assert body["reason"] == reason
    return body


# --- Roles ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("get", "/plans/"),
        ("post", "/plans/"),
        ("get", "/memberships/"),
        ("post", "/memberships/"),
        ("post", "/memberships/1/cancel/"),
        ("get", "/invoices/"),
        ("post", "/invoices/1/pay/"),
        ("get", "/payment-methods/"),
        ("post", "/payment-methods/"),
        ("post", "/payments/1/refund/"),
    ],
)
def test_anonymous_and_non_staff_are_refused(db, django_user_model, method, path):
    anonymous = APIClient()
    response = getattr(anonymous, method)(BASE + path, {}, format="json")
    assert response.status_code in (401, 403)
    member_user = django_user_model.objects.create_user("gymgoer", password="pw")
    logged_in = APIClient()
    logged_in.force_authenticate(member_user)
    assert getattr(logged_in, method)(BASE + path, {}, format="json").status_code == 403


def plan_body(**overrides):
    return {
        "code": "student",
        "name": "Student monthly",
        "interval": "month",
        "price": 99_000,
        "currency": "THB",
        **overrides,
    }


def test_front_desk_reads_plans_but_cannot_create_or_change_them(desk, plan):
    listed = desk.get(f"{BASE}/plans/")
    assert listed.status_code == 200
    assert listed.json()["results"][0]["price_display"] == "฿1,500.00"
    assert desk.post(f"{BASE}/plans/", plan_body(), format="json").status_code == 403
    response = desk.patch(f"{BASE}/plans/{plan.pk}/", {"name": "Cheap"}, format="json")
    assert response.status_code == 403
    assert not Plan.objects.filter(code="student").exists()


def test_manager_creates_and_updates_plans(manager):
    created = manager.post(f"{BASE}/plans/", plan_body(), format="json")
    assert created.status_code == 201, created.content
    plan_id = created.json()["id"]
    updated = manager.patch(f"{BASE}/plans/{plan_id}/", {"is_active": False}, format="json")
    assert updated.status_code == 200
    assert Plan.objects.get(pk=plan_id).is_active is False


def test_the_price_of_a_sold_plan_cannot_change(manager, active):
    response = manager.patch(f"{BASE}/plans/{active.plan_id}/", {"price": 1}, format="json")
    assert response.status_code == 400
    assert "price" in response.json()["fields"]
    assert Plan.objects.get(pk=active.plan_id).price == 150_000


@pytest.mark.parametrize("price", [10.5, "10.5", "1000", 1000.0, True, None, -5])
def test_plan_prices_are_integer_minor_units(manager, price):
    response = manager.post(f"{BASE}/plans/", plan_body(price=price), format="json")
    assert response.status_code == 400
    assert "price" in response.json()["fields"]
    assert not Plan.objects.filter(code="student").exists()


def test_front_desk_signs_up_and_takes_payment_but_cannot_refund(desk, committed, plan):
    member = MemberFactory()
    method = card(member, "tok_decline_insufficient_funds")
    with committed():
        signup = desk.post(
            f"{BASE}/memberships/",
            {"member": member.pk, "plan": plan.pk, "payment_method": method.pk},
            format="json",
        )
    assert signup.status_code == 201, signup.content
    membership = Membership.objects.get(pk=signup.json()["id"])
    assert membership.events.get(kind="signed_up").actor.username == "front_desk"
    invoice = Invoice.objects.get(membership=membership)
    assert invoice.status == InvoiceStatus.OPEN  # the card declined

    with committed():
        paid = desk.post(
            f"{BASE}/invoices/{invoice.pk}/pay/",
            {"amount": invoice.total, "source": "cash", "reference": "till 2"},
            format="json",
        )
    assert paid.status_code == 201, paid.content
    invoice.refresh_from_db()
    assert invoice.status == InvoiceStatus.PAID
    payment = Payment.objects.get(invoice=invoice)

    refund = desk.post(
        f"{BASE}/payments/{payment.pk}/refund/", {"amount": 100, "reason": "x"}, format="json"
    )
    assert refund.status_code == 403
    assert not Refund.objects.exists()


def test_manager_refunds_a_payment_with_a_credit_note(manager, active):
    payment = Payment.objects.get(invoice__membership=active)
    response = manager.post(
        f"{BASE}/payments/{payment.pk}/refund/",
        {"amount": 50_000, "reason": "Broken shower"},
        format="json",
    )
    assert response.status_code == 201, response.content
    payment.refresh_from_db()
    assert payment.amount_refunded == 50_000
    assert CreditNote.objects.get(invoice=payment.invoice).amount == 50_000


def test_refund_above_the_payment_is_refused(manager, active):
    payment = Payment.objects.get(invoice__membership=active)
    response = manager.post(
        f"{BASE}/payments/{payment.pk}/refund/",
        {"amount": payment.amount + 1, "reason": "Too much"},
        format="json",
    )
    assert_refused(response, "refund_not_allowed", "exceeds_payment")


# --- Memberships ----------------------------------------------------------------------


def test_membership_list_filters_and_search(desk, active):
    other = signed_up(plan=PlanFactory())
    by_status = desk.get(f"{BASE}/memberships/", {"status": "active"}).json()
    assert [m["id"] for m in by_status["results"]] == [active.pk]
    by_plan = desk.get(f"{BASE}/memberships/", {"plan": other.plan_id}).json()
    assert [m["id"] for m in by_plan["results"]] == [other.pk]
    by_member = desk.get(f"{BASE}/memberships/", {"member": active.member_id}).json()
    assert [m["id"] for m in by_member["results"]] == [active.pk]
    number = active.member.member_number
    by_number = desk.get(f"{BASE}/memberships/", {"q": str(number)}).json()
    assert [m["id"] for m in by_number["results"]] == [active.pk]
    detail = desk.get(f"{BASE}/memberships/{active.pk}/").json()
    assert detail["events"][0]["kind"] in {"signed_up", "activated"}


@pytest.mark.parametrize("path", ["/memberships/", "/invoices/", "/plans/", "/payment-methods/"])
def test_lists_take_a_fixed_number_of_queries(desk, committed, path, django_assert_max_num_queries):
    for _ in range(6):
        with committed():
            signed_up(plan=PlanFactory())
    with django_assert_max_num_queries(12):
        response = desk.get(BASE + path)
    assert response.status_code == 200
    assert response.json()["count"] == 6


def test_sign_up_activates_once_the_first_invoice_is_paid(desk, committed, plan):
    member = MemberFactory()
    card(member)
    with committed():
        response = desk.post(
            f"{BASE}/memberships/",
            {"member": member.pk, "plan": plan.pk, "start_on": "2027-01-31", "anchor_day": 31},
            format="json",
        )
    assert response.status_code == 201, response.content
    membership = Membership.objects.get(pk=response.json()["id"])
    assert membership.status == S.ACTIVE
    assert Invoice.objects.get(membership=membership).status == InvoiceStatus.PAID


def test_second_live_membership_is_refused(desk, active):
    response = desk.post(
        f"{BASE}/memberships/",
        {"member": active.member_id, "plan": active.plan_id},
        format="json",
    )
    assert_refused(response, "transition_not_allowed", "already_has_membership")
    assert Membership.objects.count() == 1


def test_sign_up_refuses_someone_elses_card(desk, plan):
    member, stranger = MemberFactory(), MemberFactory()
    response = desk.post(
        f"{BASE}/memberships/",
        {"member": member.pk, "plan": plan.pk, "payment_method": card(stranger).pk},
        format="json",
    )
    assert response.status_code == 400
    assert "payment_method" in response.json()["fields"]
    assert not Membership.objects.exists()


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"member": None}, "member"),
        ({"member": 999_999}, "member"),
        ({"plan": "monthly"}, "plan"),
        ({"start_on": "tomorrow"}, "start_on"),
        ({"anchor_day": 32}, "anchor_day"),
        ({"coupon_code": ["A"]}, "coupon_code"),
    ],
)
def test_sign_up_field_errors_store_nothing(desk, plan, body, field):
    member = MemberFactory()
    payload = {"member": member.pk, "plan": plan.pk, **body}
    response = desk.post(f"{BASE}/memberships/", payload, format="json")
    assert response.status_code == 400, response.content
    assert response.json()["code"] == "invalid"
    assert field in response.json()["fields"]
    assert not Membership.objects.exists()
    assert not Invoice.objects.exists()


@pytest.mark.parametrize(
    "path",
    [
        "/memberships/",
        "/plans/",
        "/payment-methods/",
        "/memberships/{membership}/freeze/",
        "/memberships/{membership}/cancel/",
        "/memberships/{membership}/grant-free-time/",
        "/invoices/{invoice}/pay/",
        "/invoices/{invoice}/credit-notes/",
    ],
)
@pytest.mark.parametrize("payload", [b"{not json", b'["a", "list"]', b'"text"', b"\xff\xfe\x00"])
def test_malformed_bodies_get_400_and_change_nothing(api_as, active, path, payload):
    client = api_as(roles.OWNER)
    invoice = Invoice.objects.get(membership=active)
    before = (
        Membership.objects.count(),
        Plan.objects.count(),
        PaymentMethod.objects.count(),
        Payment.objects.count(),
        CreditNote.objects.count(),
        active.events.count(),
    )
    url = BASE + path.format(membership=active.pk, invoice=invoice.pk)
    response = client.generic("POST", url, payload, content_type="application/json")
    assert response.status_code == 400, response.content
    assert response.json()["code"] in {"parse_error", "invalid"}
    after = (
        Membership.objects.count(),
        Plan.objects.count(),
        PaymentMethod.objects.count(),
        Payment.objects.count(),
        CreditNote.objects.count(),
        active.events.count(),
    )
    assert after == before


def test_upgrade_now_and_refusal(desk, active):
    dearer = PlanFactory(price=250_000)
    response = action(desk, active, "upgrade", {"plan": dearer.pk})
    assert response.status_code == 200, response.content
    assert response.json()["plan"] == dearer.pk
    assert Invoice.objects.filter(membership=active, billing_reason="proration").exists()

    cheaper = PlanFactory(price=50_000)
    refused = action(desk, active, "upgrade", {"plan": cheaper.pk})
    assert_refused(refused, "transition_not_allowed", "not_an_upgrade")


def test_downgrade_from_next_period_and_refusal(desk, active):
    cheaper = PlanFactory(price=90_000)
    response = action(desk, active, "downgrade", {"plan": cheaper.pk})
    assert response.status_code == 200, response.content
    assert response.json()["pending_plan"] == cheaper.pk
    assert response.json()["plan"] == active.plan_id

    dearer = PlanFactory(price=900_000)
    assert_refused(
        action(desk, active, "downgrade", {"plan": dearer.pk}),
        "transition_not_allowed",
        "not_a_downgrade",
    )


def test_freeze_and_refusal(desk, active):
    response = action(
        desk,
        active,
        "freeze",
        {"starts_on": "2027-02-05", "ends_on": "2027-02-19", "reason": "Travel"},
    )
    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["frozen_from"], body["frozen_until"]) == ("2027-02-05", "2027-02-19")
    assert body["freezes"][0]["reason"] == "Travel"

    too_long = action(desk, active, "freeze", {"starts_on": "2027-03-01", "ends_on": "2027-12-01"})
    assert_refused(too_long, "freeze_not_allowed", "too_long")


def test_freeze_dates_must_be_in_order(desk, active):
    response = action(desk, active, "freeze", {"starts_on": "2027-02-19", "ends_on": "2027-02-05"})
    assert response.status_code == 400
    assert "ends_on" in response.json()["fields"]
    assert not active.freezes.exists()


def test_unfreeze_and_refusal(desk, active):
    assert_refused(
        action(desk, active, "unfreeze"), "transition_not_allowed", "unfreeze_from_active"
    )
    ms.membership_freeze(active, starts_on=TODAY, ends_on=TODAY + dt.timedelta(days=14))
    response = action(desk, active, "unfreeze")
    assert response.status_code == 200, response.content
    assert response.json()["status"] == S.ACTIVE


def test_cancel_at_period_end_and_refusal(desk, active):
    response = action(desk, active, "cancel", {"at_period_end": True, "reason": "Moving"})
    assert response.status_code == 200, response.content
    assert response.json()["cancel_at"] == str(active.next_billing_date)
    assert response.json()["cancel_reason"] == "Moving"
    again = action(desk, active, "cancel", {"at_period_end": True})
    assert_refused(again, "cancellation_not_allowed", "already_scheduled")


def test_waiving_cancellation_fees_needs_a_manager(desk, manager, active):
    refused = action(desk, active, "cancel", {"at_period_end": False, "waive_fees": True})
    assert refused.status_code == 403
    active.refresh_from_db()
    assert active.status == S.ACTIVE
    response = action(manager, active, "cancel", {"at_period_end": False, "waive_fees": True})
    assert response.status_code == 200, response.content
    assert response.json()["status"] == S.CANCELLED


def test_reactivate_and_refusal(desk, active):
    assert_refused(
        action(desk, active, "reactivate"), "transition_not_allowed", "reactivate_from_active"
    )
    action(desk, active, "cancel", {"at_period_end": True})
    response = action(desk, active, "reactivate")
    assert response.status_code == 200, response.content
    assert response.json()["cancel_at"] is None


def test_grant_free_time_needs_the_permission(desk, manager, active):
    body = {"days": 7, "reason": "Pool closed"}
    assert action(desk, active, "grant-free-time", body).status_code == 403
    response = action(manager, active, "grant-free-time", body)
    assert response.status_code == 200, response.content
    assert response.json()["next_billing_date"] == str(
        active.next_billing_date + dt.timedelta(days=7)
    )
    ms.membership_cancel(active, at_period_end=False)
    assert_refused(
        action(manager, active, "grant-free-time", body),
        "transition_not_allowed",
        "grant_free_time_from_cancelled",
    )


@pytest.mark.parametrize("days", [0, 367, "seven", 1.5])
def test_grant_free_time_days_are_validated(manager, active, days):
    response = action(manager, active, "grant-free-time", {"days": days, "reason": "x"})
    assert response.status_code == 400
    assert "days" in response.json()["fields"]


def test_apply_coupon_and_refusal(desk, active):
    Coupon.objects.create(code="SPRING", name="Spring", percent_off_bp=1000, duration="once")
    response = action(desk, active, "apply-coupon", {"code": "SPRING"})
    assert response.status_code == 200, response.content
    assert response.json()["coupon"] == "SPRING"
    # The error's own status: an unusable coupon is bad input (400), with its reason.
    other = signed_up(plan=PlanFactory())
    assert_refused(
        action(desk, other, "apply-coupon", {"code": "NOPE"}),
        "coupon_not_valid",
        "unknown_coupon",
        status=400,
    )


def test_unknown_membership_is_404(desk):
    assert action(desk, Membership(pk=999_999), "unfreeze").status_code == 404


# --- Invoices -------------------------------------------------------------------------


def test_invoice_list_and_detail(desk, active):
    listed = desk.get(f"{BASE}/invoices/", {"member": active.member_id, "status": "paid"})
    assert listed.status_code == 200
    (row,) = listed.json()["results"]
    detail = desk.get(f"{BASE}/invoices/{row['id']}/").json()
    assert detail["lines"][0]["kind"] == "plan"
    assert detail["payments"][0]["source"] == "card"
    assert detail["attempts"][0]["status"] == "succeeded"
    assert detail["total_display"] == "฿1,500.00"


def test_charge_now_records_the_decline_then_succeeds_with_a_good_card(desk):
    invoice = open_invoice()
    declined = desk.post(f"{BASE}/invoices/{invoice.pk}/charge/")
    assert declined.status_code == 200, declined.content
    body = declined.json()
    assert (body["status"], body["decline_code"], body["decline_category"]) == (
        "failed",
        "insufficient_funds",
        "funds",
    )
    payments.payment_method_attach(invoice.member, gateway="sandbox", token="tok_ok.fresh")
    charged = desk.post(f"{BASE}/invoices/{invoice.pk}/charge/")
    assert charged.json()["status"] == AttemptStatus.SUCCEEDED
    invoice.refresh_from_db()
    assert invoice.status == InvoiceStatus.PAID
    refused = desk.post(f"{BASE}/invoices/{invoice.pk}/charge/")
    assert_refused(refused, "payment_not_allowed", "nothing_due")


@pytest.mark.parametrize("amount", [10.5, "10.5", "150000", 150000.0, None, 0, -100, True])
def test_payment_amounts_are_positive_integer_minor_units(desk, amount):
    invoice = open_invoice()
    response = desk.post(
        f"{BASE}/invoices/{invoice.pk}/pay/", {"amount": amount, "source": "cash"}, format="json"
    )
    assert response.status_code == 400, response.content
    assert "amount" in response.json()["fields"]
    assert not Payment.objects.exists()


def test_manual_payment_source_must_be_manual(desk):
    invoice = open_invoice()
    response = desk.post(
        f"{BASE}/invoices/{invoice.pk}/pay/", {"amount": 100, "source": "card"}, format="json"
    )
    assert response.status_code == 400
    assert "source" in response.json()["fields"]


def test_payment_on_a_void_invoice_is_refused(desk, manager):
    invoice = open_invoice()
    voided = manager.post(f"{BASE}/invoices/{invoice.pk}/void/")
    assert voided.status_code == 200, voided.content
    assert voided.json()["status"] == InvoiceStatus.VOID
    response = desk.post(
        f"{BASE}/invoices/{invoice.pk}/pay/", {"amount": 100, "source": "cash"}, format="json"
    )
    assert_refused(response, "payment_not_allowed", "invoice_void")


def test_void_needs_a_manager_and_only_unpaid_invoices(desk, manager, active):
    invoice = open_invoice()
    assert desk.post(f"{BASE}/invoices/{invoice.pk}/void/").status_code == 403
    paid = Invoice.objects.get(membership=active)
    assert_refused(
        manager.post(f"{BASE}/invoices/{paid.pk}/void/"), "invoice_immutable", "cannot_void"
    )


def test_credit_notes_need_a_manager_and_stay_within_the_invoice(desk, manager):
    invoice = open_invoice()
    body = {"amount": 20_000, "reason": "Goodwill"}
    url = f"{BASE}/invoices/{invoice.pk}/credit-notes/"
    assert desk.post(url, body, format="json").status_code == 403
    created = manager.post(url, body, format="json")
    assert created.status_code == 201, created.content
    assert created.json()["number"].startswith("CN-2027-")
    invoice.refresh_from_db()
    assert invoice.amount_due == invoice.total - 20_000
    too_much = manager.post(url, {"amount": invoice.total, "reason": "All"}, format="json")
    assert_refused(too_much, "invoice_immutable", "credit_exceeds_invoice")
    assert CreditNote.objects.count() == 1


def test_invoices_have_no_write_methods(api_as, active):
    owner = api_as(roles.OWNER)
    invoice = Invoice.objects.get(membership=active)
    url = f"{BASE}/invoices/{invoice.pk}/"
    assert owner.patch(url, {"total": 1}, format="json").status_code == 405
    assert owner.delete(url).status_code == 405
    invoice.refresh_from_db()
    assert invoice.total == 150_000


# --- Payment methods ------------------------------------------------------------------


def test_attach_list_set_default_and_detach(desk):
    member = MemberFactory()
    url = f"{BASE}/payment-methods/"
    first = desk.post(
        url, {"member": member.pk, "gateway": "sandbox", "token": "tok_ok.a"}, format="json"
    )
    assert first.status_code == 201, first.content
    assert "token" not in first.json()
    second = desk.post(
        url,
        {
            "member": member.pk,
            "gateway": "sandbox",
            "token": "tok_mastercard_ok.b",
            "make_default": False,
        },
        format="json",
    )
    assert second.json()["brand"] == "mastercard"
    assert second.json()["is_default"] is False
    listed = desk.get(url, {"member": member.pk}).json()["results"]
    assert {m["last4"] for m in listed} == {first.json()["last4"], second.json()["last4"]}

    made_default = desk.post(f"{url}{second.json()['id']}/set-default/")
    assert made_default.status_code == 200
    assert made_default.json()["is_default"] is True
    assert PaymentMethod.objects.get(pk=first.json()["id"]).is_default is False

    detached = desk.post(f"{url}{first.json()['id']}/detach/")
    assert detached.json()["status"] == "detached"
    refused = desk.post(f"{url}{first.json()['id']}/set-default/")
    assert_refused(refused, "payment_not_allowed", "method_detached")


@pytest.mark.parametrize("token", ["tok_nonsense", "pm_card_visa", "tok_decline_not_a_code"])
def test_unknown_token_is_invalid_token(desk, token):
    member = MemberFactory()
    response = desk.post(
        f"{BASE}/payment-methods/",
        {"member": member.pk, "gateway": "sandbox", "token": token},
        format="json",
    )
    body = assert_refused(response, "invalid_token", status=400)
    assert token not in json.dumps(body)
    assert not PaymentMethod.objects.exists()


def test_unknown_gateway_is_a_field_error(desk):
    member = MemberFactory()
    response = desk.post(
        f"{BASE}/payment-methods/",
        {"member": member.pk, "gateway": "paypal", "token": "tok_ok"},
        format="json",
    )
    assert response.status_code == 400
    assert "gateway" in response.json()["fields"]


# --- Webhooks -------------------------------------------------------------------------


def webhook(client, payload, headers=None, gateway="sandbox"):
    return client.generic(
        "POST",
        f"{BASE}/webhooks/{gateway}/",
        payload,
        content_type="application/json",
        headers=headers or {},
    )


@pytest.fixture
def csrf_client():
    # No login, and CSRF checks on: the gateway has neither a session nor a token.
    return APIClient(enforce_csrf_checks=True)


@pytest.fixture
def timed_out():
    """A charge the bank made but whose answer was lost: the attempt is ``unknown``."""
    invoice = open_invoice(token="tok_timeout")
    attempt = payments.invoice_charge(invoice)
    assert attempt.status == AttemptStatus.UNKNOWN
    return attempt


def test_signed_payment_event_settles_the_attempt_once(csrf_client, timed_out):
    gateway = get_gateway("sandbox")
    payload = gateway.event_payload(gateway.payment_event(timed_out.idempotency_key))
    response = webhook(csrf_client, payload, gateway.sign_webhook(payload))
    assert response.status_code == 200, response.content
    assert response.json() == {"result": "attempt_succeeded"}
    timed_out.refresh_from_db()
    assert timed_out.status == AttemptStatus.SUCCEEDED
    assert Invoice.objects.get(pk=timed_out.invoice_id).status == InvoiceStatus.PAID

    replay = webhook(csrf_client, payload, gateway.sign_webhook(payload))
    assert replay.status_code == 200
    assert replay.json() == {"result": "duplicate"}
    assert GatewayWebhookEvent.objects.count() == 1
    assert Payment.objects.filter(invoice_id=timed_out.invoice_id).count() == 1


def test_a_charge_that_waited_for_authentication_and_then_went_through_is_never_lost(
    csrf_client,
):
    invoice = open_invoice(token="tok_requires_action")
    attempt = payments.invoice_charge(invoice, trigger=AttemptTrigger.CUSTOMER)
    assert attempt.status == AttemptStatus.REQUIRES_ACTION  # counted as failed for now
    gateway = get_gateway("sandbox")
    gateway.authenticate(attempt.idempotency_key, approve=True)  # in the bank's own app
    payload = gateway.event_payload(gateway.payment_event(attempt.idempotency_key))
    response = webhook(csrf_client, payload, gateway.sign_webhook(payload))
    assert response.json() == {"result": "attempt_succeeded"}
    attempt.refresh_from_db()
    assert attempt.status == AttemptStatus.SUCCEEDED
    (payment,) = Payment.objects.filter(invoice=invoice)
    assert payment.amount == gateway.total_charged(attempt.gateway_reference) == invoice.total
    assert Invoice.objects.get(pk=invoice.pk).status == InvoiceStatus.PAID
    # A refusal after authentication stays a failure; nothing is recorded twice.
    other = payments.invoice_charge(
        open_invoice(token="tok_requires_action"), trigger=AttemptTrigger.CUSTOMER
    )
    gateway.authenticate(other.idempotency_key, approve=False)
    assert payments.attempt_authenticated(other) == AttemptStatus.FAILED
    assert not Payment.objects.filter(invoice_id=other.invoice_id).exists()
    assert gateway.total_charged(other.gateway_reference) == 0


def test_card_update_event_changes_the_stored_expiry(csrf_client):
    member = MemberFactory()
    method = card(member, "tok_ok")
    gateway = get_gateway("sandbox")
    payload = gateway.event_payload(gateway.simulate_card_update(method.token, 11, 2031))
    response = webhook(csrf_client, payload, gateway.sign_webhook(payload))
    assert response.json() == {"result": "card_updated"}
    method.refresh_from_db()
    assert (method.exp_month, method.exp_year) == (11, 2031)


def test_tampered_payload_is_refused(csrf_client, timed_out):
    gateway = get_gateway("sandbox")
    payload = gateway.event_payload(gateway.payment_event(timed_out.idempotency_key))
    headers = gateway.sign_webhook(payload)
    tampered = payload.replace(b"succeeded", b"failed")
    response = webhook(csrf_client, tampered, headers)
    assert response.status_code == 400
    assert response.json()["code"] == "invalid_signature"
    timed_out.refresh_from_db()
    assert timed_out.status == AttemptStatus.UNKNOWN
    assert not GatewayWebhookEvent.objects.exists()


@pytest.mark.parametrize(
    "payload",
    [
        b"",
        b"\x00\xff\xfe garbage",
        b"{not json",
        b"[]",
        b'{"id": 1}',
        b'{"id": "evt", "type": "payment.succeeded", "charge": "nope"}',
        b'{"id": "evt", "type": "card.updated", "card": {"token": "tok_ok"}}',
        b"9" * 10_000,
    ],
)
@pytest.mark.parametrize("signed", [False, True])
def test_garbage_is_a_400_never_a_500(csrf_client, payload, signed):
    headers = get_gateway("sandbox").sign_webhook(payload) if signed else {}
    response = webhook(csrf_client, payload, headers)
    assert response.status_code == 400, response.content
    assert response.json()["code"] == "invalid_signature"
    assert not GatewayWebhookEvent.objects.exists()


@pytest.mark.parametrize(
    "header",
    ["", "t=abc,v1=00", "v1=00", "t=1", "garbage", "t=1798675200,v1=" + "0" * 64],
)
def test_malformed_signature_headers_are_refused(csrf_client, header):
    response = webhook(csrf_client, b'{"id": "evt"}', {"X-Sandbox-Signature": header})
    assert response.status_code == 400
    assert response.json()["code"] == "invalid_signature"


def test_stale_signature_is_refused(csrf_client, _clock):
    gateway = get_gateway("sandbox")
    payload = gateway.event_payload(gateway.simulate_card_update("tok_ok.z", 1, 2030))
    headers = gateway.sign_webhook(payload)
    _clock.shift(dt.timedelta(minutes=10))
    assert webhook(csrf_client, payload, headers).status_code == 400


def test_oversized_payload_is_refused(csrf_client, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1_000
    response = webhook(csrf_client, b"{" + b" " * 2_000 + b"}")
    assert response.status_code == 413
    assert response.json()["code"] == "payload_too_large"


def test_unknown_gateway_is_404(csrf_client):
    assert webhook(csrf_client, b"{}", gateway="paypal").status_code == 404


def test_webhook_accepts_only_post(csrf_client):
    assert csrf_client.get(f"{BASE}/webhooks/sandbox/").status_code == 405


# --- Schema ---------------------------------------------------------------------------


def test_schema_lists_the_billing_endpoints(client):
    response = client.get("/api/schema/", {"format": "json"})
    assert response.status_code == 200
    paths = json.loads(response.content)["paths"]
    for path in [
        "/api/v1/billing/memberships/{id}/grant-free-time/",
        "/api/v1/billing/invoices/{id}/credit-notes/",
        "/api/v1/billing/payment-methods/{id}/set-default/",
        "/api/v1/billing/webhooks/{gateway}/",
    ]:
        assert path in paths


def test_paying_does_not_touch_invoice_services_directly(desk, monkeypatch):
    """The view is thin: it hands validated input to the service, unchanged."""
    invoice = open_invoice()
    calls = []
    original = invoice_services.payment_record_manual

    def spy(*args, **kwargs):
        calls.append(kwargs)
        return original(*args, **kwargs)

    monkeypatch.setattr(invoice_services, "payment_record_manual", spy)
    desk.post(
        f"{BASE}/invoices/{invoice.pk}/pay/",
        {"amount": 500, "source": "promptpay", "reference": "PP-1"},
        format="json",
    )
    assert calls[0]["amount"] == 500
    assert calls[0]["source"] == "promptpay"
    assert calls[0]["reference"] == "PP-1"
