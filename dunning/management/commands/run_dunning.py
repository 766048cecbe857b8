"""``manage.py run_dunning [--date YYYY-MM-DD]``: one dunning pass, as of that date.

The hourly beat job runs the same pass.  ``--date`` moves the one clock to that local
date (keeping the time of day), for catching up or for trying the ladder in the demo.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.core.management.base import BaseCommand, CommandParser
from tqdm import tqdm

from config import clock
from config.inputs import command_date
from dunning.services.run import due_case_ids, dunning_run
from members.audit import as_job


class Command(BaseCommand):
    help = "Advance every dunning case that is due: ladder steps, messages and retries."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--date", help="Run as of this local date (YYYY-MM-DD); default today.")
        parser.add_argument(
            "--no-progress", action="store_true", help="Do not draw a progress bar."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        # Run by the scheduler (cron) or by hand: recorded as this job in the audit trail.
        with as_job("manage.py run_dunning"):
            self._handle(options)

    def _handle(self, options: dict[str, Any]) -> None:
        day = self._parse_date(options.get("date"))
        if day is None:
            self._run(options)
            return
        with clock.travel_to_date(day):
            self._run(options)

    def _parse_date(self, value: str | None) -> dt.date | None:
        if not value:
            return None
        return command_date(value)

    def _run(self, options: dict[str, Any]) -> None:
        now = clock.now()
        total = len(due_case_ids(now))
        bar = tqdm(
            total=total,
            unit="case",
            desc="Dunning",
            disable=bool(options.get("no_progress")) or total == 0,
            file=self.stderr,
        )

        def advance(count: int) -> None:
            bar.update(count)

        with bar:
            report = dunning_run(now, progress=advance)
        retries = ", ".join(f"{n} {k}" for k, n in sorted(report.retries.items())) or "none"
        self.stdout.write(
            f"{clock.today()}: {report.due} cases due, {report.advanced} advanced, "
            f"{report.steps} ladder steps, {report.messages_sent} messages sent, "
            f"retries: {retries}."
        )
