"""The decline classifier billing calls for every failed attempt, read from ``DeclineRule``.

Precedence follows ``shared/reference/declines.md``: an advice-code rule overrides the
category, then the gateway's decline code decides, then the ISO 8583 network code.  A
code no rule knows is ``generic`` (the issuer gave no usable reason) and an attempt
without any code is ``processing`` (our side or the gateway failed).

The table is small and read on every decline, so it is cached in the shared cache and
dropped whenever a rule is saved or deleted (``DunningConfig.ready`` connects that).
"""

from __future__ import annotations

from typing import Any

from django.core.cache import cache
from django.db import transaction

from billing.declines import default_category

from .models import CodeKind, DeclineCategory, DeclineRule

CACHE_KEY = "dunning:decline-rules:v1"
CACHE_SECONDS = 3600

Table = dict[str, dict[str, str]]


def decline_table() -> Table:
    """``{kind: {code: category}}`` for every rule (from the cache when possible)."""
    table: Table | None = cache.get(CACHE_KEY)
    if table is None:
        table = {kind: {} for kind in CodeKind.values}
        for kind, code, category in DeclineRule.objects.values_list("kind", "code", "category"):
            table.setdefault(kind, {})[code] = category
        cache.set(CACHE_KEY, table, CACHE_SECONDS)
    return table


def decline_table_forget(**_: Any) -> None:
    """Drop the cached table (connected to ``DeclineRule`` saves and deletes).

    Dropped now and again after the commit, so a table read inside the editing
    transaction (or one rolled back) is never what other processes go on using.
    """
    cache.delete(CACHE_KEY)
    transaction.on_commit(lambda: cache.delete(CACHE_KEY))


def classify(decline_code: str, network_code: str = "", advice_code: str = "") -> str:
    """The category of a decline: advice override, then decline code, then network code."""
    table = decline_table()
    if not any(table.values()):
        # No rules at all (a database without the seed): billing's built-in table.
        return default_category(decline_code, network_code, advice_code)
    if advice_code and advice_code in table.get(CodeKind.ADVICE, {}):
        return table[CodeKind.ADVICE][advice_code]
    if decline_code and decline_code in table.get(CodeKind.DECLINE, {}):
        return table[CodeKind.DECLINE][decline_code]
    if network_code and network_code in table.get(CodeKind.NETWORK, {}):
        return table[CodeKind.NETWORK][network_code]
    if decline_code or network_code:
        return DeclineCategory.GENERIC
    return DeclineCategory.PROCESSING
