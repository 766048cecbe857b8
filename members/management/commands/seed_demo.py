"""``manage.py seed_demo [--members N] [--json PATH]``: realistic, idempotent demo data."""

from __future__ import annotations

import importlib
import json
import time
from pathlib import Path
from typing import Any

from django.apps import apps
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import connection

from members.demo import SeedContext


class Command(BaseCommand):
    help = "Create demo data: staff logins for each role and members. Safe to run again."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--members", type=int, default=200, help="how many demo members")
        parser.add_argument("--json", type=Path, help="write a manifest of demo logins here")
        parser.add_argument("--no-progress", action="store_true", help="hide progress bars")

    def handle(self, *args: Any, **options: Any) -> None:
        members = options["members"]
        if members < 0 or members > 1_000_000:
            raise CommandError("--members must be between 0 and 1,000,000.")
        target: Path | None = options["json"]
        if target is not None and target.exists() and target.is_dir():
            raise CommandError(f"--json {target} is a directory; give a file path.")
        ctx = SeedContext(members=members, progress=not options["no_progress"], stdout=self.stdout)
        started = time.monotonic()
        for app_config in apps.get_app_configs():
            try:
                module = importlib.import_module(f"{app_config.name}.demo")
            except ModuleNotFoundError as exc:
                if exc.name != f"{app_config.name}.demo":
                    raise
                continue
            self.stdout.write(f"Seeding {app_config.label}…")
            module.seed(ctx)
        if connection.vendor == "postgresql":
            # Fresh planner statistics, as autovacuum would keep them on a live database:
            # until then PostgreSQL plans the bulk-loaded tables as if they were empty.
            self.stdout.write("Analysing the tables…")
            with connection.cursor() as cursor:
                cursor.execute("ANALYZE")
        elapsed = time.monotonic() - started
        if target is not None:
            try:
                target.write_text(json.dumps(ctx.manifest, indent=2, ensure_ascii=False))
            except OSError as exc:
                raise CommandError(f"Cannot write {target}: {exc.strerror}") from exc
            self.stdout.write(f"Manifest written to {target}")
        self.stdout.write(self.style.SUCCESS(f"Demo data ready in {elapsed:.1f}s."))
        for login in ctx.manifest.get("staff", []):
            self.stdout.write(f"  {login['role']:<11} {login['username']} / {login['password']}")
