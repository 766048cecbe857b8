"""Benchmark the owner's dashboard at 100,000 members with two years of history.

    .venv/bin/python benchmarks/reports.py
    .venv/bin/python benchmarks/reports.py --members 20000 --check-ins 400000   # quicker

One command: it recreates its own PostgreSQL database (``gym_bench_reports``;
``--database-url``), migrates it and builds, with bulk inserts, ``--members`` members with
two years of history: memberships on monthly, quarterly and annual plans (with add-ons,
upgrades, freezes, failures and recoveries, cancellations by the member and by dunning,
members who come back), their history events, every period's invoice with its line and
payment (one in 200 with a credit note), dunning cases for the failures, and
``--check-ins`` entries at two zones with the presence rows access control keeps.

Then it writes the 24 monthly snapshots with billing's own service (printing progress),
checks that start + movements = end for every month, and times each dashboard figure
cold (cache cleared) and the whole dashboard warm (from the cache), with the statements
each figure runs, beside the floor measured in the same run on the same rows: one
``count(*)`` of the memberships and one of the check-ins (the least a figure over them
must read).  Targets: every figure <= 2 s cold; the whole dashboard <= 300 ms warm.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import os
import random
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

BATCH = 5000


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--members", type=int, default=100_000)
    parser.add_argument("--check-ins", type=int, default=2_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument(
        "--reuse",
        action="store_true",
        help="time the figures on the database a previous run built (no rebuild)",
    )
    parser.add_argument(
        "--database-url",
        default=os.environ.get(
            "BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/gym_bench_reports"
        ),
    )
    parser.add_argument(
        "--redis-url", default=os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/13")
    )
    return parser.parse_args()


def configure(args: argparse.Namespace) -> None:
    os.environ.update(
        {
            "DJANGO_SETTINGS_MODULE": "config.settings",
            "DATABASE_URL": args.database_url,
            "REDIS_URL": args.redis_url,
            "SECRET_KEY": "benchmark-only-secret-key-0123456789-abcdefghijklmnop",
            "DEBUG": "0",
            "SECURE_SSL_REDIRECT": "0",
            "CACHE_KEY_PREFIX": "gym-bench-reports",
            "LOG_LEVEL": "WARNING",
        }
    )
    import psycopg

    base = args.database_url.rsplit("/", 1)
    if args.reuse:
        import django

        django.setup()
        return
    with psycopg.connect(f"{base[0]}/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{base[1]}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{base[1]}"')
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def step(label: str) -> Callable[[], None]:
    started = time.monotonic()
    print(f"  {label} …", end="", flush=True)
    return lambda: print(f" {time.monotonic() - started:.1f} s", flush=True)


def insert_select(table: str, columns: dict[str, str], source: str) -> int:
    """``INSERT INTO table (...) SELECT ... FROM source``, with every other NOT NULL
    column without a default given its type's empty value (Django keeps defaults in
    Python, not in the database)."""
    from django.db import connection

    empties = {
        "character varying": "''",
        "text": "''",
        "boolean": "false",
        "integer": "0",
        "smallint": "0",
        "bigint": "0",
        "jsonb": "'{}'::jsonb",
        "timestamp with time zone": "now()",
        "date": "current_date",
    }
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT column_name, data_type FROM information_schema.columns"
            " WHERE table_name = %s AND is_nullable = 'NO' AND column_default IS NULL",
            [table],
        )
        for name, kind in cursor.fetchall():
            if name not in columns and name != "id":
                columns[name] = empties[kind]
        sql = (
            f"INSERT INTO {table} ({', '.join(columns)}) "
            f"SELECT {', '.join(columns.values())} FROM {source}"
        )
        cursor.execute(sql)
        return cursor.rowcount


def seed(members: int, check_ins: int, today: dt.date) -> dict[str, Any]:
    from django.db import connection, transaction

    from billing.models import (
        AddOn,
        Location,
        Membership,
        MembershipAddOn,
        MembershipEvent,
        Plan,
        Zone,
    )
    from config import clock
    from members.models import Member

    rng = random.Random(15)
    history = (today.replace(day=1) - dt.timedelta(days=730)).replace(day=1)
    days = (today - history).days
    done = step(f"{members:,} members and their memberships")
    plans = [
        Plan.objects.create(code="basic", name="Basic", interval="month", price=107_000),
        Plan.objects.create(code="plus", name="Plus", interval="month", price=160_500),
        Plan.objects.create(code="premium", name="Premium", interval="month", price=214_000),
        Plan.objects.create(
            code="quarter", name="Quarterly", interval="month", interval_count=3, price=299_600
        ),
        Plan.objects.create(code="annual", name="Annual", interval="year", price=1_070_000),
    ]
    locker = AddOn.objects.create(code="locker", name="Locker", price=21_400)

    def local(day: dt.date, hour: int = 10) -> dt.datetime:
        return clock.local_midnight(day) + dt.timedelta(hours=hour)

    memberships: list[Membership] = []
    events: list[MembershipEvent] = []
    addons: list[MembershipAddOn] = []
    for start in range(0, members, BATCH):
        with transaction.atomic():
            made = Member.objects.bulk_create(
                Member(member_number=n + 1, first_name=f"Member{n}", last_name="Bench")
                for n in range(start, min(start + BATCH, members))
            )
        rows = []
        for member in made:
            started = history + dt.timedelta(days=rng.randrange(days))
            plan = rng.choice(plans)
            fate = rng.random()
            status, ended = "active", None
            if fate < 0.12 or fate < 0.17:
                status, ended = "cancelled", started + dt.timedelta(days=rng.randint(40, 500))
            elif fate < 0.21:
                status = "frozen"
            elif fate < 0.25:
                status = "past_due"
            if ended and ended >= today:
                status, ended = "active", None
            membership = Membership(
                member=member,
                payer=member,
                plan=plan,
                status=status,
                currency="THB",
                anchor_day=min(started.day, 28),
                started_on=started,
                ended_on=ended,
                cancel_reason="non-payment" if 0.12 <= fate < 0.17 else "",
            )
            membership.fate = fate  # type: ignore[attr-defined]
            rows.append(membership)
        with transaction.atomic():
            made_memberships = Membership.objects.bulk_create(rows)
        memberships += made_memberships
    done()

    done = step("history events, add-ons and a second membership for returners")
    returners = []

    def event(m: Any, kind: str, before: str, after: str, at: dt.datetime, **detail: Any) -> None:
        events.append(
            MembershipEvent(
                membership=m,
                kind=kind,
                from_status=before,
                to_status=after,
                detail=detail,
                created_at=at,
            )
        )

    def later(day: dt.date, low: int, high: int) -> dt.date:
        return day + dt.timedelta(days=rng.randint(low, high))

    for m in memberships:
        fate = m.fate  # type: ignore[attr-defined]
        event(m, "signed_up", "pending", "pending", local(m.started_on), plan=m.plan.code)
        event(m, "activated", "pending", "active", local(m.started_on))
        span = ((m.ended_on or today) - m.started_on).days
        if rng.random() < 0.1 and span > 40 and m.plan.code == "basic":
            when = local(later(m.started_on, 20, span - 10), 11)
            event(m, "upgraded", "active", "active", when, **{"from": "plus", "to": "basic"})
        if rng.random() < 0.15 and span > 60:
            added = later(m.started_on, 1, span - 30)
            addons.append(MembershipAddOn(membership=m, addon=locker, started_on=added))
        if m.status == "frozen":
            event(m, "freeze_started", "active", "frozen", local(later(today, -40, -1), 0))
        elif rng.random() < 0.08 and span > 90:
            frozen = later(m.started_on, 30, span - 45)
            event(m, "freeze_started", "active", "frozen", local(frozen, 0))
            event(m, "freeze_ended", "frozen", "active", local(later(frozen, 30, 30), 0))
        if m.status == "past_due":
            event(m, "past_due", "active", "past_due", local(later(today, -20, -1), 3))
        elif rng.random() < 0.1 and span > 60:
            failed = later(m.started_on, 30, span - 20)
            event(m, "past_due", "active", "past_due", local(failed, 3))
            event(m, "reinstated", "past_due", "active", local(later(failed, 4, 4), 9))
        if m.ended_on:
            if 0.12 <= fate < 0.17:  # dunning's cancel step
                event(m, "past_due", "active", "past_due", local(later(m.ended_on, -21, -21), 3))
                event(m, "cancelled_for_nonpayment", "past_due", "cancelled", local(m.ended_on, 12))
            else:
                event(m, "cancelled", "active", "cancelled", local(m.ended_on, 12))
            if rng.random() < 0.3 and (today - m.ended_on).days > 45:
                returners.append(m)
    second = []
    for m in returners:
        assert m.ended_on is not None
        back = later(m.ended_on, 30, (today - m.ended_on).days - 1)
        second.append(
            Membership(
                member_id=m.member_id,
                payer_id=m.member_id,
                plan=m.plan,
                status="active",
                currency="THB",
                anchor_day=min(back.day, 28),
                started_on=back,
            )
        )
    second = Membership.objects.bulk_create(second, batch_size=BATCH)
    for m in second:
        event(m, "signed_up", "pending", "active", local(m.started_on), plan=m.plan.code)
    MembershipEvent.objects.bulk_create(events, batch_size=BATCH)
    MembershipAddOn.objects.bulk_create(addons, batch_size=BATCH)
    done()
    print(f"    {len(memberships) + len(second):,} memberships, {len(events):,} events")

    done = step("every period's invoice, its line and its payment (in SQL)")
    counts = {}
    counts["invoices"] = insert_select(
        "billing_invoice",
        {
            "number": "'B-' || m.id || '-' || g.n",
            "member_id": "m.member_id",
            "membership_id": "m.id",
            "status": "CASE WHEN m.status = 'past_due' AND g.start > current_date - 31"
            " THEN 'open' WHEN m.cancel_reason = 'non-payment' AND g.start > m.ended_on - 40"
            " THEN 'open' ELSE 'paid' END",
            "billing_reason": "CASE WHEN g.n = 0 THEN 'signup' ELSE 'cycle' END",
            "currency": "'THB'",
            "period_start": "g.start",
            "period_end": "g.start + (p.months || ' months')::interval",
            "subtotal": "round(p.price * 10000.0 / 10700)",
            "tax_total": "p.price - round(p.price * 10000.0 / 10700)",
            "total": "p.price",
            "amount_paid": "CASE WHEN m.status = 'past_due' AND g.start > current_date - 31"
            " THEN 0 WHEN m.cancel_reason = 'non-payment' AND g.start > m.ended_on - 40"
            " THEN 0 ELSE p.price END",
            "amount_credited": "0",
            "issued_at": "g.start::timestamp AT TIME ZONE 'Asia/Bangkok'",
            "due_on": "g.start",
            "created_at": "g.start::timestamp AT TIME ZONE 'Asia/Bangkok'",
        },
        """billing_membership m
        JOIN (SELECT id, price, CASE WHEN interval = 'year' THEN 12 * interval_count
                                     ELSE interval_count END AS months
              FROM billing_plan) p ON p.id = m.plan_id
        CROSS JOIN LATERAL (
            SELECT n, (m.started_on + (n * p.months || ' months')::interval)::date AS start
            FROM generate_series(0, 30) AS n
        ) g
        WHERE g.start <= COALESCE(m.ended_on, current_date)""",
    )
    counts["lines"] = insert_select(
        "billing_invoiceline",
        {
            "invoice_id": "i.id",
            "kind": "'plan'",
            "description": "pl.name || ' (' || i.period_start || ')'",
            "quantity": "1",
            "unit_amount": "i.total",
            "amount": "i.total",
            "net_amount": "i.subtotal",
            "tax_rate_bp": "700",
            "tax_amount": "i.tax_total",
            "period_start": "i.period_start",
            "period_end": "i.period_end",
            "plan_id": "m.plan_id",
        },
        "billing_invoice i JOIN billing_membership m ON m.id = i.membership_id"
        " JOIN billing_plan pl ON pl.id = m.plan_id",
    )
    counts["payments"] = insert_select(
        "billing_payment",
        {
            "invoice_id": "i.id",
            "amount": "i.total",
            "currency": "'THB'",
            "source": "'card'",
            "received_at": "i.issued_at",
            "amount_refunded": "0",
        },
        "billing_invoice i WHERE i.status = 'paid'",
    )
    counts["credit notes"] = insert_select(
        "billing_creditnote",
        {
            "number": "'CN-' || i.id",
            "invoice_id": "i.id",
            "amount": "i.total / 10",
            "tax_amount": "(i.tax_total::bigint * (i.total / 10)) / i.total",
            "currency": "'THB'",
            "reason": "'Goodwill'",
            "issued_at": "i.issued_at + interval '3 days'",
        },
        "billing_invoice i WHERE i.status = 'paid' AND i.id % 200 = 0",
    )
    done()
    print("    " + ", ".join(f"{v:,} {k}" for k, v in counts.items()))

    done = step("dunning cases for the unpaid invoices")
    from billing.models import Invoice
    from dunning.models import DunningCase

    open_invoices = Invoice.objects.filter(status="open").select_related("membership")
    cases = [
        DunningCase(
            member_id=invoice.member_id,
            invoice=invoice,
            membership=membership,
            plan_id=membership.plan_id,
            currency="THB",
            status="active" if membership.status == "past_due" else "written_off",
            stage_position=0,
            amount_due=invoice.total,
            opened_at=invoice.issued_at or clock.now(),
            opened_on=invoice.due_on or today,
        )
        for invoice in open_invoices
        for membership in [invoice.membership]
        if membership is not None
    ]
    DunningCase.objects.bulk_create(cases, batch_size=BATCH)
    done()
    print(f"    {len(cases):,} cases")

    done = step(f"{check_ins:,} check-ins at two zones (in SQL)")
    location = Location.objects.create(name="Bench site", time_zone="Asia/Bangkok")
    zones = [
        Zone.objects.create(location=location, code="floor", name="Gym floor"),
        Zone.objects.create(location=location, code="pool", name="Pool"),
    ]
    with connection.cursor() as cursor:
        cursor.execute("SELECT max(id) FROM members_member")
        top = cursor.fetchone()[0]
    insert_select(
        "access_control_accessevent",
        {
            "zone_id": f"CASE WHEN g % 4 = 0 THEN {zones[1].pk} ELSE {zones[0].pk} END",
            "member_id": f"{top} - (g % {members})",
            "decision": "'granted'",
            "reason": "'ok'",
            "warnings": "'[]'::jsonb",
            "direction": "'in'",
            "occurred_at": f"(current_date - (g % {days}))::timestamp AT TIME ZONE 'Asia/Bangkok'"
            " + make_interval(hours => (6 + (g::bigint * 7919) % 16)::int,"
            " mins => ((g::bigint * 104729) % 60)::int)",
            "recorded_at": "now()",
            "source": "'online'",
        },
        f"generate_series(1, {check_ins}) AS g",
    )
    done()
    done = step("who was last seen where (access control's presence rows, rebuilt)")
    from access_control.presence import presence_rebuild

    presence_rebuild()
    # What autovacuum gives a live database: statistics, and the visibility map that lets
    # the heatmap read its index alone.
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE")
    done()
    return {"location": location, "zones": zones}


def timed(function: Callable[[], Any]) -> tuple[float, int]:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as queries:
        started = time.perf_counter()
        function()
        elapsed = time.perf_counter() - started
    return elapsed, len(queries.captured_queries)


def main() -> None:
    args = parse_args()
    configure(args)
    from django.core.cache import cache
    from django.db import connection

    from billing.models import MrrMonth
    from billing.services.snapshots import mrr_months_write
    from config import clock
    from config.admin.report_figures import (
        ReportFilter,
        dashboard_figures,
        default_filter,
        figure_functions,
        warm_dashboard,
    )

    today = clock.today()
    load = os.getloadavg()
    if args.reuse:
        from billing.models import Location

        print(f"Reusing the gym a previous run built in {args.database_url.rsplit('/', 1)[1]}.")
        place = {"location": Location.objects.order_by("pk").get(name="Bench site")}
    else:
        print(f"Building the gym ({args.members:,} members, two years to {today}) …")
        started = time.monotonic()
        place = seed(args.members, args.check_ins, today)
        print(f"Built in {time.monotonic() - started:.0f} s.")

    print("Writing the monthly snapshots (billing.services.snapshots):")
    snap_started = time.monotonic()

    def progress(row: Any, index: int, total: int) -> None:
        print(
            f"  [{index}/{total}] {row.month:%Y-%m}  MRR {row.mrr_end / 100:,.2f}"
            f"  subscribers {row.subscribers_end:,}  ({time.monotonic() - snap_started:.0f} s)",
            flush=True,
        )

    mrr_months_write(progress=progress)
    # Autovacuum analyses a table a tenth of which changed; the snapshots are all new.
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE billing_mrrsnapshot")
    months = list(MrrMonth.objects.order_by("month"))
    broken = [
        m.month
        for before, m in zip([None, *months], months, strict=False)
        if m.mrr_start + m.new + m.reactivation + m.expansion - m.contraction
        - m.churned_voluntary - m.churned_involuntary != m.mrr_end
        or (before is not None and before.mrr_end != m.mrr_start)
    ]  # fmt: skip
    print(
        f"Start + movements = end, and each start = the month before's end: "
        f"{'every one of' if not broken else 'NOT for'} {len(months)} months"
        + (f" ({broken})" if broken else "")
    )

    def floor() -> None:
        with connection.cursor() as cursor:
            cursor.execute("SELECT count(*) FROM billing_membership")
            cursor.execute("SELECT count(*) FROM access_control_accessevent")

    report = ReportFilter(
        (today.replace(day=1) - dt.timedelta(days=330)).replace(day=1),
        today,
        place["location"].pk,
    )
    floor_time = min(timed(floor)[0] for _ in range(args.repeat))
    print(f"\nFloor (count(*) of memberships and of check-ins): {floor_time * 1000:.0f} ms")
    print(f"\n{'figure':<12} {'cold':>9} {'statements':>11}   target <= 2000 ms")
    worst = 0.0
    for name, compute in figure_functions(report).items():
        best = float("inf")
        statements = 0
        for _ in range(args.repeat):
            cache.clear()
            elapsed, statements = timed(compute)
            best = min(best, elapsed)
        worst = max(worst, best)
        print(f"{name:<12} {best * 1000:>7.0f} ms {statements:>11}")
    cache.clear()
    cold_total, _ = timed(lambda: dashboard_figures(report))
    warm = min(timed(lambda: dashboard_figures(report))[0] for _ in range(args.repeat))
    warm_statements = timed(lambda: dashboard_figures(report))[1]
    print(f"\nWhole dashboard cold: {cold_total * 1000:.0f} ms")
    print(
        f"Whole dashboard warm: {warm * 1000:.0f} ms ({warm_statements} statements)"
        "   target <= 300 ms"
    )

    def comparable(figures: dict[str, Any]) -> dict[str, Any]:
        # Dunning's metrics carry the moment they were computed (as_of), the one part of
        # a figure that differs between two computations by design.
        return {**figures, "recovery": dataclasses.replace(figures["recovery"], as_of=None)}

    fresh = dashboard_figures(report, fresh=True)
    same = comparable(dashboard_figures(report)) == comparable(fresh)
    print(f"Cached figures equal fresh ones (but for dunning's as_of): {same}")
    # What the owner meets: the beat task has warmed the dashboard as it opens.
    cache.clear()
    warming, _ = timed(warm_dashboard)
    opened = default_filter()
    first_view, first_statements = timed(lambda: dashboard_figures(opened))
    print(
        f"Beat task reports_warm (every location): {warming * 1000:.0f} ms; the first view "
        f"after it: {first_view * 1000:.0f} ms ({first_statements} statements)"
    )
    print(
        f"Load average at the start: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}; "
        f"now: {' '.join(f'{x:.2f}' for x in os.getloadavg())}"
    )
    print(
        f"Slowest figure cold: {worst * 1000:.0f} ms "
        f"({'within' if worst <= 2 else 'OVER'} 2 s); warm "
        f"{'within' if warm <= 0.3 else 'OVER'} 300 ms."
    )


if __name__ == "__main__":
    main()
