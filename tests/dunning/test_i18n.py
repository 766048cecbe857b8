"""The dunning catalogue is complete, Thai, compiled, and used by the hosted page."""

from __future__ import annotations

import gettext

from django.conf import settings
from django.utils import translation

from dunning.models import CaseStatus, DeclineCategory
from tests.config.test_i18n import PLACEHOLDER, THAI, parse_po

CATALOGUE = settings.BASE_DIR / "dunning" / "locale" / "th" / "LC_MESSAGES"


def entries():
    return [e for e in parse_po(CATALOGUE / "django.po") if e.msgid and not e.obsolete]


def test_every_message_is_translated_into_thai_with_its_placeholders():
    found = entries()
    assert len(found) > 150
    header = next(e for e in parse_po(CATALOGUE / "django.po") if e.msgid == "")
    assert "Language: th\n" in header.msgstr[0]
    for entry in found:
        assert "fuzzy" not in entry.flags, entry.msgid
        for text in entry.msgstr.values():
            assert text.strip() and THAI.search(text), entry.msgid
            assert sorted(PLACEHOLDER.findall(text)) == sorted(PLACEHOLDER.findall(entry.msgid))


def test_the_compiled_catalogue_matches_the_po():
    with (CATALOGUE / "django.mo").open("rb") as handle:
        compiled = gettext.GNUTranslations(handle)
    for entry in entries():
        assert compiled.gettext(entry.msgid) == entry.msgstr[0], entry.msgid


def test_choices_are_thai_in_thai():
    with translation.override("th"):
        assert str(CaseStatus.RECOVERED.label) == "ได้รับชำระแล้ว"
        assert str(DeclineCategory.FUNDS.label) == "ยอดเงินไม่พอ"
