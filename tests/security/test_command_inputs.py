"""Management commands bound their dates and counts (``config.inputs``): a bad argument
is a ``CommandError`` saying what is wrong (printed by manage.py without a traceback),
and nothing runs."""

from __future__ import annotations

import subprocess
import sys

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

pytestmark = pytest.mark.django_db

BAD_DATES = [
    ("9999-12-31", "too far ahead"),
    ("0001-01-01", "too far back"),
    ("2026-02-30", "YYYY-MM-DD"),
    ("yesterday", "YYYY-MM-DD"),
    ("2026-01-01\x00", "YYYY-MM-DD"),
]


@pytest.mark.parametrize("command", ["run_billing", "run_dunning", "snapshot_mrr"])
@pytest.mark.parametrize(("value", "said"), BAD_DATES, ids=[v for v, _ in BAD_DATES])
def test_a_date_out_of_bounds_or_malformed_is_a_clear_error(command, value, said):
    with pytest.raises(CommandError, match=said) as refused:
        call_command(command, "--date", value)
    assert "--date" in str(refused.value)


def test_the_demos_member_count_is_bounded():
    with pytest.raises(CommandError, match="--members must be between 0 and 1,000,000"):
        call_command("seed_demo", "--members", "5000000")
    with pytest.raises(CommandError, match="--members must be between"):
        call_command("seed_demo", "--members", "-1")


def test_manage_py_prints_the_error_not_a_traceback():
    done = subprocess.run(
        [sys.executable, "manage.py", "run_billing", "--date", "9999-12-31"],
        capture_output=True,
        text=True,
        timeout=120,
        env={**__import__("os").environ, "DJANGO_SETTINGS_MODULE": "config.settings_test"},
    )
    assert done.returncode == 1
    assert "CommandError: --date 9999-12-31: This date is too far ahead" in done.stderr
    assert "Traceback" not in done.stderr
