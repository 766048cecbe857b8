"""Accessibility checks with axe-core (axe-playwright-python ships it; nothing is fetched).

``assert_accessible(page)`` runs axe on the page as it stands and fails on any serious or
critical violation, listing each rule with the elements it found.  Call it on every
portal page a test opens (after the page has its content):

    from tests.browser.axe import assert_accessible
    assert_accessible(phone)
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Page

FAILING_IMPACTS = ("serious", "critical")
_axe = Axe()


def violations(page: Page, impacts: Iterable[str] = FAILING_IMPACTS) -> list[dict[str, Any]]:
    """axe's violations on ``page`` at these impacts."""
    results = _axe.run(page)
    wanted = set(impacts)
    return [v for v in results.response["violations"] if v.get("impact") in wanted]


def _describe(violation: dict[str, Any]) -> str:
    targets = [" ".join(map(str, node.get("target", []))) for node in violation["nodes"][:5]]
    return f"{violation['id']} ({violation['impact']}): {violation['help']} at {targets}"


def assert_accessible(page: Page, impacts: Iterable[str] = FAILING_IMPACTS) -> None:
    found = violations(page, impacts)
    assert not found, f"axe found on {page.url}:\n" + "\n".join(map(_describe, found))
