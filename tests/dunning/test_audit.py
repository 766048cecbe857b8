"""Dunning in the audit trail: every staff action on a case (through the API, as the
desk's screens call the same services) and every policy edit on the admin's forms is a
record naming the staff member, with the case's values before and after."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from dunning.models import DeclineRule, LadderStep, RetryPolicy
from dunning.services import staff
from members import roles
from members.audit_models import ActorKind, AuditRecord
from tests.admin_forms import admin_form
from tests.dunning.conftest import local
from tests.dunning.helpers import case_of, fail_renewal, run_until

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def case_for(failing_member, time_machine):
    def make(token: str):
        membership = failing_member(token)
        fail_renewal(time_machine)
        time_machine.move_to(local(2026, 4, 6, 12), tick=False)
        return case_of(membership)

    return make


# action, card token, path, body, the case's fields before and after
ACTIONS: list[tuple[str, str, str, dict[str, Any], dict[str, Any], dict[str, Any]]] = [
    (
        "dunning.pause",
        "tok_decline_lost_card",
        "pause",
        {"until": "2026-04-20", "reason": "Paid on the 20th"},
        {"status": "open", "paused_until": None, "pause_reason": ""},
        {"status": "paused", "paused_until": "2026-04-20", "pause_reason": "Paid on the 20th"},
    ),
    (
        "dunning.send_to_collections",
        "tok_decline_lost_card",
        "send-to-collections",
        {},
        {"status": "open", "collections_at": None},
        {"status": "collections"},
    ),
    (
        "dunning.write_off",
        "tok_decline_lost_card",
        "write-off",
        {"reason": "Moved abroad"},
        {"status": "open", "close_reason": ""},
        {"status": "written_off", "close_reason": "written_off"},
    ),
    ("dunning.offer_plan", "tok_decline_lost_card", "offer-plan", {"installments": 3}, {}, {}),
    ("dunning.retry_now", "tok_succeed_after_1", "retry-now", {}, {}, {}),
]


@pytest.mark.parametrize(
    ("action", "token", "path", "body", "before", "after"),
    ACTIONS,
    ids=[a[0] for a in ACTIONS],
)
def test_each_staff_action_on_a_case_is_recorded(
    case_for, make_staff, action, token, path, body, before, after
):
    from rest_framework.test import APIClient

    case = case_for(token)
    manager = make_staff(roles.MANAGER, username="manager")
    client = APIClient()
    client.force_authenticate(manager)
    response = client.post(f"/api/v1/dunning/cases/{case.pk}/{path}/", body, format="json")
    assert response.status_code == 200, response.content
    record = AuditRecord.objects.get(action=action)
    assert (record.actor_kind, record.actor_user_id) == (ActorKind.STAFF, manager.pk)
    assert record.subject_type == "dunning.dunningcase" and record.subject_id == str(case.pk)
    assert record.member_id == case.member_id and record.request_id
    assert record.before == before
    for name, value in after.items():
        assert record.after[name] == value
    if action == "dunning.write_off":
        assert record.reason == "Moved abroad"
        assert record.after["invoices"] == [case.invoice.number]
    if action == "dunning.send_to_collections":
        assert record.after["collections_at"]
    if action == "dunning.offer_plan":
        assert record.after["installments"] == 3 and record.after["payment_plan"]
    if action == "dunning.retry_now":
        assert record.after["invoice"] == case.invoice.number and record.after["retry"]


def test_a_waived_late_fee_is_recorded(failing_member, time_machine, make_staff):
    LadderStep.objects.create(position=35, name="Late fee", days_since_failure=5, late_fee=20_000)
    membership = failing_member("tok_decline_lost_card")
    fail_renewal(time_machine)
    run_until(time_machine, local(2026, 4, 12, 9))
    case = case_of(membership)
    fee = case.late_fee_invoice
    manager = make_staff(roles.MANAGER, username="manager")
    staff.waive_fee(case, reason="First time", user=manager)
    record = AuditRecord.objects.get(action="dunning.waive_fee")
    assert record.before == {"late_fee_invoice": fee.number, "status": "open"}
    assert record.after == {"late_fee_invoice": fee.number, "status": "paid"}
    assert record.reason == "First time" and record.actor_user_id == manager.pk


def _first(model: Any) -> Any:
    return model.objects.order_by("pk").first()


# model, the field changed, the typed value
POLICIES = [
    (LadderStep, "days_since_failure", "12"),
    (RetryPolicy, "name", "Gentler"),
    (DeclineRule, "note", "Seen at the front desk"),
]


@pytest.mark.parametrize(
    ("model", "field", "typed"), POLICIES, ids=[p[0]._meta.model_name for p in POLICIES]
)
def test_a_dunning_policy_edited_in_the_admin_is_recorded(make_staff, model, field, typed):
    owner = make_staff(roles.OWNER, username="owner")
    client = Client()
    client.force_login(owner)
    item = _first(model)
    before = getattr(item, field)
    url = reverse(f"admin:dunning_{model._meta.model_name}_change", args=[item.pk])
    form = {**admin_form(client, url), field: typed}
    response = client.post(url, form)
    assert response.status_code == 302, response.content.decode()[:2000]
    record = AuditRecord.objects.get(action=f"{model._meta.model_name}.change")
    assert record.before == {field: before}
    assert record.after == {field: int(typed) if isinstance(before, int) else typed}
    assert record.actor_user_id == owner.pk


def test_the_ladders_suspension_is_recorded_as_the_dunning_job(failing_member, time_machine):
    from billing.models import MembershipStatus
    from dunning.tasks import run_dunning

    membership = failing_member("tok_decline_lost_card")  # no retries: only the ladder acts
    fail_renewal(time_machine)
    run_until(time_machine, local(2026, 4, 14, 23))  # day 9: not yet
    assert not AuditRecord.objects.filter(action="membership.suspended").exists()
    time_machine.move_to(local(2026, 4, 15, 0, 5), tick=False)
    run_dunning.apply()  # the hourly beat job, as Celery runs it
    membership.refresh_from_db()
    assert membership.status == MembershipStatus.SUSPENDED
    record = AuditRecord.objects.get(action="membership.suspended")
    assert (record.actor_kind, record.actor_label) == (ActorKind.JOB, "dunning.tasks.run_dunning")
    assert record.before == {"status": "past_due"} and record.after["status"] == "suspended"
    assert record.member_id == membership.member_id
