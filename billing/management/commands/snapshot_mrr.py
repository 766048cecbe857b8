"""Write the monthly MRR snapshots: every closed month not yet written, or rebuild them."""

from __future__ import annotations

import datetime as dt
import time
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from billing.models import MrrMonth
from billing.money import format_amount
from billing.services.snapshots import mrr_months_write
from config import clock
from config.inputs import command_date
from members.audit import as_job


def _month(text: str) -> dt.date:
    try:
        month = dt.date.fromisoformat(f"{text}-01")
    except ValueError as exc:
        raise CommandError(f"--since must be a month such as 2026-01, not {text!r}") from exc
    if not dt.date(2000, 1, 1) <= month <= dt.date(2100, 1, 1):
        raise CommandError("--since is out of range (2000-01 to 2100-01)")
    return month


class Command(BaseCommand):
    help = (
        "Write each closed month's MRR per membership (the beat task does this daily). "
        "With --rebuild, rewrite the months from --since from the records."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--since", help="first month to write, e.g. 2025-01")
        parser.add_argument("--rebuild", action="store_true", help="rewrite months already written")
        parser.add_argument("--date", help="act as if today were this date (YYYY-MM-DD)")

    def handle(self, *args: Any, **options: Any) -> None:
        # Run by the scheduler (cron) or by hand: recorded as this job in the audit trail.
        with as_job("manage.py snapshot_mrr"):
            self._handle(options)

    def _handle(self, options: dict[str, Any]) -> None:
        since = _month(options["since"]) if options["since"] else None
        if options["date"]:
            day = command_date(options["date"])
            with clock.travel_to_date(day):
                self._write(since, options["rebuild"])
        else:
            self._write(since, options["rebuild"])

    def _write(self, since: dt.date | None, rebuild: bool) -> None:
        started = time.monotonic()

        def progress(row: MrrMonth, index: int, total: int) -> None:
            mrr = format_amount(row.mrr_end, row.currency)
            self.stdout.write(
                f"[{index}/{total}] {row.month:%Y-%m}  MRR {mrr}"
                f"  subscribers {row.subscribers_end}  ({time.monotonic() - started:.1f} s)"
            )

        months = mrr_months_write(since=since, rebuild=rebuild, progress=progress)
        self.stdout.write(self.style.SUCCESS(f"{len(months)} months up to date."))
