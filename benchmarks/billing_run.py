"""Benchmark the billing run: N memberships due on one day, invoiced and charged.

    .venv/bin/python benchmarks/billing_run.py --members 10000 --latency-ms 0
    .venv/bin/python benchmarks/billing_run.py --members 10000 --latency-ms 300

It uses its own PostgreSQL database (``gym_bench`` by default; ``--database-url``),
recreated on every run, and Redis for the sandbox gateway's books.  It prints
memberships per second, total seconds, charges per second and SQL queries per
membership.  Receipts are queued for the notification workers, not sent inline, as
in production.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks._harness import (  # noqa: E402  (after the project is importable)
    add_service_args,
    django_environment,
    django_ready,
)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--members", type=int, default=10_000)
    parser.add_argument("--latency-ms", type=int, default=0, help="sandbox gateway latency")
    parser.add_argument("--concurrency", type=int, default=64, help="charges in flight at once")
    parser.add_argument("--batch-size", type=int, default=1000)
    parser.add_argument(
        "--workers",
        type=int,
        default=2,
        help="Celery worker processes to fan out to (0: run the batches in this process)",
    )
    add_service_args(parser, database="gym_bench", redis_db=13, redis_env="REDIS_URL")
    return parser.parse_args()


def configure(args: argparse.Namespace) -> None:
    django_ready(
        django_environment(
            args,
            cache_prefix="gym-bench",
            CELERY_TASK_ALWAYS_EAGER="0",
            SANDBOX_GATEWAY_LATENCY_MS=str(args.latency_ms),
            BILLING_CHARGE_CONCURRENCY=str(args.concurrency),
            BILLING_BATCH_SIZE=str(args.batch_size),
        ),
    )


def seed(count: int, day: dt.date) -> None:
    """``count`` members with a working sandbox card and a monthly membership due on ``day``."""
    from django.db import transaction

    from billing.models import Membership, MembershipStatus, PaymentMethod, Plan
    from members.models import Member
    from members.services import MEMBER_NUMBER_SEQUENCE, MEMBER_NUMBER_START, sequence_allocate

    plan = Plan.objects.create(
        code="bench-monthly", name="Monthly", interval="month", price=159_000, currency="THB"
    )
    started = dt.date(day.year - 1, day.month, day.day)
    chunk = 5000
    for start in range(0, count, chunk):
        size = min(chunk, count - start)
        with transaction.atomic():
            numbers = sequence_allocate(MEMBER_NUMBER_SEQUENCE, size, start=MEMBER_NUMBER_START)
            members = Member.objects.bulk_create(
                Member(
                    member_number=n,
                    first_name="Bench",
                    last_name=str(n),
                    email=f"bench{n}@bench.example.com",
                    status="active",
                )
                for n in numbers
            )
            PaymentMethod.objects.bulk_create(
                PaymentMethod(
                    member=m,
                    gateway="sandbox",
                    token=f"tok_ok.b{m.pk}",
                    brand="visa",
                    last4="4242",
                    exp_month=12,
                    exp_year=day.year + 3,
                    fingerprint=f"fp{m.pk}",
                    is_default=True,
                )
                for m in members
            )
            Membership.objects.bulk_create(
                Membership(
                    member=m,
                    payer=m,
                    plan=plan,
                    currency="THB",
                    status=MembershipStatus.ACTIVE,
                    anchor_day=day.day,
                    started_on=started,
                    current_period_start=dt.date(day.year, day.month - 1 or 12, day.day),
                    current_period_end=day,
                    next_billing_date=day,
                )
                for m in members
            )
        print(f"  seeded {start + size:>7,}/{count:,}", end="\r", flush=True)
    print()


def start_workers(count: int) -> list[subprocess.Popen[bytes]]:
    """Real Celery workers on the benchmark's Redis, one process each (prefork, 1 child)."""
    workers = []
    for number in range(count):
        workers.append(
            subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "celery",
                    "-A",
                    "config",
                    "worker",
                    "-Q",
                    "celery",
                    "-c",
                    "1",
                    "-n",
                    f"bench{number}@%h",
                    "--without-gossip",
                    "--without-mingle",
                    "--without-heartbeat",
                    "-l",
                    "WARNING",
                ],
                cwd=ROOT,
                env=os.environ.copy(),
            )
        )
    return workers


def purge_queues() -> None:
    from config.celery import app

    app.control.purge()


def main() -> None:
    args = parse_args()
    configure(args)
    from django.db.models import Count

    from billing.gateways import get_gateway
    from billing.models import Invoice, Payment
    from billing.services.run import billing_run
    from config import clock

    day = dt.date(2027, 3, 15)
    print(
        f"Billing run benchmark: {args.members:,} memberships due {day}, "
        f"sandbox latency {args.latency_ms} ms, {args.concurrency} charges in flight"
    )
    started = time.perf_counter()
    seed(args.members, day)
    print(f"  seeding took {time.perf_counter() - started:.1f} s")
    get_gateway("sandbox").reset()  # type: ignore[attr-defined]

    purge_queues()
    workers = start_workers(args.workers)
    try:
        if workers:
            time.sleep(4)  # let the workers connect
        with clock.travel_to_date(day):
            t0 = time.perf_counter()
            report = billing_run(day, fan_out=bool(workers))
            elapsed = time.perf_counter() - t0
    finally:
        for worker in workers:
            worker.terminate()
        for worker in workers:
            worker.wait(30)
        purge_queues()
    queries = report.queries

    duplicates = (
        Invoice.objects.filter(billing_reason="cycle")
        .values("membership_id")
        .annotate(n=Count("id"))
        .filter(n__gt=1)
        .count()
    )
    paid = Payment.objects.count()
    print(
        f"  due {report.due:,}  invoiced {report.invoiced:,}  paid {report.succeeded:,}  "
        f"failed {report.failed:,}  unknown {report.unknown:,}  duplicate invoices {duplicates}"
    )
    print(f"  total seconds            {elapsed:10.2f}")
    print(f"  memberships per second   {report.invoiced / elapsed:10.1f}")
    print(f"  charges per second       {report.succeeded / elapsed:10.1f}")
    print(f"  SQL queries (batches)    {queries:10,}")
    print(f"  SQL queries / membership {queries / max(report.invoiced, 1):10.3f}")
    assert paid == report.succeeded == args.members and duplicates == 0, "benchmark run incomplete"


if __name__ == "__main__":
    main()
