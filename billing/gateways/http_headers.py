"""Reading request headers the way webhook views hand them over."""

from __future__ import annotations

from collections.abc import Mapping

__all__ = ["header_value"]


def header_value(headers: Mapping[str, str], name: str) -> str:
    """The header ``name``, matched case-insensitively, or ``""`` if absent.

    Accepts both real header names (``request.headers``) and Django's ``META`` spelling
    (``HTTP_STRIPE_SIGNATURE``), so a view may pass either.
    """
    wanted = {name.lower(), "http_" + name.lower().replace("-", "_")}
    for key, value in headers.items():
        if key.lower() in wanted:
            return value
    return ""
