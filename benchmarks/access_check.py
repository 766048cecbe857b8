"""Benchmark the gate: ``POST /api/v1/access/check`` against the framework's floor.

    .venv/bin/python benchmarks/access_check.py
    .venv/bin/python benchmarks/access_check.py --variants default,server-binding

One command: it recreates its own PostgreSQL database (``gym_bench_access``;
``--database-url``), migrates it, seeds it (``seed_demo --members 2000 --json``) for the
demo devices' keys and active member cards, then serves the real app with gunicorn
(``config.wsgi``, 2 workers, on loopback, DEBUG off) and drives it with a light stdlib
client: a few processes of threads, each with its own connection and pre-built request
bytes (keep-alive when the server allows it).  For each settings variant it measures:

(a) saturation: a fixed number of requests from N concurrent clients, alternating
    ``GET /api/v1/ping`` (no authentication, no database: the floor) and the check,
    for each one's throughput and latency, and the ratio check/ping;
(b) a paced run: the check at 200 requests/s for 20 s, its latency measured from each
    request's scheduled time (so a stalled server cannot hide its queue).

Between the two, (a) also measures probes mounted only in the benchmark's own gunicorn
(``FLOOR_URLS``), with no authentication, rules or serializer, and (like the gate)
without Django's ``SELECT 1`` health check:

- ``POST /bench/post``: the check's request and JSON body, parsed; no database;
- ``POST /bench/db-read``: that, and one prepared indexed read of the card;
- ``POST /bench/db-insert``: that, and instead one insert committed like the gate's log;
- ``POST /bench/db-floor``: the read, then the insert.

Their ratios to ping are the ceilings for any check that asks PostgreSQL on the
request, that logs in it, or both.

Targets on the 2-core reference machine: check throughput >= 70% of ping's; p99 <= 25 ms
at 200 requests/s.  The load generator shares the cores with the server.

Variants change database settings without touching ``config/settings.py``: each runs
gunicorn with a generated settings module that imports the project's and adjusts
``DATABASES`` (see ``VARIANTS``).  Every variant starts from the same data: the events a
run adds are deleted before the next.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import multiprocessing as mp
import os
import re
import resource
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

SECRET_KEY = "benchmark-only-secret-key-0123456789-abcdefghijklmnop"
# Members enter at one turnstile and leave by the other, so the zone's occupancy stays
# realistic (only entering would fill the zone and turn every later check into zone_full).
DEVICE = "gym-floor-in"
EXIT_DEVICE = "gym-floor-out"
# The benchmark's probe (see the docstring), written beside the generated settings.
FLOOR_URLS = """
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from config.db import checked_by_first_use, prepared_cursor
from config.urls import urlpatterns as project_urls
from django.urls import path

READ = "SELECT id, member_id, status FROM access_control_credential WHERE value = %s"
LOG = (
    "INSERT INTO bench_floor_log (credential_id) SELECT %s::bigint "
    "FROM (SELECT set_config('synchronous_commit', 'off', true) AS s) AS c "
    "WHERE c.s = 'off' RETURNING id"
)


class DatabaseFloor(APIView):
    # The least a logged check can do: read the card, then log the attempt.

    authentication_classes = []
    permission_classes = [AllowAny]
    read = True
    log = True

    def post(self, request):
        credential = str(request.data.get("credential", ""))
        if not (self.read or self.log):
            return Response({"granted": False, "reason": "floor", "event_id": None})
        # Like the gate, no SELECT 1 before the first statement on a kept connection.
        return Response(checked_by_first_use(lambda: self.logged(credential)))

    def logged(self, credential):
        row = event = None
        with prepared_cursor() as cursor:
            if self.read:
                cursor.execute(READ, [credential])
                row = cursor.fetchone()
            if self.log:
                cursor.execute(LOG, [row[0] if row else None])
                (event,) = cursor.fetchone()
        return {"granted": row is not None, "reason": "floor", "event_id": event}


urlpatterns = [
    path("bench/post", DatabaseFloor.as_view(read=False, log=False)),
    path("bench/db-read", DatabaseFloor.as_view(log=False)),
    path("bench/db-insert", DatabaseFloor.as_view(read=False)),
    path("bench/db-floor", DatabaseFloor.as_view()),
    *project_urls,
]
"""
# The probes between ping and the check (see the docstring).
PROBES = {
    "post": "/bench/post",
    "read": "/bench/db-read",
    "insert": "/bench/db-insert",
    "floor": "/bench/db-floor",
}
PROBE_LADDER = {
    "post": "the check's request (POST, JSON body parsed), no database",
    "read": "post + one indexed read of the card: any check that asks PostgreSQL",
    "insert": "post + one insert committed like the gate's log: any check logged there",
    "floor": "post + the read, then the insert: any check that reads and logs",
    "check": "the gate itself",
}
FLOOR_TABLE = (
    "CREATE TABLE IF NOT EXISTS bench_floor_log "
    "(id bigserial PRIMARY KEY, credential_id bigint, at timestamptz NOT NULL DEFAULT now())"
)
# name -> lines appended to a settings module that starts with ``from config.settings import *``
VARIANTS: dict[str, str] = {
    "default": "",
    "conn-max-age-0": 'DATABASES["default"]["CONN_MAX_AGE"] = 0',
    "no-health-checks": 'DATABASES["default"]["CONN_HEALTH_CHECKS"] = False',
    # psycopg binds parameters server-side and prepares a statement after 5 executions,
    # so PostgreSQL plans the gate's SELECT once per connection instead of every time.
    # Server-side binding alone: Django still turns psycopg's prepared statements off.
    "server-binding": 'DATABASES["default"]["OPTIONS"]["server_side_binding"] = True',
    # ... and with them on: PostgreSQL plans the gate's SELECT once per connection
    # (psycopg prepares a query after its 5th execution) instead of on every check.
    "prepared": (
        'DATABASES["default"]["OPTIONS"]["server_side_binding"] = True\n'
        'DATABASES["default"]["OPTIONS"]["prepare_threshold"] = 5'
    ),
    "prepared-generic": (
        'DATABASES["default"]["OPTIONS"]["server_side_binding"] = True\n'
        'DATABASES["default"]["OPTIONS"]["prepare_threshold"] = 5\n'
        'DATABASES["default"]["OPTIONS"]["options"] = "-c plan_cache_mode=force_generic_plan"'
    ),
}


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--database-url",
        default=os.environ.get(
            "BENCH_ACCESS_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/gym_bench_access"
        ),
    )
    parser.add_argument(
        "--redis-url", default=os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/12")
    )
    parser.add_argument("--members", type=int, default=2000)
    parser.add_argument("--reuse", action="store_true", help="keep the database if it is seeded")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers")
    parser.add_argument(
        "--worker-class", default="sync", help="gunicorn worker class (sync, as in the Procfile)"
    )
    parser.add_argument("--requests", type=int, default=3000, help="per endpoint and round")
    parser.add_argument("--rounds", type=int, default=2, help="ping/check rounds, alternating")
    parser.add_argument("--concurrency", type=int, default=8, help="saturation connections")
    parser.add_argument("--client-processes", type=int, default=2)
    parser.add_argument("--rate", type=float, default=200.0, help="paced run, requests/s")
    parser.add_argument("--duration", type=float, default=20.0, help="paced run, seconds")
    parser.add_argument("--paced-threads", type=int, default=8)
    parser.add_argument(
        "--variants",
        default="default",
        help=f"comma-separated settings variants: {', '.join(VARIANTS)}",
    )
    parser.add_argument("--cards", type=int, default=500, help="distinct cards presented")
    args = parser.parse_args()
    unknown = set(args.variants.split(",")) - set(VARIANTS)
    if unknown:
        parser.error(f"unknown variants: {', '.join(sorted(unknown))}")
    return args


# --- The database and the app -----------------------------------------------------------------


def base_env(args: argparse.Namespace) -> dict[str, str]:
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "DATABASE_URL": args.database_url,
        "REDIS_URL": args.redis_url,
        "SECRET_KEY": SECRET_KEY,
        "DEBUG": "0",
        "SECURE_SSL_REDIRECT": "0",
        "CACHE_KEY_PREFIX": "gym-bench-access",
        "CELERY_TASK_ALWAYS_EAGER": "1",
        "LOG_LEVEL": "WARNING",
        "EMAIL_BACKEND": "django.core.mail.backends.locmem.EmailBackend",
        "PYTHONUNBUFFERED": "1",
    }


def prepare_database(args: argparse.Namespace, manifest_path: Path) -> dict[str, Any]:
    """Recreate, migrate and seed the benchmark's database; the seed manifest."""
    import psycopg

    env = base_env(args)
    server, name = args.database_url.rsplit("/", 1)
    with psycopg.connect(f"{server}/postgres", autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone()
        if not (args.reuse and exists):
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            conn.execute(f'CREATE DATABASE "{name}"')
    manage = [sys.executable, "manage.py"]
    started = time.perf_counter()
    subprocess.run([*manage, "migrate", "-v", "0"], cwd=ROOT, env=env, check=True)
    seed = ["seed_demo", "--members", str(args.members), "--no-progress"]
    subprocess.run(
        [*manage, *seed, "--json", str(manifest_path)],
        cwd=ROOT,
        env=env,
        check=True,
        stdout=subprocess.DEVNULL,
    )
    print(f"  database ready (migrate + seed) in {time.perf_counter() - started:.1f} s")
    return dict(json.loads(manifest_path.read_text()))


def active_cards(limit: int) -> list[str]:
    """Cards of members whose membership is live: the gate's usual traffic."""
    from access_control.models import Credential, CredentialStatus

    return list(
        Credential.objects.filter(
            status=CredentialStatus.ACTIVE,
            kind="rfid",
            member__memberships__status__in=["active", "trialing"],
        )
        .order_by("pk")
        .values_list("value", flat=True)
        .distinct()[:limit]
    )


def analyze() -> None:
    """Fresh planner statistics, as autovacuum keeps them on a live system.

    Right after seeding, the access log's statistics say "empty" and PostgreSQL plans
    the occupancy count as a quadratic nested loop; measuring that would measure the
    seed, not the gate.
    """
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE")


def forget_benchmark_events(since_pk: int) -> None:
    from django.db import connection

    from access_control.models import AccessEvent
    from access_control.presence import presence_rebuild

    AccessEvent.objects.filter(pk__gt=since_pk).delete()
    with connection.cursor() as cursor:
        cursor.execute("TRUNCATE bench_floor_log")
    presence_rebuild()  # who is inside, from the events that are left
    analyze()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class Gunicorn:
    args: argparse.Namespace
    variant: str
    settings_dir: Path
    port: int = 0
    process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        module = f"bench_settings_{self.variant.replace('-', '_')}"
        (self.settings_dir / "bench_urls.py").write_text(FLOOR_URLS)
        (self.settings_dir / f"{module}.py").write_text(
            f"from config.settings import *  # noqa: F403\n\n{VARIANTS[self.variant]}\n"
            'ROOT_URLCONF = "bench_urls"\n'
        )
        env = base_env(self.args)
        env["DJANGO_SETTINGS_MODULE"] = module
        env["PYTHONPATH"] = os.pathsep.join([str(self.settings_dir), str(ROOT)])
        self.port = free_port()
        command = [sys.executable, "-m", "gunicorn", "config.wsgi", "--workers"]
        command += [str(self.args.workers), "--worker-class", self.args.worker_class]
        command += ["--bind", f"127.0.0.1:{self.port}", "--log-level", "warning"]
        self.process = subprocess.Popen(command, cwd=ROOT, env=env)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                status, _ = Client("127.0.0.1", self.port).send(ping_request(self.port))
                if status == 200:
                    return
            except OSError:
                time.sleep(0.2)
        raise RuntimeError("gunicorn did not start")

    def stop(self) -> None:
        if self.process is not None:
            self.process.send_signal(signal.SIGTERM)
            self.process.wait(30)


class CpuMeter:
    """CPU seconds spent by the app (gunicorn's workers) and by PostgreSQL for it.

    Read from /proc, so it holds on a machine shared with other work: throughput there
    moves with the neighbours' load, CPU per request much less.  A thread samples every
    process involved a few times a second, so a database connection that is closed and
    replaced mid-run (``CONN_MAX_AGE``) is still counted, to within one sample.
    """

    INTERVAL = 0.2

    def __init__(self, master_pid: int, database_url: str) -> None:
        self.master_pid = master_pid
        self.database_url = database_url
        self.tick = os.sysconf("SC_CLK_TCK")
        self.spent = {"app": 0.0, "db": 0.0}
        self._last: dict[int, float] = {}
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def _cpu(self, pid: int) -> float | None:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            return None
        return (int(fields[11]) + int(fields[12])) / self.tick

    def _workers(self) -> list[int]:
        found = []
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit():
                with contextlib.suppress(OSError, IndexError):
                    stat = (entry / "stat").read_text().rsplit(")", 1)[1].split()
                    if int(stat[1]) == self.master_pid:
                        found.append(int(entry.name))
        return found

    def _sample(self, backends: list[int], baseline: bool) -> None:
        for side, pids in (("app", self._workers()), ("db", backends)):
            for pid in pids:
                cpu = self._cpu(pid)
                if cpu is None:
                    continue
                # A process first seen after the start did all its work for this run.
                previous = self._last.get(pid, cpu if baseline else 0.0)
                self.spent[side] += cpu - previous
                self._last[pid] = cpu

    def _run(self) -> None:
        import psycopg

        query = (
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
            "AND backend_type = 'client backend' AND pid <> pg_backend_pid()"
        )
        with psycopg.connect(self.database_url, autocommit=True) as conn:
            baseline = True
            while True:
                stopping = self._stop.is_set()
                backends = [int(pid) for (pid,) in conn.execute(query).fetchall()]
                self._sample(backends, baseline)
                baseline = False
                if stopping:
                    return
                self._stop.wait(self.INTERVAL)

    def __enter__(self) -> CpuMeter:
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        time.sleep(self.INTERVAL)  # the baseline is taken
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        assert self._thread is not None
        self._thread.join()


# --- The client: raw HTTP/1.1 over sockets, requests built once ---------------------------------


def ping_request(port: int) -> bytes:
    return (
        f"GET /api/v1/ping HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nAccept: application/json\r\n\r\n"
    ).encode()


def check_requests(
    port: int, passes: list[tuple[str, str]], path: str = "/api/v1/access/check"
) -> list[bytes]:
    """One request per (device key, card) pass."""
    requests = []
    for key, card in passes:
        body = json.dumps({"credential": card}).encode()
        head = (
            f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
            f"Authorization: Device {key}\r\nContent-Type: application/json\r\n"
            f"Accept: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
        ).encode()
        requests.append(head + body)
    return requests


_LENGTH = re.compile(rb"\r\ncontent-length:\s*(\d+)", re.IGNORECASE)
_CLOSE = re.compile(rb"\r\nconnection:\s*close", re.IGNORECASE)
_REASON = re.compile(rb'"reason":"([a-z_]+)"')


class Client:
    """One connection, reopened when the server closes it (gunicorn's sync workers do)."""

    def __init__(self, host: str, port: int) -> None:
        self.address = (host, port)
        self.sock: socket.socket | None = None

    def _connect(self) -> socket.socket:
        sock = socket.create_connection(self.address, timeout=30)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return sock

    def send(self, payload: bytes) -> tuple[int, bytes]:
        for attempt in (1, 2):
            fresh = self.sock is None
            if self.sock is None:
                self.sock = self._connect()
            self.sock.sendall(payload)
            data = self.sock.recv(65536)
            if data:
                break
            self.close()  # a kept-alive connection the server had closed: once more
            if fresh or attempt == 2:
                raise ConnectionError("the server closed the connection")
        head_end = data.find(b"\r\n\r\n")
        while head_end < 0:
            data += self._recv()
            head_end = data.find(b"\r\n\r\n")
        head = data[:head_end]
        length_match = _LENGTH.search(head)
        length = int(length_match.group(1)) if length_match else 0
        body = data[head_end + 4 :]
        while len(body) < length:
            body += self._recv()
        if _CLOSE.search(head):
            self.close()
        return int(head[9:12]), body

    def _recv(self) -> bytes:
        assert self.sock is not None
        chunk = self.sock.recv(65536)
        if not chunk:
            raise ConnectionError("the connection closed mid-response")
        return chunk

    def close(self) -> None:
        if self.sock is not None:
            self.sock.close()
            self.sock = None


@dataclass
class Sample:
    latencies: list[float] = field(default_factory=list)  # seconds
    statuses: Counter[int] = field(default_factory=Counter)
    reasons: Counter[str] = field(default_factory=Counter)
    errors: int = 0
    client_cpu: float = 0.0  # seconds of the load generator's own CPU

    def merge(self, other: Sample) -> None:
        self.latencies += other.latencies
        self.statuses.update(other.statuses)
        self.reasons.update(other.reasons)
        self.errors += other.errors
        self.client_cpu += other.client_cpu


def _own_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _closed_loop(port: int, payloads: list[bytes], count: int, offset: int, out: Sample) -> None:
    client = Client("127.0.0.1", port)
    for n in range(count):
        payload = payloads[(offset + n) % len(payloads)]
        started = time.perf_counter()
        try:
            status, body = client.send(payload)
        except OSError:
            out.errors += 1
            client.close()
            continue
        out.latencies.append(time.perf_counter() - started)
        out.statuses[status] += 1
        reason = _REASON.search(body)
        if reason:
            out.reasons[reason.group(1).decode()] += 1
    client.close()


def _saturation_process(
    port: int,
    payloads: list[bytes],
    count: int,
    threads: int,
    index: int,
    start: Any,
    results: Any,
) -> None:
    samples = [Sample() for _ in range(threads)]
    share = [count // threads + (1 if t < count % threads else 0) for t in range(threads)]
    workers = [
        threading.Thread(
            target=_closed_loop,
            args=(port, payloads, share[t], (index * threads + t) * 7919, samples[t]),
        )
        for t in range(threads)
    ]
    start.wait()
    cpu = _own_cpu()
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    merged = Sample(client_cpu=_own_cpu() - cpu)
    for sample in samples:
        merged.merge(sample)
    results.put(merged)


def saturate(args: argparse.Namespace, port: int, payloads: list[bytes]) -> tuple[Sample, float]:
    """``args.requests`` requests from ``args.concurrency`` connections; (sample, seconds)."""
    processes = args.client_processes
    threads = max(1, args.concurrency // processes)
    per_process = [
        args.requests // processes + (1 if p < args.requests % processes else 0)
        for p in range(processes)
    ]
    context = mp.get_context("fork")
    start, results = context.Event(), context.Queue()
    children = [
        context.Process(
            target=_saturation_process,
            args=(port, payloads, per_process[p], threads, p, start, results),
        )
        for p in range(processes)
    ]
    for child in children:
        child.start()
    time.sleep(0.3)
    began = time.perf_counter()
    start.set()
    merged = Sample()
    for _ in children:
        merged.merge(results.get())
    elapsed = time.perf_counter() - began
    for child in children:
        child.join()
    return merged, elapsed


def _paced_process(
    port: int, payloads: list[bytes], rate: float, duration: float, threads: int, results: Any
) -> None:
    total = int(rate * duration)
    began = time.perf_counter() + 0.2
    samples = [Sample() for _ in range(threads)]
    service: list[list[float]] = [[] for _ in range(threads)]

    # A server slower than the schedule would make the run last for ever: past three
    # times its duration, what is left is counted as not sent (an error).
    deadline = began + 3 * duration

    def run(thread: int) -> None:
        client, out = Client("127.0.0.1", port), samples[thread]
        for n in range(thread, total, threads):
            if time.perf_counter() > deadline:
                out.errors += 1
                continue
            due = began + n / rate
            wait = due - time.perf_counter()
            if wait > 0:
                time.sleep(wait)
            sent = time.perf_counter()
            try:
                status, body = client.send(payloads[n % len(payloads)])
            except OSError:
                out.errors += 1
                client.close()
                continue
            done = time.perf_counter()
            out.latencies.append(done - due)
            service[thread].append(done - sent)
            out.statuses[status] += 1
            reason = _REASON.search(body)
            if reason:
                out.reasons[reason.group(1).decode()] += 1
        client.close()

    workers = [threading.Thread(target=run, args=(t,)) for t in range(threads)]
    cpu = _own_cpu()
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    merged = Sample(client_cpu=_own_cpu() - cpu)
    for sample in samples:
        merged.merge(sample)
    elapsed = min(time.perf_counter(), deadline) - began
    results.put((merged, [x for part in service for x in part], elapsed))


def paced(
    args: argparse.Namespace, port: int, payloads: list[bytes]
) -> tuple[Sample, list[float], float]:
    context = mp.get_context("fork")
    results = context.Queue()
    child = context.Process(
        target=_paced_process,
        args=(port, payloads, args.rate, args.duration, args.paced_threads, results),
    )
    child.start()
    outcome = results.get()
    child.join()
    return outcome


# --- Reporting -----------------------------------------------------------------------------------


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    return ordered[min(len(ordered) - 1, max(0, round(fraction * len(ordered)) - 1))]


def latency_line(latencies: list[float]) -> str:
    ms = [x * 1000 for x in latencies]
    return (
        f"p50 {percentile(ms, 0.50):6.2f} ms  p95 {percentile(ms, 0.95):6.2f} ms  "
        f"p99 {percentile(ms, 0.99):6.2f} ms  max {max(ms, default=0):7.2f} ms  "
        f"mean {statistics.fmean(ms) if ms else 0:6.2f} ms"
    )


def outcome_line(sample: Sample) -> str:
    statuses = ", ".join(f"{k}: {v}" for k, v in sorted(sample.statuses.items()))
    reasons = ", ".join(f"{k} {v}" for k, v in sample.reasons.most_common(4))
    return f"HTTP {{{statuses}}}  errors or not sent {sample.errors}" + (
        f"  reasons: {reasons}" if reasons else ""
    )


def cpu_line(spent: dict[str, float], sample: Sample) -> str:
    count = max(len(sample.latencies), 1)

    def ms(seconds: float) -> str:
        return f"{seconds / count * 1000:.2f} ms"

    return (
        f"app {ms(spent['app'])}, PostgreSQL {ms(spent['db'])}, "
        f"load generator {ms(sample.client_cpu)}"
    )


def gate_passes(keys: tuple[str, str], cards: list[str]) -> list[tuple[str, str]]:
    """Each card in at the entry turnstile, then out at the exit one."""
    return [(key, card) for card in cards for key in keys]


def in_process_breakdown(passes: list[tuple[str, str]], count: int = 300) -> None:
    """(c) Where a check's time goes, in this process: SQL round trips versus Python."""
    from django.db import connection

    from access_control import services

    spent = {"sql": 0.0, "statements": 0}

    def timed(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        started = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            spent["sql"] += time.perf_counter() - started
            spent["statements"] += 1

    def check(key: str, card: str) -> None:
        device = services.device_authenticate(key)  # as the API does on every request
        assert device is not None
        services.access_check(device, credential=card)

    for key, card in passes[:20]:
        check(key, card)
    started = time.perf_counter()
    with connection.execute_wrapper(timed):
        for n in range(count):
            check(*passes[n % len(passes)])
    each = (time.perf_counter() - started) / count * 1000
    sql = spent["sql"] / count * 1000
    print(
        f"\n(c) in one process, {count} checks (with authentication): {each:.2f} ms each; "
        f"SQL {sql:.2f} ms ({spent['statements'] / count:.1f} statements), "
        f"Python {each - sql:.2f} ms"
    )


@dataclass
class VariantResult:
    variant: str
    ping_rps: float
    check_rps: float
    check_p99_paced_ms: float
    ok: bool


def run_variant(
    args: argparse.Namespace, variant: str, passes: list[tuple[str, str]], settings_dir: Path
) -> VariantResult:
    from access_control.models import AccessEvent

    mark = AccessEvent.objects.order_by("-pk").values_list("pk", flat=True).first() or 0
    server = Gunicorn(args, variant, settings_dir)
    server.start()
    print(
        f"\n== variant {variant!r}: gunicorn {args.workers} x {args.worker_class} on :{server.port}"
    )
    try:
        ping = [ping_request(server.port)]
        checks = check_requests(server.port, passes)
        endpoints = {
            "ping": ping,
            **{name: check_requests(server.port, passes, path) for name, path in PROBES.items()},
            "check": checks,
        }
        warm = argparse.Namespace(**{**vars(args), "requests": 400})
        for payloads in endpoints.values():
            saturate(warm, server.port, payloads)
        analyze()

        assert server.process is not None
        totals: dict[str, tuple[Sample, float]] = {}
        cpu: dict[str, dict[str, float]] = {}
        for round_number in range(1, args.rounds + 1):
            for name, payloads in endpoints.items():
                with CpuMeter(server.process.pid, args.database_url) as meter:
                    sample, seconds = saturate(args, server.port, payloads)
                print(
                    f"  round {round_number} {name:<6} {len(sample.latencies) / seconds:8.1f} req/s"
                    f"  ({len(sample.latencies)} in {seconds:.2f} s, "
                    f"load average {os.getloadavg()[0]:.1f})"
                )
                total, total_seconds = totals.get(name, (Sample(), 0.0))
                total.merge(sample)
                totals[name] = (total, total_seconds + seconds)
                sums = cpu.setdefault(name, {"app": 0.0, "db": 0.0})
                for side in ("app", "db"):
                    sums[side] += meter.spent[side]

        print(
            f"\n  (a) saturation: {args.requests} requests x {args.rounds} rounds per endpoint, "
            f"{args.concurrency} connections from {args.client_processes} client processes"
        )
        rps = {}
        for name in endpoints:
            sample, seconds = totals[name]
            rps[name] = len(sample.latencies) / seconds
            print(f"  {name:<6} {rps[name]:8.1f} req/s  {latency_line(sample.latencies)}")
            print(f"        {outcome_line(sample)}")
            print(f"        CPU per request: {cpu_line(cpu[name], sample)}")
        ratio = rps["check"] / rps["ping"]
        print("  the ladder from ping to the check (throughput as a share of ping's):")
        for name, what in PROBE_LADDER.items():
            print(f"    {rps[name] / rps['ping']:4.0%}  {name:<6} {what}")
        print(f"  the check is {rps['check'] / rps['floor']:.0%} of the floor")

        with CpuMeter(server.process.pid, args.database_url) as meter:
            sample, service, seconds = paced(args, server.port, checks)
        achieved = len(sample.latencies) / seconds
        print(
            f"\n  (b) paced: check at {args.rate:.0f} req/s for {args.duration:.0f} s "
            f"({args.paced_threads} connections), achieved {achieved:.1f} req/s"
        )
        print(f"  from schedule  {latency_line(sample.latencies)}")
        print(f"  service time   {latency_line(service)}")
        print(f"                 {outcome_line(sample)}")
        print(f"                 CPU per request: {cpu_line(meter.spent, sample)}")
        p99 = percentile([x * 1000 for x in sample.latencies], 0.99)

        throughput_ok = ratio >= 0.70
        latency_ok = p99 <= 25.0 and sample.errors == 0
        print(
            f"\n  {'PASS' if throughput_ok else 'FAIL'}  check throughput is {ratio:.0%} of ping's "
            f"(target >= 70%)"
        )
        print(
            f"  {'PASS' if latency_ok else 'FAIL'}  p99 at {args.rate:.0f} req/s is "
            f"{p99:.2f} ms (target <= 25 ms)"
        )
        return VariantResult(variant, rps["ping"], rps["check"], p99, throughput_ok and latency_ok)
    finally:
        server.stop()
        forget_benchmark_events(mark)


def main() -> None:
    args = parse_args()
    os.environ.update(base_env(args))
    print(
        f"Access check benchmark: {os.cpu_count()} CPUs, {args.members} demo members, "
        f"variants {args.variants}"
    )
    with tempfile.TemporaryDirectory(prefix="bench-access-") as scratch:
        manifest = prepare_database(args, Path(scratch) / "manifest.json")
        import django

        django.setup()
        keys = {d["name"]: d["key"] for d in manifest["devices"]}
        from django.db import connection

        with connection.cursor() as cursor:
            cursor.execute(FLOOR_TABLE)
        analyze()
        cards = active_cards(args.cards)
        passes = gate_passes((keys[DEVICE], keys[EXIT_DEVICE]), cards)
        print(
            f"  presenting {len(cards)} distinct active cards, in at {DEVICE}, out at {EXIT_DEVICE}"
        )
        results = [
            run_variant(args, variant, passes, Path(scratch))
            for variant in args.variants.split(",")
        ]
        from access_control.models import AccessEvent

        mark = AccessEvent.objects.order_by("-pk").values_list("pk", flat=True).first() or 0
        in_process_breakdown(passes)
        forget_benchmark_events(mark)
    print("\nSummary")
    for result in results:
        print(
            f"  {result.variant:<24} ping {result.ping_rps:7.1f} req/s  "
            f"check {result.check_rps:7.1f} req/s  "
            f"ratio {result.check_rps / result.ping_rps:4.0%}  "
            f"paced p99 {result.check_p99_paced_ms:6.2f} ms  {'PASS' if result.ok else 'FAIL'}"
        )


if __name__ == "__main__":
    main()
