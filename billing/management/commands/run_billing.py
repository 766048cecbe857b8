"""``manage.py run_billing --date YYYY-MM-DD [--dry-run]``: bill everything due that day."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.core.management.base import BaseCommand, CommandParser
from tqdm import tqdm

from billing.services.memberships import memberships_apply_scheduled
from billing.services.run import billing_run
from config import clock
from config.inputs import command_date
from members.audit import as_job


def parse_date(value: str) -> dt.date:
    """The day to bill: YYYY-MM-DD within the input window around today
    (``config.inputs``: a year back for a catch-up, a year ahead for a trial)."""
    return command_date(value)


def _advance(bar: tqdm, n: int) -> None:  # type: ignore[type-arg]
    bar.update(n)


class Command(BaseCommand):
    help = "Issue and charge the invoices of every membership due on the date. Safe to rerun."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--date", help="the gym's local date to bill (default: today)")
        parser.add_argument(
            "--dry-run", action="store_true", help="list what is due, change nothing"
        )
        parser.add_argument("--no-progress", action="store_true")
        parser.add_argument(
            "--in-process", action="store_true", help="run batches here instead of on Celery"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        # Run by the scheduler (cron) or by hand: recorded as this job in the audit trail.
        with as_job("manage.py run_billing"):
            self._handle(options)

    def _handle(self, options: dict[str, Any]) -> None:
        day = parse_date(options["date"]) if options["date"] else clock.today()
        with clock.travel_to_date(day):
            if options["dry_run"]:
                report = billing_run(day, dry_run=True)
                self.stdout.write(
                    f"{report.due} memberships are due on {day}. Nothing was changed."
                )
                for membership_id in report.due_ids[:20]:
                    self.stdout.write(f"  membership {membership_id}")
                if report.due > 20:
                    self.stdout.write(f"  … and {report.due - 20} more")
                return
            memberships_apply_scheduled(day)
            bar = tqdm(desc="billing", unit="membership", disable=options["no_progress"])
            report = billing_run(
                day,
                fan_out=False if options["in_process"] else None,
                progress=lambda n: _advance(bar, n),
            )
            bar.close()
        self.stdout.write(
            self.style.SUCCESS(
                f"{day}: {report.due} due, {report.invoiced} invoiced, {report.ended} ended, "
                f"{report.succeeded} paid, {report.failed} failed, {report.unknown} unknown, "
                f"{report.reconciled} reconciled from earlier runs."
            )
        )
