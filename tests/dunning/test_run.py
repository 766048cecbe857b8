"""``run_dunning``: only due cases, each step's message exactly once, however it is run."""

from __future__ import annotations

import datetime as dt
import importlib
import threading

import pytest
from django.apps import apps
from django.core import mail
from django.core.management import CommandError, call_command
from django.db import connection, connections
from django.test.utils import CaptureQueriesContext
from django_celery_beat.models import PeriodicTask

from billing.models import Membership
from config import clock
from dunning.models import DunningMessage, MessageStatus, StepExecution
from dunning.services import run
from dunning.services.run import due_case_ids, dunning_run
from dunning.sms import locmem
from tests.billing.factories import PlanFactory, card, signed_up
from tests.dunning.conftest import local
from tests.dunning.helpers import fail_renewal
from tests.factories import MemberFactory

pytestmark = pytest.mark.django_db(transaction=True)


def many_failing(count: int, time_machine) -> list[Membership]:
    time_machine.move_to(local(2026, 3, 5, 9), tick=False)
    plan = PlanFactory()
    memberships = []
    for _ in range(count):
        member = MemberFactory()
        membership = signed_up(member=member, plan=plan)
        method = card(member, "tok_decline_lost_card")
        Membership.objects.filter(pk=membership.pk).update(payment_method=method)
        memberships.append(membership)
    return memberships


def test_two_runs_at_once_send_each_steps_message_exactly_once(bank, gym, time_machine, settings):
    settings.DUNNING_BATCH_SIZE = 3
    memberships = many_failing(8, time_machine)
    fail_renewal(time_machine, local(2026, 4, 5, 23))  # every notice waits for 08:00
    assert DunningMessage.objects.filter(status=MessageStatus.PENDING).count() == 16
    time_machine.move_to(local(2026, 4, 8, 9), tick=False)  # notices due, and day-3 reminders
    mail.outbox = []
    locmem.outbox.clear()
    barrier = threading.Barrier(3)
    errors: list[BaseException] = []

    def run() -> None:
        try:
            barrier.wait()
            dunning_run()
        except BaseException as exc:
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert errors == []
    # Three runs at once, eight members: one day-0 notice by email and by SMS each (held
    # from the night), one reminder by email each; nothing twice.
    assert StepExecution.objects.count() == 8 * 2
    per_member = {}
    for message in mail.outbox:
        per_member.setdefault(message.to[0], []).append(message.subject.split(" ")[0])
    assert len(per_member) == 8
    assert all(sorted(subjects) == ["Payment", "Reminder:"] for subjects in per_member.values())
    assert len(locmem.outbox) == 8
    assert DunningMessage.objects.filter(status=MessageStatus.SENT).count() == 24
    assert len(memberships) == 8


def test_a_run_touches_only_due_cases(bank, gym, time_machine):
    many_failing(5, time_machine)
    fail_renewal(time_machine)
    time_machine.move_to(local(2026, 4, 6, 12), tick=False)
    assert due_case_ids(local(2026, 4, 6, 12)) == []
    with CaptureQueriesContext(connection) as queries:
        report = dunning_run()
    assert report.due == 0 and report.advanced == 0
    # The due cases, the other due messages, and the sends a dead sender left behind
    # (dunning messages, pay links): a handful of queries, none per case.
    assert len(queries) <= 5


def test_queries_per_batch_do_not_grow_with_the_number_of_cases(bank, gym, time_machine):
    def queries_for(count: int) -> int:
        many_failing(count, time_machine)
        fail_renewal(time_machine)
        time_machine.move_to(local(2026, 4, 12, 7), tick=False)  # day 7, quiet hours: no sends
        with CaptureQueriesContext(connection) as queries:
            report = dunning_run()
        assert report.advanced == count  # the earlier batch is not due again yet
        return len(queries)

    small = queries_for(2)
    # The ladder's effects on memberships (here the day-7 gate warning) are applied for
    # the whole batch through billing's ``MembershipLevers``, like everything else in
    # the pass: the number of queries does not grow with the cases.
    large = queries_for(6)
    assert large == small, (small, large)


def test_the_command_runs_as_of_a_date(bank, gym, time_machine, capsys):
    many_failing(2, time_machine)
    fail_renewal(time_machine)
    time_machine.move_to(local(2026, 4, 5, 12), tick=False)
    call_command("run_dunning", date="2026-04-08", no_progress=True)
    out = capsys.readouterr().out
    assert out.startswith("2026-04-08: 2 cases due, 2 advanced, 2 ladder steps")
    assert StepExecution.objects.filter(step__name="Reminder").count() == 2


def test_batches_advanced_in_worker_threads_keep_the_moved_clock_and_their_connection(
    bank, gym, time_machine, settings, monkeypatch
):
    settings.DUNNING_BATCH_SIZE = 1
    settings.DUNNING_RUN_WORKERS = 2
    many_failing(3, time_machine)
    fail_renewal(time_machine)
    time_machine.move_to(local(2026, 4, 5, 12), tick=False)
    seen: list[tuple[str, dt.date]] = []
    backends: set[tuple[str, int]] = set()
    advance = run.cases_advance

    def watched(case_ids, now=None):
        seen.append((threading.current_thread().name, clock.today()))
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_backend_pid()")
            backends.add((threading.current_thread().name, cursor.fetchone()[0]))
        return advance(case_ids, now)

    monkeypatch.setattr(run, "cases_advance", watched)
    with clock.travel_to_date(dt.date(2026, 4, 8)):
        report = dunning_run()
    assert report.due == report.advanced == 3
    assert sorted(day for _, day in seen) == [dt.date(2026, 4, 8)] * 3
    assert all(name.startswith("dunning-run") for name, _ in seen)
    # A worker keeps its connection from one batch to the next: one backend per thread.
    assert len(backends) == len({name for name, _ in backends}) <= 2
    assert StepExecution.objects.filter(step__name="Reminder").count() == 3


def test_a_failing_batch_stops_the_run_and_the_workers_finish(
    bank, gym, time_machine, settings, monkeypatch
):
    settings.DUNNING_BATCH_SIZE = 1
    settings.DUNNING_RUN_WORKERS = 2
    many_failing(3, time_machine)
    fail_renewal(time_machine)
    time_machine.move_to(local(2026, 4, 8, 12), tick=False)
    started: list[list[int]] = []

    def broken(case_ids, now=None):
        started.append(list(case_ids))
        raise RuntimeError("bank unreachable")

    monkeypatch.setattr(run, "cases_advance", broken)
    with pytest.raises(RuntimeError, match="bank unreachable"):
        dunning_run()
    # Batches not yet started when the error reached the caller are dropped, and every
    # worker thread has ended: nothing is left running behind the failed run.
    assert 1 <= len(started) <= 3
    assert not [t for t in threading.enumerate() if t.name.startswith("dunning-run")]


def test_the_command_refuses_a_bad_date():
    with pytest.raises(CommandError, match="YYYY-MM-DD"):
        call_command("run_dunning", date="08/04/2026")


def test_the_hourly_beat_schedule_exists():
    migration = importlib.import_module("dunning.migrations.0003_beat_schedule")
    migration.Migration.operations[-1].code(apps, None)  # the transactional tests flush it
    task = PeriodicTask.objects.get(name="Hourly dunning run")
    assert task.task == "dunning.tasks.run_dunning"
    assert (task.crontab.minute, task.crontab.hour) == ("0", "*")
    assert str(task.crontab.timezone) == "Asia/Bangkok"
