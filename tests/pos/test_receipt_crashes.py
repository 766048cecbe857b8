"""A sale's receipt goes at most once, and none is lost, when its worker is killed.

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
import uuid
from pathlib import Path

import pytest
from django.db import connection
from django.utils import timezone

from billing.models import Notification
from billing.services.notifications import notification_reference
from config import outbox
from pos.models import TenderKind
from pos.services.sales import LineIn, TenderIn, sale_submit
from tests.factories import MemberFactory

pytestmark = pytest.mark.django_db(transaction=True)
ROOT = Path(__file__).resolve().parents[2]

WORKER = """
import sys
import django
django.setup()
from django.conf import settings
settings.EMAIL_BACKEND = "config.outbox.SandboxEmailBackend"
settings.SANDBOX_OUTBOX_LATENCY_MS = int(sys.argv[1])
from pos.tasks import send_receipt
for sale_id in sys.argv[2:]:
    send_receipt(int(sale_id))
"""


@pytest.fixture
def sandbox_provider(settings):
    settings.EMAIL_BACKEND = "config.outbox.SandboxEmailBackend"
    outbox.reset()
    yield
    outbox.reset()


def worker(latency_ms: int, sale_ids: list[int]) -> subprocess.Popen[bytes]:
    db = connection.settings_dict
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings_test",
        "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
    }
    return subprocess.Popen(
        [sys.executable, "-c", WORKER, str(latency_ms), *map(str, sale_ids)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


def received() -> dict[str, int]:
    return {
        note.key: outbox.received(notification_reference(note))
        for note in Notification.objects.filter(kind="pos_receipt")
    }


def test_a_worker_killed_while_sending_receipts_sends_none_twice(
    till, desk, water, sandbox_provider, settings
):
    sales = []
    for _ in range(10):
        member = MemberFactory()
        sales.append(
            sale_submit(
                till=till,
                user=desk,
                idempotency_key=uuid.uuid4().hex,
                member=member,
                lines=[LineIn(product_id=water.pk)],
                tenders=[TenderIn(TenderKind.CASH, 2_000)],
            )
        )
    # (The receipts the sales queued after commit are not what is measured here.)
    Notification.objects.filter(kind="pos_receipt").delete()
    outbox.reset()
    process = worker(80, [sale.pk for sale in sales])
    deadline = time.monotonic() + 60
    claims = Notification.objects.filter(kind="pos_receipt", sent_at__isnull=True)
    # Killed while a receipt is claimed (committed) and being handed to the provider.
    while sum(received().values()) < 3 or not claims.exists():
        assert time.monotonic() < deadline, process.stderr.read() if process.stderr else ""
        if process.poll() is not None:
            _out, err = process.communicate()
            pytest.fail(f"the worker finished before it could be killed: {err.decode()[-2000:]}")
        time.sleep(0.01)
    process.send_signal(signal.SIGKILL)
    process.wait(10)
    assert 3 <= sum(received().values()) < len(sales), "killed midway"
    assert claims.exists(), "the killed worker left a claim behind"
    # Later (the claim is older than the safe delay), the task runs again for every sale.
    claims.update(created_at=timezone.now() - dt.timedelta(minutes=30))
    restarted = worker(0, [sale.pk for sale in sales])
    _out, err = restarted.communicate(timeout=120)
    assert restarted.returncode == 0, err.decode()
    counts = received()
    assert len(counts) == len(sales)
    assert set(counts.values()) == {1}, "every receipt reached the provider exactly once"
    assert not claims.exists()
