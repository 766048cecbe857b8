"""Hooks that higher apps fill, so members never imports them.

``member_search_terms``: each callable takes the raw search text and returns a ``Q`` on
``Member`` that also matches (for example a card UID held by access control), or
``None`` when the text means nothing to it.

``member_page_tools``: each callable takes the request and the member shown on the admin
member page and returns ``(label, url)`` buttons for it (for example "Check in"), only
those the request's user may use.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.db.models import Q
from django.http import HttpRequest

member_search_terms: list[Callable[[str], Q | None]] = []
member_page_tools: list[Callable[[HttpRequest, Any], list[tuple[str, str]]]] = []
