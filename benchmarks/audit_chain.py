"""Benchmark the audit trail's chain lock: what serialising audited transactions costs.

    .venv/bin/python benchmarks/audit_chain.py
    .venv/bin/python benchmarks/audit_chain.py --writers 8 --transactions 40 --hold-ms 0,5,50
    .venv/bin/python benchmarks/audit_chain.py --billing-members 2000

Every record is chained under one transaction-level advisory lock (``members.audit``),
held from reading the last hash until the writer's transaction commits.  Part 1: W
concurrent writers, each running T transactions that append one record and then do
``hold`` ms more work before committing (the rest of a service's transaction), timed
three ways: without any audit record (the floor), with the record but the lock skipped
(what the chain's lock costs beyond the insert), and as shipped.  Part 2: the billing run
(in this process) over N due memberships, with the lock and without, and how many
records it wrote.  Uses its own database (``gym_bench_audit``), dropped and made again.
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks._harness import (  # noqa: E402  (after the project is importable)
    add_service_args,
    django_environment,
    django_ready,
    load,
)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--writers", type=int, default=8, help="concurrent writers")
    parser.add_argument("--transactions", type=int, default=40, help="per writer")
    parser.add_argument("--hold-ms", default="0,5,50", help="work after the record, in ms")
    parser.add_argument("--billing-members", type=int, default=1000, help="0: skip part 2")
    add_service_args(parser, database="gym_bench_audit", redis_db=12)
    return parser.parse_args()


def writers_run(writers: int, transactions: int, hold_ms: int, mode: str) -> float:
    """Seconds for ``writers`` threads to each commit ``transactions`` transactions."""
    from django.db import connection, transaction

    from members import audit

    barrier = threading.Barrier(writers + 1)
    errors: list[BaseException] = []

    def work(n: int) -> None:
        try:
            barrier.wait()
            for i in range(transactions):
                with transaction.atomic():
                    if mode != "none":
                        audit.audit_record(
                            "bench.write",
                            subject_type="bench",
                            subject_id=f"{n}-{i}",
                            after={"i": i},
                        )
                    if hold_ms:
                        with connection.cursor() as cursor:
                            cursor.execute("SELECT pg_sleep(%s)", [hold_ms / 1000])
        except BaseException as exc:  # reported after the run
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=work, args=(n,)) for n in range(writers)]
    for thread in threads:
        thread.start()
    original = audit._lock_chain
    if mode == "unlocked":
        audit._lock_chain = lambda: None  # type: ignore[assignment]
    try:
        barrier.wait()
        started = time.perf_counter()
        for thread in threads:
            thread.join()
        elapsed = time.perf_counter() - started
    finally:
        audit._lock_chain = original  # type: ignore[assignment]
    if errors:
        raise errors[0]
    return elapsed


def billing_part(members: int) -> None:
    from django.db import connection

    from benchmarks.billing_run import seed
    from billing.services.run import billing_run
    from members import audit
    from members.audit_models import AuditRecord

    day = dt.date(2027, 3, 5)
    figures = {}
    original = audit._lock_chain
    for mode in ("unlocked", "chained"):
        with connection.cursor() as cursor:
            cursor.execute("TRUNCATE billing_plan, members_member RESTART IDENTITY CASCADE")
        seed(members, day)
        before = AuditRecord.objects.count()
        if mode == "unlocked":
            audit._lock_chain = lambda: None  # type: ignore[assignment]
        try:
            started = time.perf_counter()
            report = billing_run(day, fan_out=False)
            figures[mode] = time.perf_counter() - started
        finally:
            audit._lock_chain = original  # type: ignore[assignment]
        written = AuditRecord.objects.count() - before
        print(
            f"  billing run, {mode:9}: {members} due, {report.invoiced} invoiced, "
            f"{report.succeeded} paid in {figures[mode]:.2f} s "
            f"({members / figures[mode]:.0f} memberships/s); {written} audit records"
        )
    print(f"  chained / unlocked: {figures['chained'] / figures['unlocked']:.2f}x")


def main() -> None:
    args = parse_args()
    django_ready(
        django_environment(
            args,
            cache_prefix="gym-bench-audit",
            CELERY_TASK_ALWAYS_EAGER="1",
            BILLING_CHARGE_CONCURRENCY="16",
        )
    )
    print(f"load at start: {load()}")
    holds = [int(h) for h in args.hold_ms.split(",") if h.strip()]
    total = args.writers * args.transactions
    print(f"Part 1: {args.writers} writers x {args.transactions} transactions ({total} in all)")
    for hold in holds:
        line = []
        seconds = {}
        for mode in ("none", "unlocked", "chained"):
            seconds[mode] = writers_run(args.writers, args.transactions, hold, mode)
            line.append(f"{mode} {total / seconds[mode]:7.0f} tx/s")
        ideal = args.writers * 1000 / hold if hold else float("inf")
        serial = 1000 / hold if hold else float("inf")
        print(
            f"  hold {hold:3} ms: "
            + " | ".join(line)
            + f" | chained/floor {seconds['chained'] / seconds['none']:.2f}x"
            + (f" (ceilings: parallel {ideal:.0f}, serial {serial:.0f} tx/s)" if hold else "")
        )
    from members.audit import chain_verify

    report = chain_verify()
    print(
        f"  chain check: {report.checked} records follow each other"
        + (
            f", then #{report.broken_at} {report.problem} (the unlocked runs fork the chain:"
            " what the lock is for)"
            if report.broken_at
            else ""
        )
    )
    if args.billing_members:
        print(f"Part 2: the billing run over {args.billing_members} memberships, in this process")
        billing_part(args.billing_members)
    print(f"load at end: {load()}")


if __name__ == "__main__":
    main()
