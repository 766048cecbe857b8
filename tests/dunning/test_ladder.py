"""The overdue ladder is data: steps fire on their days, once, with their effects."""

from __future__ import annotations

import pytest
from django.core import mail
from django.core.exceptions import ValidationError

from billing.models import InvoiceStatus, MembershipStatus
from dunning.models import (
    CaseStatus,
    DunningCase,
    DunningMessage,
    LadderStep,
    MessageStatus,
    StepExecution,
)
from dunning.services.ladder import step_applies
from tests.billing.factories import PlanFactory
from tests.dunning.conftest import local
from tests.dunning.helpers import case_of, fail_renewal, run_at, run_until

pytestmark = pytest.mark.django_db(transaction=True)


def fired(case) -> list[str]:
    return list(
        StepExecution.objects.filter(case=case)
        .order_by("step__position")
        .values_list("step__name", flat=True)
    )


def test_the_default_ladder_fires_each_step_on_its_day(failing_member, time_machine):
    membership = failing_member("tok_decline_lost_card")  # no retries: only the ladder acts
    fail_renewal(time_machine)
    case = case_of(membership)
    assert fired(case) == ["Failed-payment notice"]

    run_at(time_machine, local(2026, 4, 7, 23))  # day 2: nothing new
    assert fired(case) == ["Failed-payment notice"]
    run_at(time_machine, local(2026, 4, 8, 9))  # day 3
    assert fired(case)[-1] == "Reminder"

    run_at(time_machine, local(2026, 4, 12, 9))  # day 7: warned at the gate, still admitted
    membership.refresh_from_db()
    assert (membership.status, membership.access_warning) == (MembershipStatus.PAST_DUE, True)

    run_at(time_machine, local(2026, 4, 14, 23, 59))  # day 9: not yet
    membership.refresh_from_db()
    assert membership.status == MembershipStatus.PAST_DUE
    run_at(time_machine, local(2026, 4, 15, 0, 0))  # day 10: suspended
    membership.refresh_from_db()
    assert membership.status == MembershipStatus.SUSPENDED
    assert membership.bookings_blocked is True
    assert membership.member.status == "suspended"

    run_at(time_machine, local(2026, 4, 19, 9))  # day 14: final notice
    assert fired(case)[-1] == "Final notice"

    run_at(time_machine, local(2026, 5, 5, 9))  # day 30: cancelled, uncollectible, collections
    membership.refresh_from_db()
    case.refresh_from_db()
    case.invoice.refresh_from_db()
    assert membership.status == MembershipStatus.CANCELLED
    assert case.invoice.status == InvoiceStatus.UNCOLLECTIBLE
    assert case.status == CaseStatus.COLLECTIONS and case.collections_at is not None
    assert fired(case) == [
        "Failed-payment notice",
        "Reminder",
        "Access warning",
        "Access suspended",
        "Final notice",
        "Friendly reminder",
        "Cancelled and sent to collections",
    ]
    assert case.stage == "Cancelled and sent to collections"


def test_each_step_sends_its_messages_once_however_often_the_run_runs(failing_member, time_machine):
    membership = failing_member("tok_decline_lost_card")
    fail_renewal(time_machine)
    for hour in (9, 10, 11, 12):
        run_at(time_machine, local(2026, 4, 8, hour))
    case = case_of(membership)
    reminders = DunningMessage.objects.filter(case=case, template="reminder")
    assert reminders.count() == 1
    assert reminders.get().status == MessageStatus.SENT
    assert len([m for m in mail.outbox if m.subject.startswith("Reminder")]) == 1


def test_a_late_run_fires_every_missed_step_but_sends_only_the_latest_message(
    failing_member, time_machine
):
    membership = failing_member("tok_decline_lost_card")
    fail_renewal(time_machine)
    mail.outbox = []
    run_at(time_machine, local(2026, 4, 12, 9))  # the run was down from day 1 to day 7
    case = case_of(membership)
    assert fired(case)[-2:] == ["Reminder", "Access warning"]
    skipped = DunningMessage.objects.get(case=case, template="reminder")
    assert (skipped.status, skipped.skip_reason) == (MessageStatus.SKIPPED, "superseded")
    assert [m.subject.split(":")[0] for m in mail.outbox] == ["Action needed"]
    membership.refresh_from_db()
    assert membership.access_warning is True


def test_a_plan_can_have_its_own_ladder(failing_member, time_machine):
    plan = PlanFactory()
    LadderStep.objects.create(
        plan=plan,
        position=1,
        name="Studio notice",
        days_since_failure=0,
        template="failed_notice",
        send_email=True,
    )
    LadderStep.objects.create(
        plan=plan, position=2, name="Studio suspension", days_since_failure=2, suspend_access=True
    )
    membership = failing_member("tok_decline_lost_card", plan=plan)
    fail_renewal(time_machine)
    run_until(time_machine, local(2026, 4, 8, 9))
    case = case_of(membership)
    assert fired(case) == ["Studio notice", "Studio suspension"]
    membership.refresh_from_db()
    assert membership.status == MembershipStatus.SUSPENDED


def test_step_conditions_amount_and_category(failing_member, time_machine):
    LadderStep.objects.create(
        position=35,
        name="Large debts only",
        days_since_failure=5,
        min_amount_owed=1_000_000,
        block_account_charges=True,
    )
    LadderStep.objects.create(
        position=36,
        name="Funds only",
        days_since_failure=5,
        decline_categories=["funds"],
        block_account_charges=True,
    )
    membership = failing_member("tok_decline_lost_card")
    fail_renewal(time_machine)
    run_until(time_machine, local(2026, 4, 11, 9))
    case = case_of(membership)
    assert "Large debts only" not in fired(case)  # owes ฿1,500, not ฿10,000
    assert "Funds only" not in fired(case)  # the decline was hard
    membership.refresh_from_db()
    assert membership.account_charges_blocked is False


def test_step_conditions_that_hold_fire_and_apply_their_effects(failing_member, time_machine):
    LadderStep.objects.create(
        position=35,
        name="Owes at least 1,500",
        days_since_failure=5,
        min_amount_owed=150_000,  # exactly what is owed: "at or above" holds
        decline_categories=["hard"],
        block_account_charges=True,
    )
    LadderStep.objects.create(
        position=36, name="Two unpaid invoices", days_since_failure=5, min_unpaid_invoices=2
    )
    membership = failing_member("tok_decline_lost_card")
    fail_renewal(time_machine)
    run_until(time_machine, local(2026, 4, 11, 9))
    case = case_of(membership)
    assert "Owes at least 1,500" in fired(case)
    assert "Two unpaid invoices" not in fired(case)  # one invoice is unpaid
    membership.refresh_from_db()
    assert membership.account_charges_blocked is True


@pytest.mark.parametrize(
    ("conditions", "day", "overdue", "category", "applies"),
    [
        ({"days_since_failure": 7}, 7, (1, 100), "funds", True),
        ({"days_since_failure": 7}, 6, (1, 100), "funds", False),
        ({"min_amount_owed": 100}, 9, (1, 100), "funds", True),
        ({"min_amount_owed": 101}, 9, (1, 100), "funds", False),
        ({"min_unpaid_invoices": 2}, 9, (2, 100), "funds", True),
        ({"min_unpaid_invoices": 2}, 9, (1, 100), "funds", False),
        ({"decline_categories": ["funds", "generic"]}, 9, (1, 100), "generic", True),
        ({"decline_categories": ["funds", "generic"]}, 9, (1, 100), "hard", False),
        ({"decline_categories": []}, 9, (1, 100), "hard", True),
        ({"min_amount_owed": 100, "decline_categories": ["hard"]}, 9, (1, 99), "hard", False),
    ],
)
def test_a_step_applies_only_when_every_condition_holds(
    conditions, day, overdue, category, applies
):
    step = LadderStep(name="Step", position=1, **{"days_since_failure": 0, **conditions})
    case = DunningCase(last_decline_category=category)
    assert step_applies(step, case, day=day, overdue=overdue) is applies


def test_a_ladder_step_must_name_an_existing_template():
    step = LadderStep(
        position=99, name="Bad", days_since_failure=1, send_email=True, template="nope"
    )
    with pytest.raises(Exception, match="does not exist"):
        step.full_clean()
    step.template = "reminder"
    for categories in (["funds", "weather"], [["funds"]], [{"funds": 1}], [None], "funds"):
        step.decline_categories = categories
        with pytest.raises(ValidationError, match="categories"):
            step.full_clean()
