"""The access control Thai catalogue: complete, Thai, compiled, and used at the gate."""

from __future__ import annotations

import gettext

from django.conf import settings
from django.utils import translation

from access_control.errors import CredentialNotAllowed, DeviceNotAllowed, OverrideNotAllowed
from access_control.reasons import REASON_LABELS, REASON_MESSAGES, WARNING_MESSAGES, Reason
from tests.config.test_i18n import PLACEHOLDER, THAI, parse_po

CATALOGUE = settings.BASE_DIR / "access_control" / "locale" / "th" / "LC_MESSAGES"


def messages():
    return [e for e in parse_po(CATALOGUE / "django.po") if e.msgid and not e.obsolete]


def test_every_message_is_translated_into_thai_with_its_placeholders():
    entries = parse_po(CATALOGUE / "django.po")
    assert [e.msgid for e in entries if "fuzzy" in e.flags] == []
    for entry in messages():
        (text,) = entry.msgstr.values()
        assert THAI.search(text), entry.msgid
        assert sorted(PLACEHOLDER.findall(text)) == sorted(PLACEHOLDER.findall(entry.msgid))


def test_the_compiled_catalogue_matches_the_po():
    with (CATALOGUE / "django.mo").open("rb") as handle:
        compiled = gettext.GNUTranslations(handle)
    for entry in messages():
        assert compiled.gettext(entry.msgid) == entry.msgstr[0], entry.msgid


def test_every_gate_message_is_in_the_catalogue():
    msgids = {entry.msgid for entry in messages()}
    with translation.override("en"):
        for template in [*REASON_MESSAGES.values(), *WARNING_MESSAGES.values()]:
            assert str(template) in msgids


def test_every_refusal_and_reason_label_is_in_the_catalogue():
    assert set(REASON_LABELS) == set(Reason)
    refusals = [
        message
        for error in (CredentialNotAllowed, DeviceNotAllowed, OverrideNotAllowed)
        for message in error.reason_messages.values()
    ]
    msgids = {entry.msgid for entry in messages()}
    with translation.override("en"):
        for template in [*REASON_LABELS.values(), *refusals]:
            assert str(template) in msgids
