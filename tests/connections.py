"""What happens to a kept database connection between requests, for real.

``request_starts`` does what Django does when a request begins (``close_old_connections``,
which the test client leaves out); ``server_drops_connection`` has PostgreSQL end this
thread's backend, as a server restart or a dropped idle connection would.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

import psycopg
import pytest
from django.db import DEFAULT_DB_ALIAS, connection, connections


def request_starts() -> None:
    connection.close_if_unusable_or_obsolete()


def server_drops_connection() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        (pid,) = cursor.fetchone()
    db = connection.settings_dict
    with psycopg.connect(
        host=db["HOST"] or None,
        port=db["PORT"] or None,
        dbname=db["NAME"],
        user=db["USER"] or None,
        password=db["PASSWORD"] or None,
        autocommit=True,
    ) as other:
        other.execute("SELECT pg_terminate_backend(%s, 5000)", [pid])


@contextmanager
def health_checks_counted(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[int]]:
    """Count Django's health checks (``SELECT 1`` on a kept connection); they still run."""
    checks: list[int] = []
    wrapper = type(connections[DEFAULT_DB_ALIAS])
    original: Callable[..., bool] = wrapper.is_usable

    def counted(self: object) -> bool:
        checks.append(1)
        return original(self)

    monkeypatch.setattr(wrapper, "is_usable", counted)
    yield checks
