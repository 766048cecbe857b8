"""``/healthz``: is this process able to serve?  200 when every dependency answers."""

from __future__ import annotations

import time

import redis
from django.conf import settings
from django.db import DatabaseError, connections
from django.http import HttpRequest, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET


def check_database(alias: str = "default") -> str | None:
    try:
        with connections[alias].cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except DatabaseError as exc:
        connections[alias].close_if_unusable_or_obsolete()
        return f"database unreachable: {exc.__class__.__name__}"
    return None


def check_redis(url: str) -> str | None:
    client = redis.Redis.from_url(url, socket_connect_timeout=1, socket_timeout=1)
    try:
        client.ping()
    except redis.RedisError as exc:
        return f"redis unreachable: {exc.__class__.__name__}"
    finally:
        client.close()
    return None


@never_cache
@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    started = time.monotonic()
    checks: dict[str, str] = {}
    failures: list[str] = []
    db_error = check_database()
    checks["database"] = db_error or "ok"
    if db_error:
        failures.append("database")
    if settings.REDIS_URL:
        redis_error = check_redis(settings.REDIS_URL)
        checks["redis"] = redis_error or "ok"
        if redis_error:
            failures.append("redis")
    body = {
        "status": "ok" if not failures else "unavailable",
        "checks": checks,
        "failed": failures,
        "elapsed_ms": round((time.monotonic() - started) * 1000, 1),
    }
    return JsonResponse(body, status=503 if failures else 200)
