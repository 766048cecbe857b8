"""Fail fast, and say how to fix it, when PostgreSQL or Redis is not reachable."""

from __future__ import annotations

import os
import socket
import sys
from urllib.parse import urlparse

HOW_TO_START = {
    "PostgreSQL": "pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start",
    "Redis": 'redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no',
}


def reachable(url: str, default_port: int) -> str | None:
    parsed = urlparse(url)
    host = parsed.hostname or "127.0.0.1"
    port = parsed.port or default_port
    try:
        with socket.create_connection((host, port), timeout=2):
            return None
    except OSError as exc:
        return f"{host}:{port} ({exc.strerror or exc})"


def main() -> int:
    database_url = os.environ.get("DATABASE_URL", "")
    redis_url = os.environ.get("REDIS_URL", "")
    problems = []
    if not database_url.startswith(("postgres://", "postgresql://")):
        problems.append(
            ("PostgreSQL", f"DATABASE_URL must be a PostgreSQL URL, got {database_url!r}")
        )
    elif error := reachable(database_url, 5432):
        problems.append(("PostgreSQL", f"cannot connect to {error}"))
    if not redis_url.startswith(("redis://", "rediss://")):
        problems.append(("Redis", f"REDIS_URL must be a Redis URL, got {redis_url!r}"))
    elif error := reachable(redis_url, 6379):
        problems.append(("Redis", f"cannot connect to {error}"))
    for service, message in problems:
        print(f"{service} is missing: {message}", file=sys.stderr)
        print(f"  Start it with: {HOW_TO_START[service]}", file=sys.stderr)
        print("  or point the tests elsewhere with DATABASE_URL / REDIS_URL.", file=sys.stderr)
    if problems:
        return 1
    print("PostgreSQL and Redis are reachable.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
