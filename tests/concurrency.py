"""Run the same call from several threads at once, each on its own database connection."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from django.db import connections

from config.errors import DomainError


def at_once(call: Callable[[], Any], times: int = 2, *, timeout: float = 60) -> list[Any]:
    """``call()`` in ``times`` threads released together; what each returned, or the
    ``reason`` of the domain error it raised (any other error fails the test)."""
    outcomes: list[Any] = []
    errors: list[BaseException] = []
    barrier = threading.Barrier(times)

    def run() -> None:
        try:
            barrier.wait()
            outcomes.append(call())
        except DomainError as exc:
            outcomes.append(exc.reason)
        except BaseException as exc:  # reported below, in the test's thread
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run) for _ in range(times)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout)
    assert not errors, errors
    assert len(outcomes) == times, "a thread did not finish"
    return outcomes
