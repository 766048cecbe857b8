"""What every benchmark needs around its own measurement: the service arguments, a Django
environment on a database of its own (dropped and made again), gunicorn serving the real
app on a free port, and the figures printed the same way.

Each benchmark still says what it seeds and what it measures; only the scaffolding is here.
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from types import TracebackType

ROOT = Path(__file__).resolve().parent.parent
SECRET_KEY = "benchmark-only-secret-key-0123456789-abcdefghijklmnop"


def add_service_args(
    parser: argparse.ArgumentParser,
    *,
    database: str,
    redis_db: int,
    database_env: str = "BENCH_DATABASE_URL",
    redis_env: str = "BENCH_REDIS_URL",
) -> None:
    """``--database-url`` (a database of the benchmark's own, which it drops) and
    ``--redis-url``, each defaulting to an environment variable, then to local services."""
    parser.add_argument(
        "--database-url",
        default=os.environ.get(database_env, f"postgres://postgres@127.0.0.1:5432/{database}"),
    )
    parser.add_argument(
        "--redis-url", default=os.environ.get(redis_env, f"redis://127.0.0.1:6379/{redis_db}")
    )


def django_environment(
    args: argparse.Namespace, *, cache_prefix: str, **extra: str
) -> dict[str, str]:
    """The settings a benchmark runs the project with: production-like (no DEBUG), its own
    database, Redis and cache prefix, quiet logs, mail kept in memory."""
    return {
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "DATABASE_URL": args.database_url,
        "REDIS_URL": args.redis_url,
        "SECRET_KEY": SECRET_KEY,
        "DEBUG": "0",
        "SECURE_SSL_REDIRECT": "0",
        "CACHE_KEY_PREFIX": cache_prefix,
        "LOG_LEVEL": "WARNING",
        "EMAIL_BACKEND": "django.core.mail.backends.locmem.EmailBackend",
        **extra,
    }


def database_exists(url: str) -> bool:
    import psycopg

    server, name = url.rsplit("/", 1)
    with psycopg.connect(f"{server}/postgres", autocommit=True) as conn:
        found = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone()
    return found is not None


def recreate_database(url: str) -> None:
    """Drop the benchmark's database (closing its connections) and create it empty."""
    import psycopg

    server, name = url.rsplit("/", 1)
    with psycopg.connect(f"{server}/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')


def django_ready(environment: Mapping[str, str], *, fresh_database: bool = True) -> None:
    """Apply ``environment``, make the database again (unless kept), set Django up and
    migrate."""
    os.environ.update(environment)
    if fresh_database:
        recreate_database(environment["DATABASE_URL"])
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class Gunicorn:
    """The real app (``config.wsgi``) under gunicorn on a free local port, as the Procfile
    runs it: ``threads`` above 1 selects gthread workers.  ``ready(port)`` says when it
    answers; its log goes to ``<tmp>/<log_name>.log``."""

    def __init__(
        self,
        environment: Mapping[str, str],
        *,
        workers: int,
        threads: int,
        ready: Callable[[int], bool],
        log_name: str,
        timeout: float = 60.0,
        extra: tuple[str, ...] = (),
    ) -> None:
        self.environment = {**os.environ, **environment}
        self.workers, self.threads, self.extra = workers, threads, extra
        self.ready, self.timeout = ready, timeout
        self.log_path = Path(tempfile.gettempdir()) / f"{log_name}.log"
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> Gunicorn:
        command = [sys.executable, "-m", "gunicorn", "config.wsgi", "--workers"]
        command += [str(self.workers), "--bind", f"127.0.0.1:{self.port}"]
        command += ["--log-level", "warning", "--backlog", "2048", *self.extra]
        if self.threads > 1:
            command += ["--worker-class", "gthread", "--threads", str(self.threads)]
        self.log = open(self.log_path, "wb")
        self.process = subprocess.Popen(command, cwd=ROOT, env=self.environment, stderr=self.log)
        deadline = time.monotonic() + self.timeout
        while time.monotonic() < deadline:
            try:
                if self.ready(self.port):
                    return self
            except OSError:
                pass
            if self.process.poll() is not None:
                break
            time.sleep(0.2)
        self.__exit__(None, None, None)
        raise RuntimeError(f"gunicorn did not start; see {self.log_path}")

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(10)
        self.log.close()


def percentiles(samples: list[float], width: int = 6) -> str:
    """p50, p95, p99 and the slowest of ``samples`` (seconds), in milliseconds."""
    if not samples:
        return "no samples"
    ordered = sorted(samples)

    def at(q: float) -> float:
        return ordered[min(int(q * len(ordered)), len(ordered) - 1)] * 1000

    return (
        f"p50 {at(0.50):{width}.1f} ms  p95 {at(0.95):{width}.1f} ms  "
        f"p99 {at(0.99):{width}.1f} ms  max {ordered[-1] * 1000:{width}.1f} ms"
    )


def load() -> str:
    """The machine's load averages (1, 5, 15 minutes): print them beside the figures."""
    return " ".join(f"{x:.2f}" for x in os.getloadavg())
