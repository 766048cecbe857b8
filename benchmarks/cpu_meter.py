"""CPU spent by a benchmark's server side, read from /proc (shared by the benchmarks).

On a machine shared with other work, throughput and latency move with the neighbours'
load; CPU per request much less.  :class:`CpuMeter` adds up the CPU of gunicorn's
workers (the children of its master) and of the PostgreSQL backends connected to the
benchmark's database; :func:`own_cpu` is the load generator's own.
"""

from __future__ import annotations

import contextlib
import os
import resource
import threading
import time
from pathlib import Path


def own_cpu() -> float:
    """CPU seconds of this process (all its threads) so far."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


class CpuMeter:
    """CPU seconds spent by the app (gunicorn's workers) and by PostgreSQL for it.

    A thread samples every process involved a few times a second, so a database
    connection closed and replaced mid-run (``CONN_MAX_AGE``) is still counted, to
    within one sample.  ``spent`` holds the totals since the meter started; ``mark()``
    and ``since(mark)`` measure a phase.
    """

    INTERVAL = 0.2

    def __init__(self, master_pid: int, database_url: str) -> None:
        self.master_pid = master_pid
        self.database_url = database_url
        self.tick = os.sysconf("SC_CLK_TCK")
        self.spent = {"app": 0.0, "db": 0.0}
        self._last: dict[int, float] = {}
        self.own = 0.0  # the meter's own CPU (its thread), kept out of the client's
        self._lock = threading.Lock()
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
        with self._lock:
            for side, pids in (("app", [self.master_pid, *self._workers()]), ("db", backends)):
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
                self.own = time.thread_time()
                baseline = False
                if stopping:
                    return
                self._stop.wait(self.INTERVAL)

    def mark(self) -> dict[str, float]:
        """The totals now (after one fresh sample), with the load generator's own CPU."""
        time.sleep(self.INTERVAL * 1.5)  # a sample after the phase's last answer
        with self._lock:
            return {**self.spent, "client": own_cpu() - self.own}

    def since(self, mark: dict[str, float]) -> dict[str, float]:
        now = self.mark()
        return {side: now[side] - mark[side] for side in now}

    def __enter__(self) -> CpuMeter:
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        time.sleep(self.INTERVAL)  # the baseline is taken
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        assert self._thread is not None
        self._thread.join()


def cpu_line(spent: dict[str, float], requests: int) -> str:
    """CPU per request: the app's, PostgreSQL's, the load generator's, and their sum."""
    if not requests:
        return "no requests"
    per = {side: 1000 * spent.get(side, 0.0) / requests for side in ("app", "db", "client")}
    return (
        f"CPU per request: app {per['app']:.2f} ms, PostgreSQL {per['db']:.2f} ms, "
        f"load generator {per['client']:.2f} ms; total {sum(per.values()):.2f} ms "
        f"(2 cores: {2000 / max(sum(per.values()), 1e-9):.0f} requests/s at most)"
    )
