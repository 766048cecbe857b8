"""Benchmark the member portal's pages under gunicorn, beside the stack's ping.

    .venv/bin/python benchmarks/portal.py
    .venv/bin/python benchmarks/portal.py --members 500 --long-members 50 --seconds 30

One command: it recreates its own PostgreSQL database (``gym_bench_portal``;
``--database-url``), migrates it and seeds ``--members`` members (40) with portal logins
and a membership signed up through billing's service with a sandbox card.  The first
``--long-members`` (5) have five years of history: 60 monthly invoices paid through
billing's payment service, a thousand visits at the gate; the others one to twelve
months of it; every fifth member also owes an invoice (the home page's Pay card); a
week of classes, each member booked into three (through the classes' booking service).

Members are signed in as a browser signs in: ``--logins`` of them (10) through the
real allauth form (``POST /portal/account/login/`` with the CSRF token of the page), the
rest with a session written to the bench database by Django's session store exactly as
``login()`` writes it (one password hash per login would spend the run hashing).

It then serves the real app with gunicorn (``config.wsgi``, 2 workers of 4 threads each
as in the Procfile, loopback, DEBUG off), checks that every page answers every member
200, warms it up, times each page one request at a time (its own cost, no queue), and
drives each page at a paced
``--rate`` (50 requests/s) for ``--seconds`` (6 s), rotating through the members, each
latency measured from the request's scheduled time (a stalled server cannot hide its
queue):

- **floor**: ``GET /api/v1/ping`` (no authentication, no database), before and after;
- ``GET /portal/`` (home), ``GET /portal/billing/invoices/`` (the invoice history) and
  the classes timetable (``classes_portal:timetable``) when it is on this branch (a
  "not on main" line otherwise).

Target: p95 <= 100 ms at 50 requests/s.  It prints p50/p95/p99, throughput and the
answers' statuses for each, and the load average at the start and the end (the load
generator shares the machine with the server).
"""

from __future__ import annotations

import argparse
import datetime as dt
import http.client
import os
import re
import sys
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks._harness import (  # noqa: E402  (after the project is importable)
    Gunicorn,
    add_service_args,
    django_environment,
    django_ready,
    load,
    percentiles,
)

PASSWORD = "bench portal password 2026"
PING = "/api/v1/ping"
TARGET_P95_MS = 100.0


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--members", type=int, default=40, help="members with a login (40)")
    parser.add_argument(
        "--long-members", type=int, default=5, help="of them, with five years of history (5)"
    )
    parser.add_argument(
        "--logins", type=int, default=10, help="of them, signed in through allauth's form (10)"
    )
    parser.add_argument("--rate", type=float, default=50.0, help="requests/s per page (50)")
    parser.add_argument("--seconds", type=float, default=6.0, help="seconds per page (6)")
    parser.add_argument("--clients", type=int, default=16, help="client threads (16)")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument(
        "--threads",
        type=int,
        default=4,
        help="threads per worker; above 1 runs gunicorn's gthread workers (default 4, as "
        "in the Procfile; 1: sync workers)",
    )
    add_service_args(parser, database="gym_bench_portal", redis_db=2)
    args = parser.parse_args()
    if not 0 < args.logins <= args.members or not 0 <= args.long_members <= args.members:
        parser.error("--logins and --long-members must be within --members (and logins > 0)")
    if args.rate <= 0 or args.seconds <= 0 or args.clients <= 0:
        parser.error("--rate, --seconds and --clients must be positive")
    return args


def environment(args: argparse.Namespace) -> dict[str, str]:
    return django_environment(
        args,
        cache_prefix="gym-bench-portal",
        ALLOWED_HOSTS="127.0.0.1,localhost",
        CELERY_TASK_ALWAYS_EAGER="1",
        SMS_BACKEND="billing.messaging.sms.locmem.LocmemSmsBackend",
    )


def configure(args: argparse.Namespace) -> None:
    django_ready(environment(args))


def classes_timetable_path() -> str | None:
    """The portal's classes timetable, if that page is on this branch."""
    from django.urls import NoReverseMatch, reverse

    try:
        return reverse("classes_portal:timetable")
    except NoReverseMatch:
        return None


def _history(member: Any, membership: Any, months: int, visits: int, zone: Any) -> None:
    """``months`` of monthly invoices paid through billing's services, ``visits`` visits."""
    from access_control.models import AccessEvent
    from billing.models import Invoice, LineKind
    from billing.services import invoices as inv
    from config import clock

    now = clock.now()
    for month in range(months, 0, -1):
        issued = now - dt.timedelta(days=30 * month)
        invoice = inv.invoice_create(
            member=member,
            currency="THB",
            reason="manual",
            membership_id=membership.pk,
            specs=[inv.LineSpec(LineKind.OTHER, f"Monthly {issued:%Y-%m}", 150_000, 700, True)],
        )
        Invoice.objects.filter(pk=invoice.pk).update(issued_at=issued)
        inv.payment_record(invoice, amount=invoice.amount_due, source="cash")
    AccessEvent.objects.bulk_create(
        AccessEvent(
            zone=zone,
            member=member,
            decision="grant",
            reason="ok",
            direction="in",
            occurred_at=now - dt.timedelta(days=1825 * n / max(visits, 1)),
            source="device",
        )
        for n in range(visits)
    )


def seed(args: argparse.Namespace) -> list[dict[str, Any]]:
    """The members, their logins, memberships and history; a week of classes."""
    from django.contrib.auth import get_user_model
    from django.contrib.auth.hashers import make_password

    from billing.models import LineKind, Plan
    from billing.places import Location, Zone
    from billing.services import invoices as inv
    from billing.services import memberships, payments
    from classes.errors import BookingRefused
    from classes.models import ClassSession, ClassType, Room
    from classes.services import booking
    from config import clock
    from members import services
    from members.models import Member

    started = time.perf_counter()
    location = Location.objects.create(name="Sukhumvit", time_zone="Asia/Bangkok")
    zone = Zone.objects.create(location=location, code="floor", name="Floor")
    plan = Plan.objects.create(
        code="monthly",
        name="Monthly",
        interval="month",
        interval_count=1,
        price=150_000,
        currency="THB",
        tax_rate_bp=700,
        prices_include_tax=True,
    )
    password = make_password(PASSWORD)  # one hash for every login: seeding stays fast
    members = Member.objects.bulk_create(
        Member(
            member_number=500_000 + n,
            first_name=f"Bench{n}",
            last_name="Portal",
            email=f"portal{n}@bench.example",
        )
        for n in range(args.members)
    )
    rows = []
    for n, member in enumerate(members):
        user = services.member_login_ensure(member, email_verified=True)
        payments.payment_method_attach(member, gateway="sandbox", token=f"tok_ok.m{member.pk}")
        membership = memberships.membership_sign_up(member, plan)
        long = n < args.long_members
        months = 60 if long else 1 + n % 12
        _history(member, membership, months, 1000 if long else 20 * months, zone)
        if n % 5 == 0:
            inv.invoice_create(
                member=member,
                currency="THB",
                reason="manual",
                specs=[inv.LineSpec(LineKind.OTHER, "Personal training", 80_000, 700, True)],
            )
        rows.append({"member": member.pk, "user": user.pk, "email": member.email, "long": long})
        if (n + 1) % 25 == 0:
            print(f"  {n + 1}/{args.members} members seeded", flush=True)
    get_user_model().objects.filter(pk__in=[r["user"] for r in rows]).update(password=password)
    room = Room.objects.create(location=location, name="Studio", capacity=40)
    kind = ClassType.objects.create(
        code="muay-thai",
        name="Muay Thai",
        name_th="มวยไทย",
        opens_days_before=14,
        default_capacity=25,
    )
    first = clock.now().replace(minute=0, second=0, microsecond=0) + dt.timedelta(hours=2)
    week = ClassSession.objects.bulk_create(
        ClassSession(
            class_type=kind,
            room=room,
            starts_at=first + dt.timedelta(hours=3 * n),
            ends_at=first + dt.timedelta(hours=3 * n, minutes=60),
            capacity=25,
        )
        for n in range(7 * 5)  # five a day for a week
    )
    booked = 0
    for n, row in enumerate(rows):  # three classes each in the coming week
        member = Member.objects.get(pk=row["member"])
        for k in range(3):
            try:
                booking.book(member, week[(n * 3 + k * 7) % len(week)].pk)
                booked += 1
            except BookingRefused:
                pass
    print(f"  {len(week)} classes in the coming week, {booked} bookings", flush=True)
    # The statistics a live database has (autovacuum would gather them during the run,
    # and the first page measured would pay for plans made without them).
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE")
    print(f"  seeded in {time.perf_counter() - started:.0f} s", flush=True)
    return rows


def session_cookie(user_id: int) -> str:
    """A session as ``django.contrib.auth.login`` writes it, in the bench database."""
    from django.contrib.auth import get_user_model
    from django.contrib.sessions.backends.db import SessionStore

    user = get_user_model().objects.get(pk=user_id)
    store = SessionStore()
    store["_auth_user_id"] = str(user.pk)
    store["_auth_user_backend"] = "members.portal.auth.MemberAuthenticationBackend"
    store["_auth_user_hash"] = user.get_session_auth_hash()
    store.create()
    return f"sessionid={store.session_key}"


def serve(args: argparse.Namespace) -> Gunicorn:
    return Gunicorn(
        environment(args),
        workers=args.workers,
        threads=args.threads,
        ready=lambda port: fetch(port, "GET", PING)[0] == 200,
        log_name="portal_gunicorn",
    )


def fetch(
    port: int,
    method: str,
    path: str,
    cookie: str = "",
    form: dict[str, str] | None = None,
) -> tuple[int, dict[str, str], str]:
    """One request on its own connection: status, headers (lower-case; Set-Cookie
    joined), body."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    headers = {"Host": "127.0.0.1", "Accept": "text/html", "Accept-Language": "en"}
    payload = None
    if form is not None:
        from urllib.parse import urlencode

        payload = urlencode(form).encode()
        headers["Content-Type"] = "application/x-www-form-urlencoded"
    if cookie:
        headers["Cookie"] = cookie
    try:
        connection.request(method, path, payload, headers)
        response = connection.getresponse()
        body = response.read().decode("utf-8", "replace")
        answer = {k.lower(): v for k, v in response.getheaders()}
        answer["set-cookie"] = "\n".join(response.msg.get_all("Set-Cookie") or [])
        return response.status, answer, body
    finally:
        connection.close()


def _cookie(headers: dict[str, str], name: str) -> str:
    found = re.search(rf"(?:^|\n){name}=([^;]*)", headers.get("set-cookie", ""))
    return found.group(1) if found else ""


def sign_in(port: int, email: str) -> tuple[str, float]:
    """allauth's sign-in form, as a browser fills it: the session cookie and the seconds
    the POST took (it hashes the password)."""
    status, headers, body = fetch(port, "GET", "/portal/account/login/")
    csrf = _cookie(headers, "csrftoken")
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', body)
    if status != 200 or not csrf or token is None:
        raise RuntimeError(f"the sign-in page answered {status} without a CSRF token")
    started = time.perf_counter()
    status, headers, _ = fetch(
        port,
        "POST",
        "/portal/account/login/",
        cookie=f"csrftoken={csrf}",
        form={"login": email, "password": PASSWORD, "csrfmiddlewaretoken": token.group(1)},
    )
    elapsed = time.perf_counter() - started
    session = _cookie(headers, "sessionid")
    if status != 302 or not session:
        raise RuntimeError(f"signing in {email} answered {status} without a session")
    return f"sessionid={session}", elapsed


def p95(samples: list[float]) -> float:
    ordered = sorted(samples)
    return ordered[min(int(0.95 * len(ordered)), len(ordered) - 1)] * 1000 if ordered else 0.0


def paced(
    port: int, path: str, cookies: list[str], rate: float, seconds: float, clients: int
) -> dict[str, Any]:
    """Request i is due at i / rate, as member i's; its latency counts from then."""
    total = max(1, int(rate * seconds))
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    lock = threading.Lock()
    cursor = iter(range(total))
    origin = time.perf_counter() + 0.2

    def run() -> None:
        while True:
            with lock:
                index = next(cursor, None)
            if index is None:
                return
            due = origin + index / rate
            pause = due - time.perf_counter()
            if pause > 0:
                time.sleep(pause)
            try:
                status = fetch(port, "GET", path, cookies[index % len(cookies)])[0]
            except OSError:
                status = 0
            done = time.perf_counter()
            with lock:
                latencies.append(done - due)
                statuses[status] = statuses.get(status, 0) + 1

    threads = [threading.Thread(target=run) for _ in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    wall = time.perf_counter() - origin
    return {"latencies": latencies, "statuses": statuses, "wall": wall, "total": total}


def serial(port: int, path: str, cookies: list[str], count: int) -> list[float]:
    latencies = []
    for index in range(count):
        started = time.perf_counter()
        fetch(port, "GET", path, cookies[index % len(cookies)])
        latencies.append(time.perf_counter() - started)
    return latencies


def report(label: str, path: str, outcome: dict[str, Any], target: bool) -> None:
    statuses = ", ".join(f"{k}: {v}" for k, v in sorted(outcome["statuses"].items()))
    worst = p95(outcome["latencies"])
    verdict = ""
    if target:
        verdict = f"  p95 {'within' if worst <= TARGET_P95_MS else 'OVER'} {TARGET_P95_MS:.0f} ms"
    print(
        f"{label:<10} GET {path:<28} {percentiles(outcome['latencies'])}  "
        f"{outcome['total'] / outcome['wall']:5.1f} req/s  [{statuses}]{verdict}",
        flush=True,
    )


def main() -> None:
    args = parse_args()
    print(f"Load average at start: {load()} ({os.cpu_count()} cores)", flush=True)
    print(f"Setting up {args.database_url.rsplit('/', 1)[1]}…", flush=True)
    configure(args)
    rows = seed(args)
    timetable = classes_timetable_path()
    pages = [("home", "/portal/"), ("invoices", "/portal/billing/invoices/")]
    if timetable is not None:
        pages.append(("timetable", timetable))

    with serve(args) as server:
        kind = f"gthread x {args.threads} threads" if args.threads > 1 else "sync"
        print(f"\ngunicorn {args.workers} {kind} workers on :{server.port}, PostgreSQL")
        signed = [sign_in(server.port, row["email"]) for row in rows[: args.logins]]
        cookies = [cookie for cookie, _ in signed]
        cookies += [session_cookie(row["user"]) for row in rows[args.logins :]]
        print(
            f"{args.logins} members signed in through allauth's form "
            f"({percentiles([s for _, s in signed])} per sign-in), "
            f"{len(rows) - args.logins} by session; {args.long_members} with five years of "
            "history"
        )
        # Every page answers the signed-in member (a redirect would mean a lost session).
        for _, path in pages:
            for cookie in cookies:
                status = fetch(server.port, "GET", path, cookie)[0]
                if status != 200:
                    raise RuntimeError(f"{path} answered {status} to a signed-in member")
        for _, path in [("ping", PING), *pages]:  # warm-up: every worker thread, every page
            paced(server.port, path, cookies, args.rate * 2, 1, args.clients)

        print("\nOne request at a time (the page's own cost, no queue):\n")
        for label, path in [("floor", PING), *pages]:
            alone = serial(server.port, path, cookies, max(20, len(cookies)))
            print(f"{label:<10} GET {path:<28} {percentiles(alone)}", flush=True)

        def run(path: str) -> dict[str, Any]:
            return paced(server.port, path, cookies, args.rate, args.seconds, args.clients)

        print(
            f"\nPaced {args.rate:.0f} requests/s for {args.seconds:.0f} s each, latency from "
            f"the scheduled time; {len(cookies)} members in turn (target p95 <= "
            f"{TARGET_P95_MS:.0f} ms)\n"
        )
        report("floor", PING, run(PING), False)
        for label, path in pages:
            report(label, path, run(path), True)
        if timetable is None:
            print(
                "timetable  the portal's classes timetable (classes_portal:timetable) is not "
                "on main: not measured"
            )
        report("floor", PING + " (after)", run(PING), False)
    print(f"\nLoad average at end: {load()}")


if __name__ == "__main__":
    main()
