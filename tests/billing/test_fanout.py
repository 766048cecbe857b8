"""The billing run fans out over a real Celery worker on Redis (no eager shortcut)."""

from __future__ import annotations

import pytest
from celery.contrib.testing.worker import start_worker

from billing.gateways import get_gateway
from billing.models import Invoice, InvoiceStatus
from billing.services.run import billing_run
from config.celery import app
from tests.billing.factories import PlanFactory, signed_up

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def celery_worker(settings):
    settings.CELERY_TASK_ALWAYS_EAGER = False
    app.conf.task_always_eager = False
    app.conf.broker_url = settings.CELERY_BROKER_URL
    app.conf.result_backend = settings.CELERY_BROKER_URL
    try:
        with start_worker(
            app, pool="threads", concurrency=2, perform_ping_check=False, shutdown_timeout=30
        ):
            yield
    finally:
        app.conf.task_always_eager = True


def test_batches_run_on_celery_workers(celery_worker, settings):
    get_gateway("sandbox").reset()
    settings.BILLING_BATCH_SIZE = 2
    plan = PlanFactory()
    memberships = [signed_up(plan=plan) for _ in range(5)]
    day = memberships[0].next_billing_date
    report = billing_run(day, fan_out=True)
    assert report.batches == 3
    assert (report.invoiced, report.succeeded) == (5, 5)
    cycle = Invoice.objects.filter(billing_reason="cycle")
    assert cycle.count() == 5
    assert set(cycle.values_list("status", flat=True)) == {InvoiceStatus.PAID}
