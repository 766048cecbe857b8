"""``manage.py audit_verify``: check the audit trail's hash chain from its first record."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError

from members.audit import chain_verify
from members.audit_models import AuditRecord


class Command(BaseCommand):
    help = "Verify the audit trail's hash chain; fails on an edited or missing record."

    def handle(self, *args: Any, **options: Any) -> None:
        total = AuditRecord.objects.count()
        self.stdout.write(f"Checking {total:,} audit records…")

        def progress(done: int) -> None:
            self.stdout.write(f"  {done:,} / {total:,} ({done * 100 // max(total, 1)}%)")

        report = chain_verify(progress=progress)
        if report.broken_at is not None:
            raise CommandError(
                f"The audit chain is broken: record {report.broken_at} {report.problem} "
                f"({report.checked:,} records before it are intact)."
            )
        self.stdout.write(
            self.style.SUCCESS(f"The audit chain is intact: {report.checked:,} records.")
        )
