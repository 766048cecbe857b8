"""Hooks that higher apps fill, so members never imports them.

Each hook is a list of callables that an app registers into from its
``AppConfig.ready`` (once: check ``not in`` before appending).

``member_search_terms``: each callable takes the raw search text and returns a ``Q`` on
``Member`` that also matches (for example a card UID held by access control), or
``None`` when the text means nothing to it.

``member_page_tools``: each callable takes the request and the member shown on the admin
member page and returns the page's buttons for it (:class:`MemberTool`, or a plain
``(label, url)`` pair, which is a record link), only those the request's user may use.
``ACTIONS`` do something for the member (check in, take a payment, freeze); ``RECORDS``
open the member's records elsewhere (memberships, invoices, the access log) and name
the member in their label.

``member_page_facts``: each callable takes the request and the member and returns lines
of the page's header card (:class:`MemberFact`): the plan, the next payment, what is
owed, the last visit.  Only what the user may see.

``today_sections``: each callable takes the request and returns sections of the admin's
home page, "Today at the gym" (:class:`TodaySection`), only those the user's role may
see.  Later apps add theirs (classes today, the till).

The member portal (``docs/portal.md``):

``portal_home_cards``: each callable takes the request and a member (the signed-in member,
or a dependant of theirs on the dependant's page) and returns cards for the portal's home
page (:class:`PortalCard`): the membership, what is owed, the next class.  Constant
queries, whatever the member's history.

``portal_menu``: each callable takes the request and returns entries of the portal's
menu (:class:`PortalLink`).  No queries: it runs on every portal page.

``audit_value_text``: each callable takes an audit record's subject model (or ``None``),
a key of its before/after values, the value, and the record's other values on that
side, and returns the text a person reads (``฿800.00`` for a money field, ``7%`` for a
rate) or ``None`` when the value means nothing special to it.  No queries.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.db.models import Q
from django.http import HttpRequest

ACTIONS = "actions"
RECORDS = "records"
# Tones of facts, rows and buttons: how loudly the page shows them.
GOOD, WARN, DANGER, PRIMARY = "good", "warn", "danger", "primary"


@dataclass(frozen=True)
class MemberTool:
    """A button on the member page."""

    label: str
    url: str
    group: str = RECORDS
    tone: str = ""  # "primary" for the desk's everyday actions, "danger" for cancel
    order: int = 50  # smaller first, across apps


@dataclass(frozen=True)
class MemberFact:
    """One line of the member page's header card: a label, its value, maybe an action."""

    label: str
    value: str
    detail: str = ""  # a second, quieter line
    url: str = ""  # the value links here
    tone: str = ""  # "good", "warn" or "danger"
    action: MemberTool | None = None  # a button beside the value ("Take payment")
    order: int = 50


@dataclass(frozen=True)
class TodayRow:
    """One line of a section of "Today at the gym"."""

    text: str
    url: str = ""
    detail: str = ""  # a quieter note beside the text (a time, an amount)
    tone: str = ""


@dataclass(frozen=True)
class TodaySection:
    """A box of "Today at the gym": a headline figure and the rows behind it."""

    key: str
    title: str
    rows: Sequence[TodayRow] = ()
    figure: str = ""  # the headline number ("12"), "" for none
    figure_label: str = ""  # what the number counts ("check-ins")
    empty: str = ""  # shown when there are no rows
    links: Sequence[tuple[str, str]] = field(default_factory=tuple)  # (label, url)
    order: int = 50
    tone: str = ""


@dataclass(frozen=True)
class PortalRow:
    """One line of a portal card: a label and its value."""

    label: str
    value: str
    detail: str = ""  # a quieter second line
    url: str = ""  # the value links here
    tone: str = ""  # "good", "warn" or "danger"


@dataclass(frozen=True)
class PortalAction:
    """A button on a portal card (a link; forms live on the page it opens)."""

    label: str
    url: str
    tone: str = PRIMARY  # "primary", "" (secondary) or "danger"


@dataclass(frozen=True)
class PortalCard:
    """A card on the portal's home page."""

    key: str  # unique across apps: "membership", "balance", "bookings"...
    title: str
    rows: Sequence[PortalRow] = ()
    text: str = ""  # a sentence under the title ("Your access is paused because...")
    figure: str = ""  # a headline value ("฿1,605.00"), "" for none
    figure_label: str = ""  # what the figure is ("owed")
    actions: Sequence[PortalAction] = ()
    empty: str = ""  # shown when there are no rows and no text
    tone: str = ""  # "good", "warn" or "danger": the card's edge
    order: int = 50  # smaller first, across apps


@dataclass(frozen=True)
class PortalLink:
    """An entry of the portal's menu."""

    key: str  # a view marks its entry current with ``request.portal_section = key``
    label: str
    url: str
    order: int = 50


member_search_terms: list[Callable[[str], Q | None]] = []
member_page_tools: list[Callable[[HttpRequest, Any], Sequence[MemberTool | tuple[str, str]]]] = []
member_page_facts: list[Callable[[HttpRequest, Any], Sequence[MemberFact]]] = []
today_sections: list[Callable[[HttpRequest], Sequence[TodaySection]]] = []
portal_home_cards: list[Callable[[HttpRequest, Any], Sequence[PortalCard]]] = []
portal_menu: list[Callable[[HttpRequest], Sequence[PortalLink]]] = []
audit_value_text: list[Callable[[Any, str, Any, dict[str, Any]], str | None]] = []


def register(hook: list[Any], function: Callable[..., Any]) -> None:
    """Add ``function`` to ``hook`` once (``ready`` may run more than once in tests)."""
    if function not in hook:
        hook.append(function)


def tools_for(request: HttpRequest, member: Any) -> list[MemberTool]:
    """Every app's buttons for ``member``, in order; a bare pair is a record link."""
    tools = [
        tool if isinstance(tool, MemberTool) else MemberTool(label=tool[0], url=tool[1])
        for make in member_page_tools
        for tool in make(request, member)
    ]
    return sorted(tools, key=lambda tool: tool.order)


def facts_for(request: HttpRequest, member: Any) -> list[MemberFact]:
    facts = [fact for make in member_page_facts for fact in make(request, member)]
    return sorted(facts, key=lambda fact: fact.order)


def sections_for(request: HttpRequest) -> list[TodaySection]:
    sections = [section for make in today_sections for section in make(request)]
    return sorted(sections, key=lambda section: section.order)


def portal_cards_for(request: HttpRequest, member: Any) -> list[PortalCard]:
    """Every app's home-page cards for ``member``, in order."""
    cards = [card for make in portal_home_cards for card in make(request, member)]
    return sorted(cards, key=lambda card: card.order)


def portal_menu_for(request: HttpRequest) -> list[PortalLink]:
    links = [link for make in portal_menu for link in make(request)]
    return sorted(links, key=lambda link: link.order)


def audit_value_for(model: Any, key: str, value: Any, values: dict[str, Any]) -> str | None:
    """The first registered reading of an audit value, or ``None``."""
    for function in audit_value_text:
        text = function(model, key, value, values)
        if text is not None:
            return text
    return None
