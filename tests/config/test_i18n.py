"""The Thai catalogues: complete, compiled, and actually used by the admin and the API.

The .po files are read with a small pure-Python parser, so these tests need no gettext
binaries; the committed .mo files are checked against the .po they were compiled from.
"""

from __future__ import annotations

import ast
import datetime as dt
import gettext
import re
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils import translation

from billing.models import InvoiceStatus, MembershipStatus
from members import roles, services
from tests.factories import MemberFactory

CATALOGUES = {
    app: settings.BASE_DIR / app / "locale" / "th" / "LC_MESSAGES"
    for app in ("members", "billing", "config")
}
THAI = re.compile(r"[\u0E00-\u0E7F]")
# %(name)s-style and {name}-style placeholders; "%%" is a literal percent sign.
PLACEHOLDER = re.compile(r"%\([^)]+\)[-#0 +]*\d*(?:\.\d+)?[diouxXeEfFgGcrsa]|\{[^{}]*\}")


@dataclass
class Entry:
    msgid: str = ""
    msgid_plural: str | None = None
    msgctxt: str | None = None
    msgstr: dict[int, str] = field(default_factory=dict)
    flags: set[str] = field(default_factory=set)
    obsolete: bool = False


def parse_po(path: Path) -> list[Entry]:
    """Parse a .po file into entries (header included, as the entry with msgid "")."""
    entries: list[Entry] = []
    current = Entry()
    target: tuple[str, int | None] | None = None
    started = False

    def finish() -> None:
        nonlocal current, target, started
        if started:
            entries.append(current)
        current, target, started = Entry(), None, False

    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line:
            finish()
            continue
        if line.startswith("#~"):
            current.obsolete = True
            line = line[2:].strip()
            if not line:
                continue
        elif line.startswith("#,"):
            if started:
                finish()
            current.flags.update(f.strip() for f in line[2:].split(",") if f.strip())
            continue
        elif line.startswith("#"):
            if started:
                finish()
            continue
        keyword, _, rest = line.partition(" ")
        if line.startswith('"'):
            assert target is not None, f"{path}: continuation line without a keyword: {raw!r}"
            value: str = ast.literal_eval(line)
        else:
            value = ast.literal_eval(rest.strip())
            if keyword in {"msgctxt", "msgid"} and started and target and target[0] == "msgstr":
                finish()  # a new entry without a separating blank line
            started = True
            match = re.fullmatch(r"msgstr\[(\d+)\]", keyword)
            if match:
                target = ("msgstr", int(match.group(1)))
            elif keyword == "msgstr":
                target = ("msgstr", 0)
            elif keyword in {"msgid", "msgid_plural", "msgctxt"}:
                target = (keyword, None)
            else:
                raise AssertionError(f"{path}: unexpected line {raw!r}")
            if target[0] == "msgstr":
                current.msgstr.setdefault(target[1] or 0, "")
            elif target[0] == "msgid_plural":
                current.msgid_plural = ""
            elif target[0] == "msgctxt":
                current.msgctxt = ""
            # fall through to append `value`
        name, index = target
        if name == "msgstr":
            current.msgstr[index or 0] += value
        elif name == "msgid":
            current.msgid += value
        elif name == "msgid_plural":
            current.msgid_plural = (current.msgid_plural or "") + value
        else:
            current.msgctxt = (current.msgctxt or "") + value
    finish()
    return entries


def messages(app: str) -> list[Entry]:
    return [e for e in parse_po(CATALOGUES[app] / "django.po") if e.msgid and not e.obsolete]


@pytest.mark.parametrize("app", sorted(CATALOGUES))
def test_catalogue_is_complete_and_not_fuzzy(app):
    entries = parse_po(CATALOGUES[app] / "django.po")
    header = next(e for e in entries if e.msgid == "")
    assert "Language: th\n" in header.msgstr[0]
    assert [e.msgid for e in entries if "fuzzy" in e.flags] == []

    found = messages(app)
    assert found, f"{app}: the catalogue has no messages"
    untranslated = [e.msgid for e in found if not all(s.strip() for s in e.msgstr.values())]
    assert untranslated == []


@pytest.mark.parametrize("app", sorted(CATALOGUES))
def test_translations_are_thai_and_keep_placeholders(app):
    for entry in messages(app):
        for text in entry.msgstr.values():
            assert THAI.search(text), (entry.msgid, text)
            assert sorted(PLACEHOLDER.findall(text)) == sorted(PLACEHOLDER.findall(entry.msgid)), (
                entry.msgid,
                text,
            )


@pytest.mark.parametrize("app", sorted(CATALOGUES))
def test_compiled_catalogue_matches_the_po(app):
    """The committed .mo is present and holds exactly what the .po says."""
    mo = CATALOGUES[app] / "django.mo"
    assert mo.is_file(), f"{mo} is missing: run `manage.py compilemessages`"
    with mo.open("rb") as handle:
        compiled = gettext.GNUTranslations(handle)
    for entry in messages(app):
        if entry.msgid_plural is None and entry.msgctxt is None:
            assert compiled.gettext(entry.msgid) == entry.msgstr[0], entry.msgid


@pytest.mark.django_db
def test_member_validation_error_is_in_thai():
    tomorrow = dt.date.today() + dt.timedelta(days=2)
    with translation.override("th"):
        with pytest.raises(ValidationError) as caught:
            services.member_create(first_name="Mali", last_name="Thongdee", date_of_birth=tomorrow)
        message = caught.value.message_dict["date_of_birth"][0]
    assert THAI.search(message), message
    assert message == "วันเกิดต้องไม่เป็นวันที่ในอนาคต"


def test_billing_choices_and_language_names_are_in_thai():
    with translation.override("th"):
        assert str(MembershipStatus.FROZEN.label) == "พักสมาชิกภาพอยู่"
        assert str(InvoiceStatus.PAID.label) == "ชำระแล้ว"
        assert str(dict(settings.LANGUAGES)["th"]) == "ภาษาไทย"
    with translation.override("en"):
        assert str(MembershipStatus.FROZEN.label) == "Frozen"


@pytest.mark.django_db
def test_admin_member_changelist_is_in_thai(client, make_staff):
    MemberFactory()
    client.force_login(make_staff(roles.FRONT_DESK))
    response = client.get("/admin/members/member/", HTTP_ACCEPT_LANGUAGE="th")
    assert response.status_code == 200
    assert response["Content-Language"] == "th"
    page = response.content.decode()
    # From the members catalogue: the search help, an action, the alert filter, a status.
    assert "ชื่อ ชื่อเล่น อีเมล เบอร์โทรศัพท์ (รูปแบบใดก็ได้) หรือหมายเลขสมาชิก" in page
    assert "ส่งออกสมาชิกที่เลือกเป็นไฟล์ CSV" in page
    assert "มีการแจ้งเตือนที่ยังไม่ปิด" in page
    assert "ผู้สนใจสมัคร" in page
    assert "Export selected members to CSV" not in page


@pytest.mark.django_db
def test_admin_member_changelist_stays_english_for_english(client, make_staff):
    client.force_login(make_staff(roles.FRONT_DESK))
    response = client.get("/admin/members/member/", HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 200
    assert "Export selected members to CSV" in response.content.decode()


@pytest.mark.django_db
def test_api_field_errors_are_in_thai(api_as):
    client = api_as(roles.FRONT_DESK)
    tomorrow = dt.date.today() + dt.timedelta(days=2)
    response = client.post(
        "/api/v1/members/",
        {"first_name": "Mali", "last_name": "Thongdee", "date_of_birth": tomorrow.isoformat()},
        format="json",
        HTTP_ACCEPT_LANGUAGE="th",
    )
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "invalid"
    assert body["fields"]["date_of_birth"] == ["วันเกิดต้องไม่เป็นวันที่ในอนาคต"]


# --- Every translatable string in a template has its Thai --------------------------------

# The msgid of each call templatize writes: the first string of gettext and ngettext
# (singular), the second of pgettext and npgettext (after the context).
_TEMPLATIZED = re.compile(
    r"\b(?:(?:gettext|ngettext)\(|(?:pgettext|npgettext)\(u?'(?:[^'\\]|\\.)*',\s*)"
    r"u?'((?:[^'\\]|\\.)*)'"
)


def _template_strings() -> dict[str, set[str]]:
    """msgid -> the templates using it, for every project and app template."""
    from django.utils.translation.template import templatize

    roots = [settings.BASE_DIR / "templates"] + [
        settings.BASE_DIR / app / "templates"
        for app in ("members", "billing", "access_control", "dunning", "config")
    ]
    found: dict[str, set[str]] = {}
    for root in roots:
        for path in sorted(root.rglob("*.html")) + sorted(root.rglob("*.txt")):
            code = templatize(path.read_text(encoding="utf-8"), origin=str(path))
            for raw in _TEMPLATIZED.findall(code):
                msgid = ast.literal_eval(f"'{raw}'")
                found.setdefault(msgid, set()).add(str(path.relative_to(settings.BASE_DIR)))
    return found


def test_every_template_string_is_translated_into_thai():
    strings = _template_strings()
    assert len(strings) > 50, "the templates' strings were found"
    with translation.override("th"):
        missing = {
            msgid: sorted(paths)
            for msgid, paths in strings.items()
            if re.search("[A-Za-z]{2}", PLACEHOLDER.sub("", msgid))
            and translation.gettext(msgid) == msgid
        }
    assert not missing, missing
