"""Every admin page of our apps, rendered as the Owner in English and in Thai, with data in
every model, and what a person reads on each (see ``test_admin_pages``).

Nothing here lists pages or fields: the pages come from the admin site's registry (each
screen's list, add and change pages, and the custom pages its ``get_urls`` adds), the
money and rate fields from the models, and the strings of ours from our catalogues.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from html.parser import HTMLParser
from io import StringIO
from pathlib import Path
from typing import Any

from django.conf import settings
from django.contrib import admin
from django.contrib.admin.options import InlineModelAdmin, ModelAdmin
from django.core.management import call_command
from django.db import models
from django.forms.models import _get_foreign_key
from django.test import Client, RequestFactory, TestCase
from django.urls import URLPattern, reverse

from billing.fields import is_money, is_rate
from billing.money import major_units, rate_as_typed

# --- Our apps and their screens ----------------------------------------------------------

STANDARD_VIEWS = {"changelist", "add", "history", "delete", "change", "autocomplete"}


def ours(model: type[models.Model]) -> bool:
    """A model of one of our apps (its code lives in this repository, not a dependency)."""
    path = Path(model._meta.app_config.path).resolve()
    base = Path(settings.BASE_DIR).resolve()
    return base in path.parents and ".venv" not in path.parts


def our_screens() -> list[tuple[type[models.Model], ModelAdmin[Any]]]:
    return sorted(
        (
            (model, model_admin)
            for model, model_admin in admin.site._registry.items()
            if ours(model)
        ),
        key=lambda pair: pair[0]._meta.label,
    )


def inline_parents(
    model_admin: ModelAdmin[Any],
) -> Iterator[tuple[InlineModelAdmin[Any, Any], str]]:
    """``(inline, foreign key name)`` for each inline of the screen."""
    for inline_class in model_admin.inlines:
        fk = _get_foreign_key(model_admin.model, inline_class.model, fk_name=inline_class.fk_name)
        yield inline_class(model_admin.model, admin.site), fk.name


def sample_objects(model_admin: ModelAdmin[Any]) -> list[Any]:
    """The objects whose change pages are rendered: the first and the last, and for each
    inline one whose inline has rows (so every inline is seen with data)."""
    model = model_admin.model
    queryset = model._default_manager.order_by("pk")
    picked = [queryset.first(), queryset.last()]
    for inline, fk_name in inline_parents(model_admin):
        parent = inline.model._default_manager.values_list(fk_name, flat=True).first()
        picked.append(queryset.filter(pk=parent).first() if parent is not None else None)
    unique: dict[Any, Any] = {}
    for obj in picked:
        if obj is not None:
            unique.setdefault(obj.pk, obj)
    return list(unique.values())


@dataclass
class Page:
    url: str
    model: type[models.Model]
    kind: str  # changelist, add, change, or a custom view's name
    objects: list[Any]  # the objects the page is about (a list: all of the model's)
    html: dict[str, str] = field(default_factory=dict)  # by language
    # Read from the database while it holds the data (see ``Page.learn``):
    bare_amounts: dict[str, str] = field(default_factory=dict)
    bare_rates: dict[str, str] = field(default_factory=dict)
    inputs: dict[str, str] = field(default_factory=dict)  # field name -> value to show

    def learn(self) -> None:
        """What this page must never print (amounts in minor units, rates in basis
        points) and what its inputs must hold (``800.00``, ``7``)."""
        rows = [row for obj in self.objects for row in related_rows(obj)]
        self.bare_amounts = bare_amounts(rows)
        self.bare_rates = bare_rates(rows)
        if self.kind == "change" and self.objects:
            obj = self.objects[0]
            for f in money_fields(type(obj)):
                value = getattr(obj, f.attname)
                if value is not None:
                    self.inputs[f.name] = major_units(value, f.currency_of(obj))  # type: ignore[attr-defined]
            for f in rate_fields(type(obj)):
                value = getattr(obj, f.attname)
                if value is not None:
                    self.inputs[f.name] = rate_as_typed(value)


def admin_urls(model_admin: ModelAdmin[Any], owner: Any) -> list[tuple[str, str, list[Any]]]:
    """``(kind, url, objects)`` for each page of a screen ``owner`` may open."""
    opts = model_admin.model._meta
    prefix = f"admin:{opts.app_label}_{opts.model_name}"
    urls: list[tuple[str, str, list[Any]]] = [
        (
            "changelist",
            reverse(f"{prefix}_changelist"),
            list(model_admin.model._default_manager.all()),
        )
    ]
    request = RequestFactory().get("/admin/")
    request.user = owner
    if model_admin.has_add_permission(request):
        urls.append(("add", reverse(f"{prefix}_add"), []))
    objects = sample_objects(model_admin)
    for obj in objects:
        urls.append(("change", reverse(f"{prefix}_change", args=[obj.pk]), [obj]))
    for pattern in model_admin.get_urls():
        if not isinstance(pattern, URLPattern) or not pattern.name:
            continue
        view = pattern.name.removeprefix(f"{opts.app_label}_{opts.model_name}_")
        if view in STANDARD_VIEWS:
            continue
        params = set(pattern.pattern.regex.groupindex)
        if params == {"object_id"}:
            for obj in objects[:1]:
                urls.append((view, reverse(f"admin:{pattern.name}", args=[obj.pk]), [obj]))
        elif not params:
            urls.append((view, reverse(f"admin:{pattern.name}"), []))
    return urls


def render_every_page(owner: Any) -> list[Page]:
    """Every page of every screen of ours, in English and in Thai, as ``owner``."""
    clients = {}
    for language in ("en", "th"):
        client = Client(HTTP_ACCEPT_LANGUAGE=language)
        client.cookies[settings.LANGUAGE_COOKIE_NAME] = language
        client.force_login(owner)
        clients[language] = client
    pages: list[Page] = []
    index = Page(reverse("admin:index"), models.Model, "index", [])
    app_pages = [
        Page(reverse("admin:app_list", args=[label]), models.Model, "app_index", [])
        for label in sorted({model._meta.app_label for model, _ in our_screens()})
    ]
    pages += [index, *app_pages]
    for model, model_admin in our_screens():
        for kind, url, objects in admin_urls(model_admin, owner):
            pages.append(Page(url, model, kind, objects))
    for page in pages:
        page.learn()
        for language, client in clients.items():
            response = client.get(page.url)
            # 405: an address that only takes a form's POST (an action, not a page).
            assert response.status_code in (200, 302, 405), (
                page.url,
                language,
                response.status_code,
            )
            if response.status_code == 200 and "html" in response.get("Content-Type", ""):
                page.html[language] = response.content.decode()
    return [page for page in pages if page.html]


# --- Data in every model ---------------------------------------------------------------


def fill_every_model(owner: Any) -> None:
    """The demo's data, plus the records the demo does not make (a refund and its credit
    note, a correction, an account entry, a desk check-in, a gateway event, a payment plan,
    a freeze and an add-on), each made by the service the desk would use."""
    from access_control.models import Zone
    from access_control.services.checks import manual_check_in
    from billing.models import (
        AddOn,
        GatewayWebhookEvent,
        Invoice,
        InvoiceStatus,
        LedgerKind,
        Membership,
        MembershipStatus,
        Payment,
        Plan,
        PromptPayChannel,
    )
    from billing.services.invoices import credit_note_issue, ledger_post
    from billing.services.memberships import membership_add_addon, membership_freeze
    from billing.services.promptpay import promptpay_request_create
    from billing.services.refunds import payment_refund
    from config import clock
    from dunning.models import CaseStatus, DunningCase
    from dunning.services.staff import offer_plan
    from members.api_keys import api_key_create, api_key_revoke
    from tests.billing.factories import signed_up
    from tests.factories import MemberFactory

    with TestCase.captureOnCommitCallbacks(execute=True):
        call_command("seed_demo", members=12, no_progress=True, stdout=StringIO())
    with TestCase.captureOnCommitCallbacks(execute=True):
        refunded = signed_up(
            plan=Plan.objects.filter(is_active=True).order_by("pk").first(),
            member=MemberFactory(first_name="ทดสอบ", last_name="คืนเงิน"),
        )
    payment = Payment.objects.filter(invoice__membership=refunded).get()
    payment_refund(payment, amount=12_345, reason="Towel not returned: partial refund")
    paid = Invoice.objects.filter(status=InvoiceStatus.PAID).order_by("-pk").first()
    credit_note_issue(paid, amount=4_321, reason="Goodwill: one class cancelled")
    ledger_post(
        paid.member,
        kind=LedgerKind.ACCOUNT_CHARGE,
        amount=65_432,
        currency=paid.currency,
        description="Protein shake x3",
        reference="admin-pages-ledger",
    )
    active = Membership.objects.filter(status=MembershipStatus.ACTIVE).order_by("pk")
    manual_check_in(active[0].member, Zone.objects.order_by("pk").first(), owner)
    addon = AddOn.objects.filter(currency=active[1].currency).first()
    if addon is not None:
        membership_add_addon(active[1], addon=addon, quantity=1)
    today = clock.today()
    membership_freeze(
        active[2],
        starts_on=today + dt.timedelta(days=3),
        ends_on=today + dt.timedelta(days=17),
        reason="Travelling",
    )
    GatewayWebhookEvent.objects.create(
        gateway="sandbox",
        event_id="evt_admin_pages",
        type="charge.succeeded",
        raw_type="charge.succeeded",
        received_at=clock.now(),
        outcome="applied",
    )
    open_invoice = Invoice.objects.filter(status=InvoiceStatus.OPEN).order_by("pk").first()
    assert open_invoice is not None, "the demo has no open invoice"
    with TestCase.captureOnCommitCallbacks(execute=True):
        promptpay_request_create(invoices=[open_invoice], channel=PromptPayChannel.DESK, user=owner)
    case = DunningCase.objects.filter(status=CaseStatus.OPEN).order_by("pk").first()
    assert case is not None, "the demo has no open dunning case"
    offer_plan(case, installments=2)
    for name, scopes in (("Door system", ["access:devices"]), ("บัญชี", ["billing:read"])):
        key, _plain = api_key_create(
            name=name,
            scopes=scopes,
            expires_at=clock.now() + dt.timedelta(days=30),
            created_by=owner,
        )
    api_key_revoke(key, actor=owner)


# --- What a person reads -----------------------------------------------------------------

_SKIPPED = {"script", "style", "template", "noscript"}
_VOID = {
    "area",
    "base",
    "br",
    "col",
    "embed",
    "hr",
    "img",
    "input",
    "link",
    "meta",
    "source",
    "track",
    "wbr",
}
_READ_ATTRIBUTES = ("title", "placeholder", "aria-label", "alt")


@dataclass
class Text:
    text: str
    classes: tuple[str, ...]  # the classes of every element around it, innermost last
    tag: str
    field: str = ""  # the admin field it belongs to (the innermost ``field-<name>`` box)


class Reader(HTMLParser):
    """The text a person reads on a page: text nodes, buttons' values, titles and
    placeholders, each with the classes of the elements around it.  Script, style, and
    anything marked as in another language (``lang`` unlike the page's) or as not to be
    translated (``translate="no"``) are left out."""

    def __init__(self, language: str) -> None:
        super().__init__(convert_charrefs=True)
        self.language = language
        self.stack: list[tuple[str, tuple[str, ...], bool]] = []
        self.texts: list[Text] = []
        self.inputs: list[dict[str, str]] = []

    def _skipping(self) -> bool:
        return any(skip for _, _, skip in self.stack)

    def _classes(self) -> tuple[str, ...]:
        return tuple(c for _, classes, _ in self.stack for c in classes)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {name: value or "" for name, value in attrs}
        other_language = bool(values.get("lang")) and not values["lang"].startswith(self.language)
        untranslatable = values.get("translate") == "no"  # data, such as a name's initials
        skip = tag in _SKIPPED or other_language or untranslatable or "hidden" in values
        if tag == "input":
            self.inputs.append(values)
        if not (skip or self._skipping()):
            for name in _READ_ATTRIBUTES:
                if values.get(name):
                    self._add(values[name], tag)
            if (
                tag == "input"
                and values.get("type") in {"submit", "button"}
                and values.get("value")
            ):
                self._add(values["value"], tag)
        if tag not in _VOID:
            self.stack.append((tag, tuple(values.get("class", "").split()), skip))

    def handle_endtag(self, tag: str) -> None:
        for position in range(len(self.stack) - 1, -1, -1):
            if self.stack[position][0] == tag:
                del self.stack[position:]
                return

    def handle_data(self, data: str) -> None:
        if not self._skipping():
            self._add(data, self.stack[-1][0] if self.stack else "")

    def _field(self) -> str:
        for _, classes, _ in reversed(self.stack):
            names = [c.removeprefix("field-") for c in classes if c.startswith("field-")]
            if names:
                return names[0] if len(names) == 1 else ""
        return ""

    def _add(self, text: str, tag: str) -> None:
        text = " ".join(text.split())
        if text:
            self.texts.append(Text(text, self._classes(), tag, self._field()))


def read(html: str, language: str) -> Reader:
    reader = Reader(language)
    reader.feed(html)
    reader.close()
    return reader


# --- Money and rates -------------------------------------------------------------------

MONEY = re.compile(r"^-?(?:[฿$€£¥]|S\$|A\$|[A-Z]{3} )\d{1,3}(?:,\d{3})*(?:\.\d+)?$")
RATE = re.compile(r"^\d{1,3}(?:\.\d{1,2})?%$")
NUMBER = re.compile(
    r"(?<![\w.,/:#-])\d{1,3}(?:,\d{3})+(?![\w,]|\.\d)|(?<![\w.,/:#-])\d+(?![\w,]|\.\d)"
)


def money_fields(model: type[models.Model]) -> list[models.Field[Any, Any]]:
    return [f for f in model._meta.concrete_fields if is_money(f)]


def rate_fields(model: type[models.Model]) -> list[models.Field[Any, Any]]:
    return [f for f in model._meta.concrete_fields if is_rate(f)]


def related_rows(obj: Any) -> Iterable[Any]:
    """``obj`` and the rows that point at it (what its change page and inlines show)."""
    yield obj
    for relation in obj._meta.related_objects:
        if relation.one_to_many or relation.one_to_one:
            accessor = relation.get_accessor_name()
            try:
                related = getattr(obj, accessor)
            except Exception:
                continue
            if relation.one_to_one:
                yield related
            else:
                yield from related.all()[:50]


def bare_amounts(objects: Iterable[Any]) -> dict[str, str]:
    """``{"80000": "Invoice.total", "80,000": ...}``: how each amount on these rows would
    look if a page printed it in minor units.  Amounts under 100 are left out (they
    collide with counts and days); so are years, which dates print."""
    found: dict[str, str] = {}
    for obj in objects:
        for f in money_fields(type(obj)):
            value = getattr(obj, f.attname)
            if value is None or abs(value) < 100 or 1900 <= abs(value) <= 2700:
                continue
            for shown in (str(value), f"{value:,}", str(abs(value)), f"{abs(value):,}"):
                found.setdefault(shown, f"{type(obj).__name__}.{f.name}")
    return found


def bare_rates(objects: Iterable[Any]) -> dict[str, str]:
    found: dict[str, str] = {}
    for obj in objects:
        for f in rate_fields(type(obj)):
            value = getattr(obj, f.attname)
            if value and value >= 100 and not 1900 <= value <= 2700:
                found.setdefault(str(value), f"{type(obj).__name__}.{f.name}")
    return found


# --- Our catalogues --------------------------------------------------------------------

PLACEHOLDER = re.compile(r"%\(|%[sd]|\{")


def our_msgids() -> set[str]:
    """Every plain message of our catalogues (no placeholders), normalised as
    :func:`normalise` reads page text."""
    from tests.config.test_i18n import parse_po

    found: set[str] = set()
    for po in sorted(Path(settings.BASE_DIR).glob("*/locale/th/LC_MESSAGES/django.po")):
        for entry in parse_po(po):
            plain = entry.msgid and not entry.obsolete and not PLACEHOLDER.search(entry.msgid)
            if plain and re.search(r"[A-Za-z]{2}", entry.msgid):
                found.add(normalise(entry.msgid))
    return found


def normalise(text: str) -> str:
    return " ".join(text.split()).strip(" :").casefold()


def stored_text() -> tuple[set[str], set[str]]:
    """``(words, values)``: every Latin word, and every whole value (normalised), stored
    in the database as text (names, codes, descriptions, JSON): a page may show data in
    any language.  Fields with choices are left out: a page shows their labels, which are
    ours to translate."""
    from django.apps import apps

    words: set[str] = set()
    values: set[str] = set()

    def take(value: Any) -> None:
        if isinstance(value, str):
            words.update(w.casefold() for w in LATIN_WORD.findall(value))
            values.add(normalise(value))
        elif isinstance(value, dict):
            for key, item in value.items():
                take(key)
                take(item)
        elif isinstance(value, list | tuple):
            for item in value:
                take(item)

    for model in apps.get_models():
        text_fields = [
            f.attname
            for f in model._meta.concrete_fields
            if isinstance(f, models.CharField | models.TextField | models.JSONField)
            and not f.choices
        ]
        if text_fields:
            for row in model._default_manager.values_list(*text_fields):
                for value in row:
                    take(value)
    return words, values


LATIN_WORD = re.compile(r"(?<![\w@./-])[A-Za-z][A-Za-z']*[A-Za-z](?![\w@/-])")
