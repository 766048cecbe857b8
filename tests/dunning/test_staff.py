"""Staff tools: the admin queue and its actions, the API, permissions, the desk alert."""

from __future__ import annotations

import datetime as dt

import pytest
from django.test import Client
from django.urls import reverse

from billing.models import InvoiceStatus
from dunning.models import CaseStatus, EventKind, RetryStatus
from members.models import MemberNote
from tests.dunning.conftest import local
from tests.dunning.helpers import case_of, fail_renewal

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def hard_case(failing_member, time_machine):
    membership = failing_member("tok_decline_lost_card")
    fail_renewal(time_machine)
    time_machine.move_to(local(2026, 4, 6, 12), tick=False)
    return case_of(membership)


@pytest.fixture
def funds_case(failing_member, time_machine):
    membership = failing_member("tok_succeed_after_1")
    fail_renewal(time_machine)
    time_machine.move_to(local(2026, 4, 6, 12), tick=False)
    return case_of(membership)


def client_for(make_staff, role: str) -> Client:
    client = Client()
    client.force_login(make_staff(role))
    return client


def action_url(case, name: str) -> str:
    return reverse(f"admin:dunning_dunningcase_{name}", args=[case.pk])


# --- The admin queue ----------------------------------------------------------------------


def test_the_front_desk_sees_the_queue_but_cannot_act(hard_case, make_staff):
    desk = client_for(make_staff, "Front desk")
    listing = desk.get(reverse("admin:dunning_dunningcase_changelist"))
    assert listing.status_code == 200
    text = listing.content.decode()
    assert hard_case.invoice.number in text
    assert "฿1,500.00" in text  # amount at risk
    assert "Hard: never retry this card" in text and "lost_card" in text  # last decline
    assert "Ladder step: Reminder" in text  # next action
    detail = desk.get(reverse("admin:dunning_dunningcase_change", args=[hard_case.pk]))
    assert detail.status_code == 200
    assert action_url(hard_case, "pause") not in detail.content.decode()
    assert desk.post(action_url(hard_case, "pause"), {"until": "2026-04-20"}).status_code == 403


def test_the_queue_searches_by_member_and_filters_by_stage(hard_case, make_staff):
    manager = client_for(make_staff, "Manager")
    url = reverse("admin:dunning_dunningcase_changelist")
    found = manager.get(url, {"q": hard_case.member.last_name}).content.decode()
    assert hard_case.invoice.number in found
    none = manager.get(url, {"q": "nobody-by-this-name"}).content.decode()
    assert hard_case.invoice.number not in none
    staged = manager.get(url, {"stage": "Failed-payment notice"}).content.decode()
    assert hard_case.invoice.number in staged


def test_a_manager_pauses_a_case_for_a_promise(hard_case, make_staff):
    manager = client_for(make_staff, "Manager")
    detail = manager.get(reverse("admin:dunning_dunningcase_change", args=[hard_case.pk]))
    assert action_url(hard_case, "pause") in detail.content.decode()
    page = manager.get(action_url(hard_case, "pause"))
    assert page.status_code == 200
    response = manager.post(
        action_url(hard_case, "pause"), {"until": "2026-04-20", "reason": "Payday"}
    )
    assert response.status_code == 302
    hard_case.refresh_from_db()
    assert (hard_case.status, hard_case.paused_until) == (CaseStatus.PAUSED, dt.date(2026, 4, 20))
    event = hard_case.events.get(kind=EventKind.PAUSED)
    assert event.actor is not None and event.detail["reason"] == "Payday"


def test_a_refused_action_is_a_message_not_an_error_page(hard_case, make_staff):
    manager = client_for(make_staff, "Manager")
    response = manager.post(action_url(hard_case, "retry_now"), follow=True)
    assert response.status_code == 200
    assert "awaiting new payment method" in response.content.decode()
    assert hard_case.retries.get().status == RetryStatus.SKIPPED


def test_a_manager_retries_now_and_recovers(funds_case, make_staff):
    manager = client_for(make_staff, "Manager")
    response = manager.post(action_url(funds_case, "retry_now"))
    assert response.status_code == 302
    funds_case.refresh_from_db()
    assert funds_case.status == CaseStatus.RECOVERED
    assert funds_case.recovered_route == "staff"


def test_a_manager_offers_a_plan_and_writes_off(hard_case, make_staff):
    manager = client_for(make_staff, "Manager")
    response = manager.post(
        action_url(hard_case, "offer_plan"),
        {"installments": "2", "interval_days": "14", "first_due_on": "2026-04-10"},
    )
    assert response.status_code == 302
    hard_case.refresh_from_db()
    assert hard_case.status == CaseStatus.PLAN
    response = manager.post(action_url(hard_case, "write_off"), {"reason": "Moved abroad"})
    assert response.status_code == 302
    hard_case.refresh_from_db()
    assert hard_case.status == CaseStatus.WRITTEN_OFF
    plan_invoices = [i.invoice for i in hard_case.payment_plan.installments.all()]
    assert {i.status for i in plan_invoices} == {InvoiceStatus.UNCOLLECTIBLE}


def test_a_manager_sends_a_case_to_collections_in_bulk(hard_case, make_staff):
    manager = client_for(make_staff, "Manager")
    response = manager.post(
        reverse("admin:dunning_dunningcase_changelist"),
        {"action": "send_selected_to_collections", "_selected_action": [hard_case.pk]},
    )
    assert response.status_code == 302
    hard_case.refresh_from_db()
    assert hard_case.status == CaseStatus.COLLECTIONS


def test_the_policy_is_editable_in_the_admin(make_staff):
    owner = client_for(make_staff, "Owner")
    for name in ("declinerule", "ladderstep", "retrypolicy", "dunningmessage", "dunningevent"):
        assert owner.get(reverse(f"admin:dunning_{name}_changelist")).status_code == 200


# --- The front-desk alert -----------------------------------------------------------------


def test_an_open_case_puts_an_alert_on_the_member_and_closing_it_resolves_it(hard_case):
    from dunning.services import staff

    alert = MemberNote.objects.get(pk=hard_case.alert_note_id)
    assert alert.is_alert and alert.resolved_at is None
    assert hard_case.invoice.number in alert.body and "฿1,500.00" in alert.body
    staff.write_off(hard_case, reason="Gone")
    alert.refresh_from_db()
    assert alert.resolved_at is not None


def test_the_member_page_links_to_the_members_dunning_timeline(
    failing_member, make_staff, time_machine
):
    from dunning.services import staff

    other_membership = failing_member("tok_decline_expired_card")
    membership = failing_member("tok_decline_lost_card")
    fail_renewal(time_machine)
    time_machine.move_to(local(2026, 4, 6, 12), tick=False)
    hard_case, other = case_of(membership), case_of(other_membership)
    staff.write_off(hard_case, reason="Moved abroad")
    desk = client_for(make_staff, "Front desk")
    page = desk.get(reverse("admin:members_member_change", args=[hard_case.member_id]))
    events_url = reverse("admin:dunning_dunningevent_changelist")
    timeline = f"{events_url}?member__id__exact={hard_case.member_id}"
    assert timeline in page.content.decode()
    listed = desk.get(timeline)
    assert listed.status_code == 200
    events = list(listed.context["cl"].result_list)
    assert other.events.exists()  # the other member has a timeline too, not shown here
    assert {event.member_id for event in events} == {hard_case.member_id} != {other.member_id}
    kinds = {event.kind for event in events}
    # The failure, the message sent about it, and the staff action: the evidence.
    assert {EventKind.PAYMENT_FAILED, EventKind.MESSAGE_SENT, EventKind.WRITTEN_OFF} <= kinds
    assert "Moved abroad" in listed.content.decode()  # the details column


# --- The API ------------------------------------------------------------------------------


def test_the_api_lists_and_shows_cases_to_the_front_desk(hard_case, api_as):
    desk = api_as("Front desk")
    listing = desk.get("/api/v1/dunning/cases/", {"status": "open"})
    assert listing.status_code == 200
    (row,) = listing.json()["results"]
    assert row["invoice_number"] == hard_case.invoice.number
    assert row["amount_due"] == 150_000 and row["amount_due_display"] == "฿1,500.00"
    assert row["last_decline_category"] == "hard"
    found = desk.get("/api/v1/dunning/cases/", {"q": hard_case.member.email}).json()
    assert found["count"] == 1
    nul = desk.get("/api/v1/dunning/cases/", {"q": f"{hard_case.member.email}\x00"})
    assert (nul.status_code, nul.json()["code"]) == (400, "invalid")  # a NUL: 400, not a 500
    detail = desk.get(f"/api/v1/dunning/cases/{hard_case.pk}/").json()
    assert {e["kind"] for e in detail["events"]} >= {"case_opened", "payment_failed"}
    assert {m["template"] for m in detail["messages"]} == {"failed_notice"}
    refused = desk.post(f"/api/v1/dunning/cases/{hard_case.pk}/pause/", {"until": "2026-04-20"})
    assert refused.status_code == 403


def test_the_api_actions_for_a_manager(hard_case, api_as):
    manager = api_as("Manager")
    base = f"/api/v1/dunning/cases/{hard_case.pk}"
    refused = manager.post(f"{base}/retry-now/")
    assert refused.status_code == 409
    assert refused.json()["reason"] == "awaiting_new_payment_method"
    bad = manager.post(f"{base}/pause/", {"until": "2027-01-01"}, format="json")
    assert (bad.status_code, bad.json()["reason"]) == (409, "promise_date_out_of_range")
    invalid = manager.post(f"{base}/offer-plan/", {"installments": 9}, format="json")
    assert invalid.status_code == 400 and "installments" in invalid.json()["fields"]
    planned = manager.post(f"{base}/offer-plan/", {"installments": 3}, format="json")
    assert planned.status_code == 200
    assert planned.json()["payment_plan"]["installments_count"] == 3
    assert planned.json()["status"] == "plan"
    fee = manager.post(f"{base}/waive-fee/", {}, format="json")
    assert (fee.status_code, fee.json()["reason"]) == (409, "no_late_fee")
    written = manager.post(f"{base}/write-off/", {"reason": "Gone"}, format="json")
    assert written.status_code == 200 and written.json()["status"] == "written_off"


def test_the_api_sends_to_collections(hard_case, api_as):
    response = api_as("Manager").post(f"/api/v1/dunning/cases/{hard_case.pk}/send-to-collections/")
    assert response.status_code == 200 and response.json()["status"] == "collections"
