"""Read an admin page's form as a browser would submit it (its fields with their current
values), so a test can change a few and post the rest unchanged."""

from __future__ import annotations

from html.parser import HTMLParser
from typing import Any


class _FormReader(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.data: dict[str, list[str]] = {}
        self._in_form = False
        self._select: tuple[str, bool] | None = None
        self._textarea: str | None = None
        self._text: list[str] = []
        self.single: set[str] = set()

    def _add(self, name: str, value: str) -> None:
        self.data.setdefault(name, []).append(value)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = {key: value or "" for key, value in attrs}
        if tag == "form" and found.get("id", "").endswith("_form"):
            self._in_form = True
        if not self._in_form:
            return
        name = found.get("name", "")
        if tag == "input" and name:
            kind = found.get("type", "text")
            if kind in ("submit", "button", "file", "image", "reset"):
                return
            if kind in ("checkbox", "radio") and "checked" not in found:
                return
            self._add(name, found.get("value", "on" if kind == "checkbox" else ""))
        elif tag == "select" and name:
            self._select = (name, "multiple" in found)
            if "multiple" not in found:
                self.single.add(name)
            self.data.setdefault(name, [])
        elif tag == "option" and self._select is not None and "selected" in found:
            self._add(self._select[0], found.get("value", ""))
        elif tag == "textarea" and name:
            self._textarea, self._text = name, []

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self._in_form = False
        elif tag == "select":
            self._select = None
        elif tag == "textarea" and self._textarea is not None:
            self._add(self._textarea, "".join(self._text).lstrip("\n"))
            self._textarea = None

    def handle_data(self, data: str) -> None:
        if self._textarea is not None:
            self._text.append(data)


def admin_form(client: Any, url: str) -> dict[str, Any]:
    """The form on ``url`` as it would be posted unchanged (lists for repeated names)."""
    response = client.get(url)
    assert response.status_code == 200, response.status_code
    reader = _FormReader()
    reader.feed(response.content.decode())
    assert reader.data, f"no admin form on {url}"
    form: dict[str, Any] = {}
    for name, values in reader.data.items():
        if not values:
            form[name] = "" if name in reader.single else []
        else:
            form[name] = values[0] if len(values) == 1 else values
    return form
