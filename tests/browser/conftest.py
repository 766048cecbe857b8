"""The browser harness: Debian's Chromium, driven by Playwright, against the app served by
a live server on the suite's PostgreSQL.

Every test under ``tests/browser/`` is marked ``browser`` and runs in ``make test`` with the
rest of the suite.  What the fixtures give a test:

- ``lang``: the test runs once in English and once in Thai (the browser's locale, its
  ``Accept-Language`` and Django's language cookie all agree);
- ``desk``: a page on a 1366x768 desk screen; ``phone``: a page on a 390x844 phone;
- ``login(page, user)``: signs a user in by giving the browser a real session cookie;
- ``server``: the live server's address.

The browser never reaches past the live server: every other request is aborted and
recorded, and a test that made one fails, so a page that needs a CDN cannot pass.  A
failing test leaves a screenshot and the HTML of each of its pages under
``test-results/browser/`` (ignored by git).
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from django.conf import settings
from django.contrib.auth import SESSION_KEY
from django.test import Client
from playwright.sync_api import Browser, BrowserContext, Page, Route

CHROMIUM = Path(os.environ.get("BROWSER_EXECUTABLE", "/usr/bin/chromium"))
ARTIFACTS = Path(os.environ.get("BROWSER_ARTIFACTS", "test-results/browser"))

# As the machine's own probe starts it: headless, no sandbox (CI runs as root), and none
# of Chromium's background connections, which a closed network refuses.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

DESK_VIEWPORT = {"width": 1366, "height": 768}
PHONE_VIEWPORT = {"width": 390, "height": 844}
BROWSER_LOCALES = {"en": "en-US", "th": "th-TH"}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    here = Path(__file__).parent
    for item in items:
        if here in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.browser)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    outcome = yield
    report = outcome.get_result()  # type: ignore[attr-defined]
    setattr(item, f"report_{report.when}", report)


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args: dict[str, Any]) -> dict[str, Any]:
    if not CHROMIUM.exists():
        pytest.fail(
            f"Chromium is not at {CHROMIUM}. Install Debian's package: "
            "`apt-get install chromium fonts-thai-tlwg` (bash .ci/run does this), or set "
            "BROWSER_EXECUTABLE. Playwright's own browser downloads are not used.",
            pytrace=False,
        )
    return {
        **browser_type_launch_args,
        "executable_path": str(CHROMIUM),
        "args": CHROMIUM_ARGS,
        "headless": True,
    }


@pytest.fixture(scope="session", autouse=True)
def _allow_orm_beside_playwright() -> Iterator[None]:
    """Playwright's sync API keeps an event loop running on the main thread from the first
    browser test to the end of the session, so Django would refuse every later ORM call on
    that thread, in any test, as "async".  They are plain synchronous calls: the project
    has no async views, so lifting the guard for the session hides nothing."""
    before = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    yield
    if before is None:
        del os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"]
    else:
        os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = before


@pytest.fixture
def server(live_server: Any, transactional_db: None) -> str:
    """The live server's address, with the data that migrations seed put back (a
    committed test's flush wipes it)."""
    from tests.browser.seeds import seed_migrated_data

    seed_migrated_data()
    return str(live_server.url)


@pytest.fixture(params=["en", "th"])
def lang(request: pytest.FixtureRequest) -> str:
    return str(request.param)


class OutsideRequests(list[str]):
    """Requests the page tried to make beyond the live server (each one was aborted)."""


def _open_context(
    browser: Browser, server: str, lang: str, **options: Any
) -> tuple[BrowserContext, OutsideRequests]:
    context = browser.new_context(
        base_url=server,
        locale=BROWSER_LOCALES[lang],
        timezone_id=settings.GYM_TIME_ZONE,
        extra_http_headers={"Accept-Language": f"{lang},en;q=0.5" if lang != "en" else "en"},
        **options,
    )
    context.set_default_timeout(10_000)
    host = urlsplit(server).netloc
    outside = OutsideRequests()

    def keep_local(route: Route) -> None:
        url = route.request.url
        if urlsplit(url).netloc == host or url.startswith(("data:", "blob:")):
            route.continue_()
        else:
            outside.append(url)
            route.abort()

    context.route("**/*", keep_local)
    context.add_cookies([{"name": settings.LANGUAGE_COOKIE_NAME, "value": lang, "url": server}])
    return context, outside


def _save_artifacts(request: pytest.FixtureRequest, context: BrowserContext) -> None:
    name = re.sub(r"[^A-Za-z0-9_.-]+", "_", request.node.nodeid)[-150:]
    folder = ARTIFACTS / name
    folder.mkdir(parents=True, exist_ok=True)
    for number, page in enumerate(context.pages):
        try:
            page.screenshot(path=str(folder / f"page{number}.png"), full_page=True)
            (folder / f"page{number}.html").write_text(page.content(), encoding="utf-8")
        except Exception as exc:  # a crashed page still gets a note
            (folder / f"page{number}.error.txt").write_text(repr(exc), encoding="utf-8")


_BLOCKED_URL = re.compile(r"'(https?://[^']+)'")


def _breaks_own_policy(text: str, server: str) -> bool:
    """A console report that the page's own content broke its Content Security Policy.

    A policy refusing a fetch from another host is the policy doing its job (the API docs'
    meta policy keeps Redoc's badge from fetching Redocly's logo): nothing left the
    server, which the outside-request guard checks on its own.
    """
    if "Content Security Policy" not in text:
        return False
    blocked = _BLOCKED_URL.search(text)
    return not (blocked and not blocked.group(1).startswith(server))


@pytest.fixture
def open_page(
    request: pytest.FixtureRequest, browser: Browser, server: str
) -> Iterator[Callable[..., Page]]:
    """``open_page(lang, viewport=..., **context options)``: a page in a fresh context."""
    opened: list[tuple[BrowserContext, OutsideRequests]] = []
    refused: list[str] = []  # what the Content Security Policy blocked

    def open_(lang: str = "en", **options: Any) -> Page:
        context, outside = _open_context(browser, server, lang, **options)
        opened.append((context, outside))
        page = context.new_page()
        page.on(
            "console",
            lambda message: (
                refused.append(message.text) if _breaks_own_policy(message.text, server) else None
            ),
        )
        return page

    yield open_
    failed = any(
        getattr(getattr(request.node, f"report_{when}", None), "failed", False)
        for when in ("setup", "call")
    )
    for context, _outside in opened:
        if failed:
            _save_artifacts(request, context)
        context.close()
    reached_out = [url for _context, outside in opened for url in outside]
    assert not reached_out, f"the page reached past the server (no CDN allowed): {reached_out}"
    assert not refused, f"the page's own content broke its Content Security Policy: {refused}"


@pytest.fixture
def desk(open_page: Callable[..., Page], lang: str) -> Page:
    """A staff member's screen at the desk."""
    return open_page(lang, viewport=DESK_VIEWPORT)


@pytest.fixture
def phone(open_page: Callable[..., Page], lang: str) -> Page:
    """A member's phone (390x844, touch)."""
    return open_page(
        lang, viewport=PHONE_VIEWPORT, is_mobile=True, has_touch=True, device_scale_factor=2
    )


@pytest.fixture
def login(server: str) -> Callable[[Page, Any], None]:
    """Sign ``user`` in on ``page``'s browser with a real session (no form round trip)."""

    def login_(page: Page, user: Any) -> None:
        client = Client()
        client.force_login(user)
        session_cookie = client.cookies[settings.SESSION_COOKIE_NAME]
        assert client.session.get(SESSION_KEY) == str(user.pk)
        page.context.add_cookies(
            [{"name": settings.SESSION_COOKIE_NAME, "value": session_cookie.value, "url": server}]
        )

    return login_
