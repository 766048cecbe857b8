"""The rows data migrations write, put back after a committed test's flush wiped them."""

from __future__ import annotations

import importlib

from django.apps import apps

from members import roles


def seed_migrated_data() -> None:
    roles.sync_roles()
    importlib.import_module("dunning.migrations.0002_seed_policy").seed(apps, None)
