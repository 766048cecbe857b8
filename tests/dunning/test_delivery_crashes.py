"""Messages are sent at most once, and none is lost, whatever happens during delivery.

The provider here is the sandbox outbox (``config.outbox``): it keeps what it received
in Redis, outside the process that sent it, and it can be asked about a reference, so a
test can count how many times each message really reached it.
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
from django.db import connection, connections

from billing.models import Invoice, InvoiceStatus, PaymentSource
from billing.services.invoices import payment_record_manual
from config import outbox
from dunning.models import (
    CaseStatus,
    DunningCase,
    DunningMessage,
    EventKind,
    MessageDecision,
    MessageStatus,
)
from dunning.services.messages import message_decide, message_reference, messages_deliver
from dunning.timeline import timeline_entries
from tests.dunning.conftest import local
from tests.dunning.helpers import fail_renewal

pytestmark = pytest.mark.django_db(transaction=True)
ROOT = Path(__file__).resolve().parents[2]
# 09:00 in Bangkok on the day after the failures: the notices held overnight are due.
MORNING = dt.datetime(2026, 4, 6, 2, 0, tzinfo=dt.UTC)


@pytest.fixture
def sandbox_provider(settings):
    settings.EMAIL_BACKEND = "config.outbox.SandboxEmailBackend"
    settings.DUNNING_SMS_BACKEND = "dunning.sms.sandbox.SandboxSmsBackend"
    outbox.reset()
    yield
    outbox.reset()


def failed_overnight(failing_member, time_machine, count: int) -> list[DunningMessage]:
    """``count`` renewals failing at 22:00: their notices (email and SMS) wait for 08:00."""
    for _ in range(count):
        failing_member("tok_decline_insufficient_funds")
    fail_renewal(time_machine, local(2026, 4, 5, 22))
    pending = list(DunningMessage.objects.filter(status=MessageStatus.PENDING).order_by("pk"))
    assert len(pending) == 2 * count
    return pending


def received_counts(messages: list[DunningMessage]) -> dict[int, int]:
    return {m.pk: outbox.received(message_reference(m)) for m in messages}


WORKER = """
import datetime as dt, os, sys
import django
django.setup()
from django.conf import settings
settings.EMAIL_BACKEND = "config.outbox.SandboxEmailBackend"
settings.DUNNING_SMS_BACKEND = "dunning.sms.sandbox.SandboxSmsBackend"
settings.SANDBOX_OUTBOX_LATENCY_MS = int(sys.argv[1])
settings.DUNNING_SEND_DECISION_DELAY_SECONDS = int(sys.argv[2])
from config import clock
from dunning.services.messages import messages_deliver
minutes_later = int(sys.argv[3])
with clock.travel_to(dt.datetime(2026, 4, 6, 2, minutes_later, tzinfo=dt.UTC)):
    print(messages_deliver())
"""


def worker(latency_ms: int, decision_delay_s: int, at_minute: int) -> subprocess.Popen[bytes]:
    """A delivery worker in a process of its own, on the test database and Redis, its
    clock at ``at_minute`` past 09:00 Bangkok time on the morning after the failures."""
    db = connection.settings_dict
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings_test",
        "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
    }
    return subprocess.Popen(
        [sys.executable, "-c", WORKER, str(latency_ms), str(decision_delay_s), str(at_minute)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


def test_a_worker_killed_mid_delivery_then_restarted_sends_no_message_twice(
    failing_member, time_machine, sandbox_provider
):
    messages = failed_overnight(failing_member, time_machine, 20)
    process = worker(latency_ms=60, decision_delay_s=600, at_minute=0)
    deadline = time.monotonic() + 60
    while sum(received_counts(messages).values()) < 8:
        assert time.monotonic() < deadline, process.stderr.read() if process.stderr else ""
        if process.poll() is not None:
            _out, err = process.communicate()
            pytest.fail(f"the worker finished before it could be killed: {err.decode()[-2000:]}")
        time.sleep(0.02)
    process.send_signal(signal.SIGKILL)
    process.wait(10)
    before_restart = received_counts(messages)
    assert 0 < sum(before_restart.values()) < len(messages), "killed midway"
    # What the dead worker claimed is neither resent nor lost: it waits for the decision.
    assert not DunningMessage.objects.filter(status=MessageStatus.PENDING).exists()

    # A worker restarted once the decision delay has passed asks the provider about each.
    restarted = worker(latency_ms=0, decision_delay_s=600, at_minute=15)
    _out, err = restarted.communicate(timeout=120)
    assert restarted.returncode == 0, err.decode()

    after = received_counts(messages)
    assert set(after.values()) == {1}, "every message reached the provider exactly once"
    statuses = dict(DunningMessage.objects.values_list("pk", "status"))
    assert set(statuses.values()) == {MessageStatus.SENT}
    decisions = dict(DunningMessage.objects.values_list("pk", "decision"))
    for pk, count in before_restart.items():
        expected = (
            MessageDecision.PROVIDER_HAS_IT if count else MessageDecision.PROVIDER_NEVER_GOT_IT
        )
        assert decisions[pk] == expected
    case = DunningCase.objects.first()
    assert case.events.filter(kind=EventKind.MESSAGE_DECIDED).exists()


def test_payments_during_delivery_cause_no_deadlock_no_resend_and_no_open_case(
    failing_member, time_machine, sandbox_provider, settings
):
    settings.SANDBOX_OUTBOX_LATENCY_MS = 40
    messages = failed_overnight(failing_member, time_machine, 20)
    time_machine.move_to(MORNING, tick=True)
    errors: list[BaseException] = []

    def deliver() -> None:
        try:
            messages_deliver()
        except BaseException as exc:  # reported in the test's thread
            errors.append(exc)
        finally:
            connections.close_all()

    thread = threading.Thread(target=deliver)
    thread.start()
    deadline = time.monotonic() + 60
    while sum(received_counts(messages).values()) < 4:
        assert time.monotonic() < deadline
        time.sleep(0.01)
    # Ten members pay cash at the desk while the notices are going out.
    paid = list(
        Invoice.objects.filter(status=InvoiceStatus.OPEN, billing_reason="cycle").order_by("pk")[
            :10
        ]
    )
    for invoice in paid:
        payment_record_manual(invoice, amount=invoice.amount_due, source=PaymentSource.CASH)
    thread.join(120)
    assert not thread.is_alive()
    assert errors == []
    messages_deliver()  # whatever is due now (the thank-yous), as the next task would

    assert set(received_counts(messages).values()) == {1}, "no notice went out twice"
    cases = DunningCase.objects.filter(invoice__in=paid)
    assert set(cases.values_list("status", flat=True)) == {CaseStatus.RECOVERED}
    thanks = DunningMessage.objects.filter(case__in=cases, template="thanks")
    assert thanks.filter(channel="email").count() == 10
    assert all(outbox.received(message_reference(m)) == 1 for m in thanks)
    assert not DunningMessage.objects.filter(status=MessageStatus.SENDING).exists()


def test_an_interrupted_send_the_provider_cannot_confirm_waits_for_staff(
    failing_member, time_machine, settings
):
    """Django's own outbox cannot be asked: the message is marked for a decision, the
    case's timeline says so, and staff resend it (once) or treat it as sent."""
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    settings.DUNNING_SEND_DECISION_DELAY_SECONDS = 600
    messages = failed_overnight(failing_member, time_machine, 1)
    email = next(m for m in messages if m.channel == "email")
    # A sender claimed it at 09:00 and died before recording anything.
    DunningMessage.objects.filter(pk=email.pk).update(
        status=MessageStatus.SENDING, claimed_at=MORNING
    )
    time_machine.move_to(MORNING + dt.timedelta(minutes=5), tick=False)
    messages_deliver()
    email.refresh_from_db()
    assert email.status == MessageStatus.SENDING, "not decided before the safe delay"

    time_machine.move_to(MORNING + dt.timedelta(minutes=11), tick=False)
    messages_deliver()
    email.refresh_from_db()
    assert email.status == MessageStatus.UNSURE
    lines = " ".join(entry.text for entry in timeline_entries(email.case))
    assert "was interrupted" in lines and "resend it or treat it as sent" in lines

    message_decide(email.pk, resend=False)
    email.refresh_from_db()
    assert (email.status, email.decision) == (MessageStatus.SENT, MessageDecision.TREAT_AS_SENT)
    lines = " ".join(entry.text for entry in timeline_entries(email.case))
    assert "Treated as sent, as staff decided" in lines


def test_a_delivery_task_sends_two_chunks_at_once_and_each_message_once(
    failing_member, time_machine, sandbox_provider, settings, monkeypatch
):
    """``DUNNING_DELIVERY_WORKERS`` chunks go out at once, each on its own thread and
    connection; every message still reaches the provider once, with one event."""
    from dunning.services import messages as delivery

    settings.DUNNING_DELIVERY_WORKERS = 2
    settings.SANDBOX_OUTBOX_LATENCY_MS = 40  # a chunk takes long enough for both threads
    monkeypatch.setattr(delivery, "DELIVERY_CHUNK", 3)
    messages = failed_overnight(failing_member, time_machine, 6)  # 12 messages, 4 chunks
    threads: set[str] = set()
    chunk = delivery._deliver_chunk

    def watched(ids, now, gym):  # the real chunk, noting which thread sent it
        threads.add(threading.current_thread().name)
        return chunk(ids, now, gym)

    monkeypatch.setattr(delivery, "_deliver_chunk", watched)
    time_machine.move_to(MORNING, tick=True)

    assert messages_deliver() == 12
    assert len(threads) == 2
    assert all(name.startswith("dunning-delivery") for name in threads)
    assert set(received_counts(messages).values()) == {1}, "each message reached it once"
    sent = DunningMessage.objects.filter(pk__in=[m.pk for m in messages])
    assert set(sent.values_list("status", flat=True)) == {MessageStatus.SENT}
    for message in messages:
        assert message.case.events.filter(kind=EventKind.MESSAGE_SENT, message=message).count() == 1
    # Nothing is pending any more: no case waits for a message.
    cases = DunningCase.objects.filter(pk__in={m.case_id for m in messages})
    assert not cases.filter(next_action="message").exists()
