"""Hooks that higher apps fill, so members never imports them.

``member_search_terms``: each callable takes the raw search text and returns a ``Q`` on
``Member`` that also matches (for example a card UID held by access control), or
``None`` when the text means nothing to it.
"""

from __future__ import annotations

from collections.abc import Callable

from django.db.models import Q

member_search_terms: list[Callable[[str], Q | None]] = []
