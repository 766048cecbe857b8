"""The billing run: exactly once per membership and period, however it is run.

These tests commit for real (``transaction=True``) and use several connections at
once, so PostgreSQL's locks are what is being tested.
"""

from __future__ import annotations

import datetime as dt
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from django.conf import settings
from django.core import mail
from django.core.management import CommandError, call_command
from django.db import connection, connections, transaction
from django.db.models import Count

from billing import hooks
from billing.gateways import get_gateway
from billing.models import (
    AttemptStatus,
    Invoice,
    InvoiceStatus,
    Membership,
    MembershipStatus,
    Notification,
    Payment,
    PaymentAttempt,
)
from billing.periods import advance
from billing.services import invoices as inv
from billing.services.payments import attempts_reconcile
from billing.services.run import billing_run
from tests.billing.factories import PlanFactory, card, signed_up
from tests.factories import MemberFactory

pytestmark = pytest.mark.django_db(transaction=True)
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def _fresh_bank():
    get_gateway("sandbox").reset()


def due_memberships(
    count: int, token: str = "tok_ok", plan=None
) -> tuple[list[Membership], dt.date]:
    plan = plan or PlanFactory()
    members = [signed_up(plan=plan, token=token) for _ in range(count)]
    return members, members[0].next_billing_date


def assert_exactly_once(memberships: list[Membership], period_start: dt.date) -> None:
    ids = [m.pk for m in memberships]
    cycle = Invoice.objects.filter(membership_id__in=ids, billing_reason="cycle")
    per_membership = dict(cycle.values_list("membership_id").annotate(n=Count("id")))
    assert per_membership == dict.fromkeys(ids, 1), "one renewal invoice per membership"
    assert set(cycle.values_list("period_start", flat=True)) == {period_start}
    assert cycle.filter(status=InvoiceStatus.PAID).count() == len(ids)
    for invoice in cycle:
        assert Payment.objects.filter(invoice=invoice).count() == 1
        succeeded = invoice.attempts.filter(status=AttemptStatus.SUCCEEDED)
        assert succeeded.count() == 1
        # The bank moved the money for this invoice exactly once.
        ledger = get_gateway("sandbox").ledger_for(succeeded.get().idempotency_key)
        assert sum(entry.amount for entry in ledger) == invoice.total


def test_run_bills_due_memberships_and_advances_the_period():
    memberships, day = due_memberships(3)
    report = billing_run(day, fan_out=False)
    assert (report.due, report.invoiced, report.succeeded) == (3, 3, 3)
    assert_exactly_once(memberships, day)
    for membership in memberships:
        membership.refresh_from_db()
        assert membership.current_period_start == day
        assert membership.next_billing_date == advance(day, "month", 1, membership.anchor_day)
    assert billing_run(day, fan_out=False).due == 0


def test_receipts_are_sent_once_per_payment():
    _, day = due_memberships(2)
    mail.outbox.clear()
    billing_run(day, fan_out=False)
    receipts = Notification.objects.filter(kind="receipt", key__startswith="receipt:")
    cycle_ids = set(Invoice.objects.filter(billing_reason="cycle").values_list("pk", flat=True))
    assert {int(n.key.split(":")[1]) for n in receipts} >= cycle_ids
    assert len([m for m in mail.outbox if "Receipt" in m.subject]) == 2


def test_same_run_twice_changes_nothing_the_second_time():
    memberships, day = due_memberships(4)
    billing_run(day, fan_out=False)
    counts = (Invoice.objects.count(), Payment.objects.count(), PaymentAttempt.objects.count())
    second = billing_run(day, fan_out=False)
    assert second.invoiced == 0
    assert (
        Invoice.objects.count(),
        Payment.objects.count(),
        PaymentAttempt.objects.count(),
    ) == counts
    assert_exactly_once(memberships, day)


def test_two_runs_at_once_bill_each_membership_once(settings):
    settings.BILLING_BATCH_SIZE = 3
    memberships, day = due_memberships(12)
    errors: list[BaseException] = []
    barrier = threading.Barrier(2)

    def run() -> None:
        try:
            barrier.wait()
            billing_run(day, fan_out=False)
        except BaseException as exc:
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert errors == []
    assert_exactly_once(memberships, day)


def test_a_killed_run_reruns_with_nothing_duplicated_and_nothing_missed():
    memberships, day = due_memberships(16)
    db = connection.settings_dict
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings_test",
        "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
        "SANDBOX_GATEWAY_LATENCY_MS": "150",
        "BILLING_BATCH_SIZE": "4",
        "BILLING_CHARGE_CONCURRENCY": "2",
    }
    process = subprocess.Popen(
        [
            sys.executable,
            "manage.py",
            "run_billing",
            "--date",
            day.isoformat(),
            "--in-process",
            "--no-progress",
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if Payment.objects.filter(invoice__billing_reason="cycle").count() >= 2:
            break
        time.sleep(0.05)
    process.send_signal(signal.SIGKILL)
    process.wait(10)
    billed = Invoice.objects.filter(billing_reason="cycle").count()
    assert 0 < billed < 16, "the run was killed midway"
    report = billing_run(day, fan_out=False)
    assert report.invoiced + billed == 16
    assert_exactly_once(memberships, day)


def test_timed_out_charge_is_reconciled_without_a_second_charge():
    member = MemberFactory()
    membership = signed_up(member=member)
    membership.payment_method = card(member, "tok_timeout.m1")
    membership.save()
    day = membership.next_billing_date
    report = billing_run(day, fan_out=False)
    assert report.unknown == 1
    attempt = PaymentAttempt.objects.get(invoice__billing_reason="cycle")
    assert attempt.status == AttemptStatus.UNKNOWN
    membership.refresh_from_db()
    assert membership.status == MembershipStatus.ACTIVE, "an unknown outcome is not a failure"
    # Running again must not charge: the unsettled attempt is reconciled instead.
    billing_run(day, fan_out=False)
    attempts_reconcile()
    attempt.refresh_from_db()
    assert attempt.status == AttemptStatus.SUCCEEDED
    invoice = attempt.invoice
    invoice.refresh_from_db()
    assert invoice.status == InvoiceStatus.PAID
    assert PaymentAttempt.objects.filter(invoice=invoice).count() == 1
    assert get_gateway("sandbox").total_charged("tok_timeout.m1") == invoice.total


def test_failed_charge_makes_the_membership_past_due_and_calls_the_dunning_hook():
    seen = []
    hooks.payment_failed.append(seen.append)
    try:
        member = MemberFactory()
        membership = signed_up(member=member)
        membership.payment_method = card(member, "tok_decline_insufficient_funds.m1")
        membership.save()
        billing_run(membership.next_billing_date, fan_out=False)
    finally:
        hooks.payment_failed.remove(seen.append)
    membership.refresh_from_db()
    assert membership.status == MembershipStatus.PAST_DUE
    (attempt,) = seen
    assert (attempt.decline_code, attempt.network_code, attempt.decline_category) == (
        "insufficient_funds",
        "51",
        "funds",
    )


def test_no_card_on_file_is_a_recorded_failure():
    membership = signed_up(token=None, plan=PlanFactory(trial_days=7))
    billing_run(membership.next_billing_date, fan_out=False)
    attempt = PaymentAttempt.objects.get(invoice__membership=membership)
    assert (attempt.status, attempt.decline_code) == (AttemptStatus.FAILED, "no_payment_method")
    membership.refresh_from_db()
    assert membership.status == MembershipStatus.PAST_DUE


def test_cancel_at_period_end_ends_instead_of_billing():
    from billing.services.memberships import membership_cancel

    membership = signed_up()
    membership_cancel(membership)
    report = billing_run(membership.next_billing_date, fan_out=False)
    membership.refresh_from_db()
    assert (report.ended, report.invoiced) == (1, 0)
    assert membership.status == MembershipStatus.CANCELLED


def test_invoice_numbers_stay_gap_free_under_concurrency():
    member = MemberFactory()
    spec = inv.LineSpec("other", "Towel", 10_000, 700, inclusive=True)
    barrier = threading.Barrier(6)
    errors: list[BaseException] = []

    def issue(worker: int) -> None:
        try:
            barrier.wait()
            for i in range(8):
                try:
                    with transaction.atomic():
                        inv.invoice_create(
                            member=member,
                            currency="THB",
                            reason="manual",
                            specs=[spec],
                            apply_account=False,
                        )
                        if (worker + i) % 3 == 0:
                            raise RuntimeError("rolled back after taking a number")
                except RuntimeError:
                    pass
        except BaseException as exc:
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=issue, args=(w,)) for w in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert errors == []
    numbers = sorted(
        int(n.rsplit("-", 1)[1]) for n in Invoice.objects.values_list("number", flat=True)
    )
    assert numbers == list(range(1, len(numbers) + 1))
    assert len(numbers) == 6 * 8 - sum((w + i) % 3 == 0 for w in range(6) for i in range(8))


def test_dry_run_changes_nothing(capsys):
    _, day = due_memberships(2)
    before = Invoice.objects.count()
    call_command("run_billing", date=day.isoformat(), dry_run=True)
    assert "2 memberships are due" in capsys.readouterr().out
    assert Invoice.objects.count() == before


def test_command_rejects_a_bad_date():
    with pytest.raises(CommandError, match="YYYY-MM-DD"):
        call_command("run_billing", date="31/01/2027")


def test_run_billing_command_bills_with_progress(capsys):
    memberships, day = due_memberships(2)
    call_command("run_billing", date=day.isoformat(), in_process=True, no_progress=True)
    assert "2 invoiced, 0 ended, 2 paid" in capsys.readouterr().out
    assert_exactly_once(memberships, day)


def test_settings_are_postgres():
    assert "postgresql" in settings.DATABASES["default"]["ENGINE"]


def test_a_batch_costs_the_same_queries_however_many_memberships_it_holds(settings, time_machine):
    """The run's hot path is set-based: an N+1 anywhere in it fails this test.

    As in production, receipts are queued for the notification workers, not sent inline.
    """
    from config.celery import app

    # Both runs in the year of the sign-ups: the first invoice of a new year also creates
    # that year's number series, three queries more (from 22 November to 31 December on
    # the real clock, one run or the other would pay for it).
    time_machine.move_to(dt.datetime(2026, 6, 10, 3, 0, tzinfo=dt.UTC))
    settings.BILLING_BATCH_SIZE = 1000
    _, small_day = due_memberships(2)
    large, _ = due_memberships(8)
    for membership in large:
        membership.next_billing_date = small_day + dt.timedelta(days=10)
        membership.save(update_fields=["next_billing_date"])
    app.conf.task_always_eager = False
    try:
        first = billing_run(small_day, fan_out=False)
        second = billing_run(small_day + dt.timedelta(days=10), fan_out=False)
    finally:
        app.conf.task_always_eager = True
        app.control.purge()
    assert (first.invoiced, second.invoiced) == (2, 8)
    assert second.queries == first.queries
