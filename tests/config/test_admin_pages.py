"""Every admin page of our apps reads as money and as Thai.

The pages are every screen the admin site registers for our apps (its list, its add page,
change pages of objects with and without inline rows, and the custom pages the screen
adds), rendered as the Owner in English and in Thai, with data in every model.  Nothing
lists pages: a new app's screens are walked as soon as they are registered.

- Money: a money field (``billing.fields``) never shows its minor units; every amount of
  the rows a page shows is looked for as a bare number, and the field's own cells, read-only
  values and inputs must read as money (``฿800.00``, ``800.00`` to type).
- Rates: a rate never shows its basis points; its cells read ``7%``, its inputs ``7``.
- Thai: every string of our catalogues that the English page shows is translated on the
  Thai page, and the Thai page shows no English word that is not data (names, codes and
  descriptions stored in the database) or kept on purpose in a Thai translation.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db import connection, models, transaction
from django.utils import translation

from members import roles
from tests.browser.seeds import seed_migrated_data
from tests.config import admin_pages as pages_
from tests.config.admin_pages import (
    LATIN_WORD,
    MONEY,
    NUMBER,
    RATE,
    Page,
    money_fields,
    normalise,
    our_msgids,
    our_screens,
    rate_fields,
    read,
)
from tests.config.test_i18n import parse_po

# The test database is set up only for tests that ask for it; the module's fixture uses
# it too, so every test here asks.
pytestmark = pytest.mark.django_db


@dataclass
class Walk:
    pages: list[Page]
    empty_models: list[str]
    data_words: set[str]
    data_values: set[str]


@pytest.fixture(scope="module")
def walk(django_db_setup: None, django_db_blocker: Any) -> Any:
    """Data in every model, every page rendered in both languages; all rolled back."""
    with django_db_blocker.unblock(), transaction.atomic():
        assert connection.settings_dict["NAME"].startswith("test_"), "not the test database"
        seed_migrated_data()
        owner = get_user_model().objects.create_user(
            username="owner-admin-pages", password="pw-for-tests-only", is_staff=True
        )
        owner.groups.add(Group.objects.get(name=roles.OWNER))
        pages_.fill_every_model(owner)
        empty = [
            model._meta.label for model, _ in our_screens() if not model._default_manager.exists()
        ]
        result = Walk(pages_.render_every_page(owner), empty, *pages_.stored_text())
        transaction.set_rollback(True)
    translation.activate(settings.LANGUAGE_CODE)
    return result


def test_every_screen_of_ours_is_walked_with_data(walk: Walk) -> None:
    assert walk.empty_models == [], (
        "These screens have no rows to show: make some in tests/config/admin_pages.py "
        "(fill_every_model) or in the app's demo seed"
    )
    walked = {page.model for page in walk.pages if page.kind == "change"}
    assert {model for model, _ in our_screens()} <= walked
    assert all({"en", "th"} <= set(page.html) for page in walk.pages)


def _problem(page: Page, language: str, what: str) -> str:
    return f"{page.url} ({language}, {page.kind}): {what}"


def _field_texts(reader: Any, name: str) -> list[str]:
    """The values shown for field ``name`` (list cells, read-only values, inline cells)."""
    return [
        t.text
        for t in reader.texts
        if t.field == name
        and t.tag != "label"
        and not {"help", "errorlist", "errornote", "money-input", "rate-input"} & set(t.classes)
    ]


def _shown_fields(page: Page, kind: str) -> dict[str, bool]:
    """``{field name: is money/rate}`` over the page's model and its inlines' models; a
    name that is money on one and not on another is left out (its cells are ambiguous)."""
    from django.contrib import admin

    if page.model is models.Model:  # the index pages
        return {}
    model_admin = admin.site._registry.get(page.model)
    page_models = [page.model] + [i.model for i in getattr(model_admin, "inlines", ())]
    pick = money_fields if kind == "money" else rate_fields
    chosen: dict[str, set[bool]] = {}
    for model in page_models:
        special = {f.name for f in pick(model)}
        for f in model._meta.concrete_fields:
            chosen.setdefault(f.name, set()).add(f.name in special)
    return {name: True for name, kinds in chosen.items() if kinds == {True}}


def _numbers_problems(
    page: Page, language: str, reader: Any, bare: dict[str, str], unit: str
) -> list[str]:
    problems = []
    for text in reader.texts:
        for token in NUMBER.findall(text.text):
            if token in bare:
                problems.append(_problem(page, language, f"{bare[token]} in {unit}: {text.text!r}"))
    return problems


def _cell_problems(
    page: Page, language: str, reader: Any, kind: str, pattern: re.Pattern[str]
) -> list[str]:
    problems = []
    for name in _shown_fields(page, kind):
        for shown in _field_texts(reader, name):
            if shown != "—" and not pattern.match(shown):
                problems.append(_problem(page, language, f"{name} shows {shown!r}"))
    return problems


def _input_problems(page: Page, language: str, reader: Any, names: set[str]) -> list[str]:
    """An editable amount holds major units (``800.00``) and a rate a percentage (``7``)."""
    problems = []
    for attrs in reader.inputs:
        name = attrs.get("name", "")
        if name in names and name in page.inputs and attrs.get("value", "") != page.inputs[name]:
            problems.append(
                _problem(
                    page,
                    language,
                    f"input {name}={attrs.get('value')!r}, not {page.inputs[name]!r}",
                )
            )
    return problems


def test_money_is_shown_as_money_and_typed_in_major_units(walk: Walk) -> None:
    problems: list[str] = []
    for page in walk.pages:
        money_names = (
            {f.name for f in money_fields(page.model)} if page.model is not models.Model else set()
        )
        for language, html in page.html.items():
            reader = read(html, language)
            problems += _numbers_problems(page, language, reader, page.bare_amounts, "minor units")
            problems += _cell_problems(page, language, reader, "money", MONEY)
            problems += _input_problems(page, language, reader, money_names)
    assert problems == [], "\n".join(sorted(set(problems)))


def test_rates_are_percentages_never_basis_points(walk: Walk) -> None:
    problems: list[str] = []
    for page in walk.pages:
        rate_names = (
            {f.name for f in rate_fields(page.model)} if page.model is not models.Model else set()
        )
        for language, html in page.html.items():
            reader = read(html, language)
            for text in reader.texts:
                if re.search(r"basis point|\bbp\b", text.text, re.IGNORECASE):
                    problems.append(_problem(page, language, f"basis points: {text.text!r}"))
            problems += _numbers_problems(page, language, reader, page.bare_rates, "basis points")
            problems += _cell_problems(page, language, reader, "rate", RATE)
            problems += _input_problems(page, language, reader, rate_names)
    assert problems == [], "\n".join(sorted(set(problems)))


def _kept_latin_words() -> set[str]:
    """English words that Thai translations keep on purpose (ours and Django's): brand and
    channel names such as SMS or PromptPay."""
    catalogues = list(Path(settings.BASE_DIR).glob("*/locale/th/LC_MESSAGES/django.po"))
    words: set[str] = set()
    for po in catalogues:
        if not po.exists():
            continue
        for entry in parse_po(po):
            for text in entry.msgstr.values():
                if entry.msgid:
                    words.update(w.casefold() for w in LATIN_WORD.findall(text))
    return words


def test_thai_pages_have_no_english_of_ours(walk: Walk) -> None:
    msgids = our_msgids()
    allowed = walk.data_words | _kept_latin_words()
    found: dict[str, list[str]] = {}  # what is wrong -> the pages it is on
    for page in walk.pages:
        english = {normalise(t.text) for t in read(page.html["en"], "en").texts}
        thai_texts = read(page.html["th"], "th").texts
        thai = {normalise(t.text) for t in thai_texts}
        for untranslated in (english & msgids & thai) - walk.data_values:
            found.setdefault(f"not translated: {untranslated!r}", []).append(page.url)
        for text in thai_texts:
            stray = [w for w in LATIN_WORD.findall(text.text) if w.casefold() not in allowed]
            if stray:
                found.setdefault(f"English {stray} in {text.text!r}", []).append(page.url)
    report = [
        f"{what} on {urls[0]}"
        + (f" and {len(set(urls)) - 1} more pages" if len(set(urls)) > 1 else "")
        for what, urls in sorted(found.items())
    ]
    assert report == [], f"{len(report)} problems on the Thai pages:\n" + "\n".join(report)


def test_every_label_of_our_models_is_translatable() -> None:
    """What the Thai walk cannot see on a page it checks here: every field, model and
    choice of our apps carries a translatable label (a field without one is labelled with
    its English attribute name, "โดย status")."""
    from django.apps import apps
    from django.utils.functional import Promise

    missing = []
    for model in apps.get_models():
        if not pages_.ours(model):
            continue
        for name in ("verbose_name", "verbose_name_plural"):
            if not isinstance(model._meta.original_attrs.get(name), Promise):
                missing.append(f"{model._meta.label}.Meta.{name}")
        for field in model._meta.get_fields():
            if getattr(field, "auto_created", False) or not hasattr(field, "_verbose_name"):
                continue
            if not isinstance(field._verbose_name, Promise):
                missing.append(f"{model._meta.label}.{field.name}")
            missing += [
                f"{model._meta.label}.{field.name} choice {value!r}"
                for value, label in getattr(field, "flatchoices", ())
                if not isinstance(label, Promise)
            ]
    assert missing == []
