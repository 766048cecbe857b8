"""``manage.py seed_demo [--members N] [--json PATH]``: realistic, idempotent demo data."""

from __future__ import annotations

import importlib
import json
import logging
import time
from pathlib import Path
from typing import Any

from django.apps import apps
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import connection
from django.test.utils import override_settings

from config.inputs import command_count
from members.demo import SeedContext


class Command(BaseCommand):
    help = "Create demo data: staff logins for each role and members. Safe to run again."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--members", type=int, default=200, help="how many demo members")
        parser.add_argument("--json", type=Path, help="write a manifest of demo logins here")
        parser.add_argument("--no-progress", action="store_true", help="hide progress bars")

    def handle(self, *args: Any, **options: Any) -> None:
        members = command_count(options["members"], option="--members", high=1_000_000)
        target: Path | None = options["json"]
        if target is not None and target.exists() and target.is_dir():
            raise CommandError(f"--json {target} is a directory; give a file path.")
        ctx = SeedContext(members=members, progress=not options["no_progress"], stdout=self.stdout)
        # Eagerly run tasks would log each receipt they send; the summary says what matters.
        logging.getLogger("celery.app.trace").setLevel(logging.WARNING)
        logging.getLogger("kombu.connection").setLevel(logging.ERROR)
        started = time.monotonic()
        modules = []
        for app_config in apps.get_app_configs():
            try:
                modules.append(importlib.import_module(f"{app_config.name}.demo"))
            except ModuleNotFoundError as exc:
                if exc.name != f"{app_config.name}.demo":
                    raise
        # The demo's members are fictional: the emails and SMS its story sends (receipts,
        # dunning notices) are recorded in the database and kept in memory, not printed.
        with override_settings(
            EMAIL_BACKEND="django.core.mail.backends.locmem.EmailBackend",
            DUNNING_SMS_BACKEND="dunning.sms.locmem.LocmemSmsBackend",
            SMS_BACKEND="billing.messaging.sms.locmem.LocmemSmsBackend",
        ):
            for module in modules:
                self.stdout.write(f"Seeding {module.__name__.partition('.')[0]}…")
                module.seed(ctx)
            # A second pass, once every app has seeded: an app may build on later ones
            # (access control plays the morning after dunning has played its ladder).
            for module in modules:
                if hasattr(module, "seed_after"):
                    module.seed_after(ctx)
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
        self._summary(ctx)

    def _summary(self, ctx: SeedContext) -> None:
        """The logins, and a few lines on what the demo holds today."""
        manifest = ctx.manifest
        self.stdout.write("")
        self.stdout.write("Logins (password for each):")
        for login in manifest.get("staff", []):
            self.stdout.write(f"  {login['role']:<11} {login['username']} / {login['password']}")
        for login in manifest.get("portal", []):
            self.stdout.write(f"  {'Member':<11} {login['email']} / {login['password']} (/portal/)")
        facts = []
        if "morning_check_ins" in manifest:
            facts.append(f"{manifest['morning_check_ins']} check-ins this morning")
        cases = manifest.get("dunning_cases", [])
        for case in cases:
            facts.append(
                f"overdue: {case['member']} (#{case['member_number']}), {case['invoice']}, "
                f"{case['stage'] or 'opened'}"
            )
        devices = manifest.get("devices", [])
        if devices:
            facts.append(
                f"{len(devices)} demo devices; their keys and test cards are in the manifest"
            )
        for fact in facts:
            self.stdout.write(f"  - {fact}")
