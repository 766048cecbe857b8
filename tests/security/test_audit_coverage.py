"""The audit trail covers every change to money and status (issue 16, point 3): one
record per action, with the values before and after and the right actor.

Catalogue items, staff accounts and roles are changed on the admin's own forms (posted
here as a browser posts them); the rest through their services.  Gate overrides,
credentials and device keys: tests/access_control/test_audit.py; dunning actions and
policies: tests/dunning/test_audit.py; money and memberships: test_audit.py."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group, Permission
from django.test import Client
from django.urls import reverse

from billing.gateways import get_gateway
from billing.models import AddOn, Coupon, Invoice, Membership, MembershipStatus, Pack, Plan
from billing.services import refunds
from billing.services.bulk import MembershipLevers
from billing.services.memberships import memberships_settle
from members import audit, roles
from members.audit_models import ActorKind, AuditRecord
from tests.admin_forms import admin_form
from tests.billing.factories import PlanFactory, signed_up
from tests.factories import MemberFactory

pytestmark = pytest.mark.django_db


def records(action: str) -> list[AuditRecord]:
    return list(AuditRecord.objects.filter(action=action).order_by("id"))


@pytest.fixture
def owner(make_staff):
    return make_staff(roles.OWNER, username="owner")


@pytest.fixture
def owner_client(owner) -> Client:
    client = Client()
    client.force_login(owner)
    return client


# --- Catalogue: plans, add-ons, packs, coupons (the admin's forms) --------------------

# model, what the add form needs, a change (field, typed, stored before, stored after)
CATALOGUE: list[tuple[Any, dict[str, str], tuple[str, str, Any, Any]]] = [
    (
        Plan,
        {
            "code": "gold",
            "name": "Gold",
            "price": "1500.00",
            "currency": "THB",
            "interval": "month",
        },
        ("price", "1800.00", 150_000, 180_000),
    ),
    (
        AddOn,
        {"code": "towel", "name": "Towel", "price": "100.00", "currency": "THB"},
        ("price", "120.00", 10_000, 12_000),
    ),
    (
        Pack,
        {
            "code": "ten",
            "name": "Ten visits",
            "kind": "visits",
            "quantity": "10",
            "price": "2000.00",
            "currency": "THB",
        },
        ("quantity", "12", 10, 12),
    ),
    (
        Coupon,
        {
            "code": "new-year",
            "name": "New year",
            "percent_off_bp": "10",
            "duration": "once",
            "valid_from": "2027-01-01",
        },
        ("percent_off_bp", "15", 1_000, 1_500),
    ),
]


@pytest.mark.parametrize(
    ("model", "added", "change"), CATALOGUE, ids=[m._meta.model_name for m, _, _ in CATALOGUE]
)
def test_catalogue_edits_are_recorded_with_every_value_before_and_after(
    owner, owner_client, model, added, change
):
    name = model._meta.model_name
    add_url = reverse(f"admin:billing_{name}_add")
    form = {**admin_form(owner_client, add_url), **added}
    response = owner_client.post(add_url, form)
    assert response.status_code == 302, response.content.decode()[:3000]
    item = model.objects.get(code=added["code"])
    (created,) = records(f"{name}.create")
    assert created.subject_id == str(item.pk) and created.actor_user_id == owner.pk
    assert created.before == {} and created.after["code"] == added["code"]

    field, typed, stored_before, stored_after = change
    assert created.after[field] == stored_before
    change_url = reverse(f"admin:billing_{name}_change", args=[item.pk])
    form = {**admin_form(owner_client, change_url), field: typed}
    response = owner_client.post(change_url, form)
    assert response.status_code == 302, response.content.decode()[:3000]
    (changed,) = records(f"{name}.change")
    assert changed.before == {field: stored_before} and changed.after == {field: stored_after}
    assert changed.actor_kind == ActorKind.STAFF and changed.request_id

    # Saving the form unchanged records nothing.
    owner_client.post(change_url, admin_form(owner_client, change_url))
    assert len(records(f"{name}.change")) == 1

    delete_url = reverse(f"admin:billing_{name}_delete", args=[item.pk])
    assert owner_client.post(delete_url, {"post": "yes"}).status_code == 302
    assert not model.objects.filter(pk=item.pk).exists()
    (deleted,) = records(f"{name}.delete")
    assert deleted.before[field] == stored_after and deleted.before["code"] == added["code"]
    assert deleted.after == {}


def test_a_plans_entitlements_edited_inline_are_in_its_record(owner_client):
    plan = PlanFactory()
    url = reverse("admin:billing_plan_change", args=[plan.pk])
    form = admin_form(owner_client, url)
    form.update(
        {
            "entitlements-TOTAL_FORMS": "1",
            "entitlements-0-zone_code": "pool",
            "entitlements-0-weekdays": "",
            "entitlements-0-start_time": "",
            "entitlements-0-end_time": "",
        }
    )
    response = owner_client.post(url, form)
    assert response.status_code == 302, response.content.decode()[:3000]
    (changed,) = records("plan.change")
    assert changed.before == {"entitlements": []}
    assert [row["zone_code"] for row in changed.after["entitlements"]] == ["pool"]


def test_a_plan_changed_through_the_api_is_recorded(api_as):
    plan = PlanFactory(name="Monthly")
    response = api_as(roles.OWNER).patch(
        f"/api/v1/billing/plans/{plan.pk}/", {"name": "Monthly (2027)"}, format="json"
    )
    assert response.status_code == 200, response.content
    (changed,) = records("plan.change")
    assert changed.before == {"name": "Monthly"} and changed.after == {"name": "Monthly (2027)"}


def test_a_catalogue_bulk_delete_records_each_item(owner_client):
    towels = [
        AddOn.objects.create(code=f"towel-{n}", name="Towel", price=10_000, currency="THB")
        for n in range(2)
    ]
    response = owner_client.post(
        reverse("admin:billing_addon_changelist"),
        {"action": "delete_selected", "_selected_action": [t.pk for t in towels], "post": "yes"},
    )
    assert response.status_code == 302
    assert {r.subject_id for r in records("addon.delete")} == {str(t.pk) for t in towels}


# --- Staff accounts and roles (the admin's user and group pages) ----------------------


def test_staff_accounts_made_given_roles_and_switched_off_are_recorded(owner, owner_client):
    add_url = reverse("admin:auth_user_add")
    form = {
        **admin_form(owner_client, add_url),
        "username": "nok",
        "usable_password": "true",
        "password1": "a-long-Passphrase-42",
        "password2": "a-long-Passphrase-42",
    }
    assert owner_client.post(add_url, form).status_code == 302
    user = get_user_model().objects.get(username="nok")
    (created,) = records("user.create")
    assert created.after["username"] == "nok" and created.after["is_staff"] is False
    assert "password" not in created.after and created.actor_user_id == owner.pk

    desk_group = Group.objects.get(name=roles.MANAGER)
    url = reverse("admin:auth_user_change", args=[user.pk])
    form = admin_form(owner_client, url)
    form.update({"is_staff": "on", "groups": [str(desk_group.pk)]})
    assert owner_client.post(url, form).status_code == 302
    (promoted,) = records("user.change")
    assert promoted.before == {"is_staff": False, "groups": []}
    assert promoted.after == {"is_staff": True, "groups": [roles.MANAGER]}

    form = admin_form(owner_client, url)
    form.pop("is_active", None)  # unticked
    form["is_superuser"] = "on"
    assert owner_client.post(url, form).status_code == 302
    switched = records("user.change")[-1]
    assert switched.before == {"is_active": True, "is_superuser": False}
    assert switched.after == {"is_active": False, "is_superuser": True}


def test_a_roles_permissions_changed_are_recorded(owner_client):
    group = Group.objects.get(name=roles.FRONT_DESK)
    url = reverse("admin:auth_group_change", args=[group.pk])
    form = admin_form(owner_client, url)
    extra = Permission.objects.get(codename="delete_plan")
    before = sorted(group.permissions.values_list("codename", flat=True))
    assert "delete_plan" not in before
    form["permissions"] = [*form["permissions"], str(extra.pk)]
    assert owner_client.post(url, form).status_code == 302
    (changed,) = records("group.change")
    assert changed.before == {"permissions": before}
    assert changed.after == {"permissions": sorted([*before, "delete_plan"])}


# --- Membership events of the set-based paths ----------------------------------------


def test_dunnings_levers_and_settling_feed_the_trail_as_the_job(
    django_capture_on_commit_callbacks,
):
    with django_capture_on_commit_callbacks(execute=True):
        membership = signed_up(plan=PlanFactory())
    Membership.objects.filter(pk=membership.pk).update(status=MembershipStatus.PAST_DUE)
    with audit.as_job("dunning.tasks.run_dunning"):
        levers = MembershipLevers()
        levers.suspend(membership.pk)
        levers.apply()
    (suspended,) = records("membership.suspended")
    assert suspended.before == {"status": "past_due"} and suspended.after["status"] == "suspended"
    assert (suspended.actor_kind, suspended.actor_label) == (
        ActorKind.JOB,
        "dunning.tasks.run_dunning",
    )
    memberships_settle([membership.pk])  # nothing overdue: access back at once
    (restored,) = records("membership.reinstated")
    assert restored.before == {"status": "suspended"} and restored.after["status"] == "active"


# --- Actors: scheduled jobs and gateway webhooks --------------------------------------


def test_a_celery_task_records_as_its_job(time_machine, django_capture_on_commit_callbacks):
    from billing.services.memberships import membership_cancel
    from billing.tasks import daily_billing

    time_machine.move_to(dt.datetime(2027, 1, 5, 3, tzinfo=dt.UTC), tick=False)
    with django_capture_on_commit_callbacks(execute=True):
        membership = signed_up(plan=PlanFactory())
    membership_cancel(membership, at_period_end=True, waive_fees=True, reason="Moving")
    membership.refresh_from_db()
    time_machine.move_to(
        dt.datetime.combine(membership.cancel_at, dt.time(3), tzinfo=dt.UTC) + dt.timedelta(days=1),
        tick=False,
    )
    daily_billing.apply()
    ended = AuditRecord.objects.filter(
        subject_type="billing.membership", subject_id=str(membership.pk), actor_kind="job"
    )
    assert ended.exists(), list(AuditRecord.objects.values_list("action", "actor_kind"))
    assert {record.actor_label for record in ended} == {"billing.tasks.daily_billing"}


def test_a_gateway_webhook_records_as_the_gateway(django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        membership = signed_up(plan=PlanFactory())
    payment = Invoice.objects.get(membership=membership).payments.get()
    sandbox = get_gateway("sandbox")
    sandbox.lose_refund_replies(1)
    refund = refunds.payment_refund(payment, amount=30_000, reason="Webhook")
    payload = sandbox.event_payload(sandbox.refund_event(refund.idempotency_key))
    response = Client().generic(
        "POST",
        "/api/v1/billing/webhooks/sandbox/",
        payload,
        content_type="application/json",
        headers={**sandbox.sign_webhook(payload), "X-Request-ID": "gw-1"},
    )
    assert response.status_code == 200, response.content
    note = records("credit_note.issue")[-1]
    assert (note.actor_kind, note.actor_label) == (ActorKind.WEBHOOK, "sandbox webhook")
    assert note.request_id == "gw-1" and note.after["amount"] == 30_000


# --- Data protection: the record API the export and the erasure call ------------------


def test_exports_and_erasures_are_recorded_without_the_personal_data(owner):
    member = MemberFactory(first_name="Somchai")
    with audit.acting(ActorKind.STAFF, "owner", user=owner):
        audit.privacy_export_recorded(member, files={"profile.json": 1, "invoices.csv": 3})
        audit.privacy_erasure_recorded(
            member,
            step="done",
            before={"status": "approved"},
            after={"status": "done", "anonymised": ["first_name", "email"]},
            request_id=7,
        )
    (export,) = records("member.export")
    assert export.member_id == member.pk and export.actor_user_id == owner.pk
    assert export.after == {"files": {"profile.json": 1, "invoices.csv": 3}}
    (erased,) = records("member.erasure_done")
    assert erased.before == {"status": "approved"}
    assert erased.after == {
        "status": "done",
        "anonymised": ["first_name", "email"],
        "privacy_request": 7,
    }
    assert "Somchai" not in export.content() + erased.content()
