"""The API docs render from our own static files: the harness aborts (and fails) any
request past the live server, so these pass only with the network cut off.  The docs
are in English only, so one language is enough."""

from __future__ import annotations

from collections.abc import Callable

from playwright.sync_api import Page, expect

from tests.browser.conftest import DESK_VIEWPORT


def test_swagger_ui_renders_offline(open_page: Callable[..., Page]) -> None:
    desk = open_page("en", viewport=DESK_VIEWPORT)
    desk.goto("/api/docs/")

    expect(desk.locator(".swagger-ui .info .title")).to_contain_text("Gym platform API")
    # The operations are listed from the schema, e.g. the access check the gates call.
    expect(desk.locator(".opblock-summary-path", has_text="/api/v1/access/check")).to_be_visible()


def test_redoc_renders_offline(open_page: Callable[..., Page]) -> None:
    desk = open_page("en", viewport=DESK_VIEWPORT)
    refused: list[str] = []
    desk.on(
        "console",
        lambda message: (
            refused.append(message.text) if "Content Security Policy" in message.text else None
        ),
    )
    desk.goto("/api/redoc/")

    # Redoc renders the whole schema in the browser before its heading appears.
    expect(desk.locator("h1", has_text="Gym platform API")).to_be_visible(timeout=30_000)
    expect(desk.get_by_text("/api/v1/access/check").first).to_be_attached()
    # Nothing was even asked of another host (Redocly's logo least of all).
    assert desk.locator("img[src*='redoc.ly']").count() == 0
    assert refused == []
