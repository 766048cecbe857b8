"""A class reminder is sent at most once, and none is lost, when a worker is killed.

The provider is the sandbox outbox (``config.outbox``): it keeps what it received in
Redis, outside the process that sent it, and it can be asked about a reference.
"""

from __future__ import annotations

import datetime as dt
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.db import connection

from classes.models import ClassMessage, MessageDecision, MessageStatus
from classes.services import booking as svc
from classes.services import outbox as class_outbox
from config import clock, outbox

pytestmark = pytest.mark.django_db(transaction=True)
ROOT = Path(__file__).resolve().parents[2]

WORKER = """
import datetime as dt, sys
import django
django.setup()
from django.conf import settings
settings.EMAIL_BACKEND = "config.outbox.SandboxEmailBackend"
settings.SMS_BACKEND = "billing.messaging.sms.sandbox.SandboxSmsBackend"
settings.SANDBOX_OUTBOX_LATENCY_MS = int(sys.argv[1])
settings.MESSAGE_SEND_DECISION_DELAY_SECONDS = 600
from config import clock
from classes.services.outbox import deliver_due
with clock.travel_to(dt.datetime.fromtimestamp(int(sys.argv[2]), tz=dt.UTC)):
    print(deliver_due())
"""


@pytest.fixture
def sandbox_provider(settings):
    settings.EMAIL_BACKEND = "config.outbox.SandboxEmailBackend"
    settings.SMS_BACKEND = "billing.messaging.sms.sandbox.SandboxSmsBackend"
    outbox.reset()
    yield
    outbox.reset()


def worker(latency_ms: int, at: dt.datetime) -> subprocess.Popen[bytes]:
    """A delivery worker in a process of its own, on the test database and Redis."""
    db = connection.settings_dict
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings_test",
        "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
    }
    return subprocess.Popen(
        [sys.executable, "-c", WORKER, str(latency_ms), str(int(at.timestamp()))],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


def received(messages: list[ClassMessage]) -> dict[int, int]:
    return {m.pk: outbox.received(class_outbox.OUTBOX.reference(m)) for m in messages}


def test_a_worker_killed_while_sending_reminders_sends_none_twice(
    make_member, make_session, sandbox_provider
):
    session = make_session(hours=5, capacity=20)
    due = clock.now() + dt.timedelta(hours=1)
    for _ in range(12):
        booking = svc.book(make_member(), session.pk)
        class_outbox.plan(booking, "reminder", at=due)
    messages = list(ClassMessage.objects.filter(status=MessageStatus.PENDING).order_by("pk"))
    assert len(messages) == 24

    process = worker(latency_ms=60, at=due)
    deadline = time.monotonic() + 60
    while sum(received(messages).values()) < 6:
        assert time.monotonic() < deadline, process.stderr.read() if process.stderr else ""
        if process.poll() is not None:
            _out, err = process.communicate()
            pytest.fail(f"the worker finished before it could be killed: {err.decode()[-2000:]}")
        time.sleep(0.02)
    process.send_signal(signal.SIGKILL)
    process.wait(10)
    before = received(messages)
    assert 0 < sum(before.values()) < len(messages), "killed midway"
    # The dead worker's claims are neither sent again at once nor lost.
    rerun = worker(latency_ms=0, at=due + dt.timedelta(minutes=1))
    _out, err = rerun.communicate(timeout=120)
    assert rerun.returncode == 0, err.decode()
    assert all(count <= 1 for count in received(messages).values()), "nothing sent twice"
    assert ClassMessage.objects.filter(status=MessageStatus.SENDING).exists()

    # After the decision delay, the provider is asked about each interrupted claim.
    restarted = worker(latency_ms=0, at=due + dt.timedelta(minutes=15))
    _out, err = restarted.communicate(timeout=120)
    assert restarted.returncode == 0, err.decode()
    assert set(received(messages).values()) == {1}, "every reminder reached the provider once"
    rows = {m.pk: m for m in ClassMessage.objects.all()}
    assert {m.status for m in rows.values()} == {MessageStatus.SENT}
    for pk, count in before.items():
        if rows[pk].decision:
            expected = (
                MessageDecision.PROVIDER_HAS_IT if count else MessageDecision.PROVIDER_NEVER_GOT_IT
            )
            assert rows[pk].decision == expected
    assert any(m.decision for m in rows.values()), "the killed worker left claims to settle"
