"""HTML to PDF with WeasyPrint, with Thai that renders and reads back correctly.

WeasyPrint shapes text with Pango and HarfBuzz, so Thai marks sit where they belong.  A
PDF also maps each glyph back to text (its ToUnicode table), for copying, searching and
screen readers.  WeasyPrint writes that table from the first text it saw a glyph in,
which breaks Thai: HarfBuzz splits "ำ" into two glyphs, so the glyph for "า" reads back as
"ำ"; a tone mark lowered over "ู" (an alternate glyph) reads back as another mark.  We
therefore rewrite the table for the fonts we ship in the page's CSS: each glyph reads as
the character the font itself maps to it, and each alternate glyph (a single substitution
in the font's GSUB table) as the character it replaces.  "ำ" then reads back as "ํา", its
compatibility decomposition (NFKC folds it back).
"""

from __future__ import annotations

import functools
import re
from pathlib import Path
from typing import Any

from django.conf import settings
from fontTools.ttLib import TTFont
from weasyprint import CSS, HTML
from weasyprint.text.fonts import FontConfiguration

# The document's two faces: (CSS family, weight) -> the font file in the font directory.
FAMILY = "Invoice Thai"
FACES = {400: "Loma.ttf", 700: "Loma-Bold.ttf"}
_BFCHAR = re.compile(rb"^<([0-9a-fA-F]{4})> <([0-9a-fA-F]*)>$")
# Private-use code points: TLWG fonts' legacy glyph slots, never text.
_PRIVATE_USE = range(0xE000, 0xF900)


def font_dir() -> Path:
    return Path(settings.BILLING_PDF_FONT_DIR)


def font_face_css() -> str:
    """``@font-face`` rules for the document's family, from the configured directory."""
    rules = []
    for weight, filename in FACES.items():
        url = (font_dir() / filename).resolve().as_uri()
        rules.append(
            f'@font-face {{ font-family: "{FAMILY}"; font-weight: {weight}; src: url("{url}"); }}'
        )
    return "\n".join(rules)


@functools.cache
def glyph_texts(path: str) -> dict[int, str]:
    """Glyph id -> the text it stands for, from the font's cmap and GSUB alternates."""
    font = TTFont(path, lazy=True)
    order = font.getGlyphOrder()
    by_name: dict[str, str] = {}
    for code, name in sorted(font.getBestCmap().items()):
        if code not in _PRIVATE_USE:
            by_name.setdefault(name, chr(code))
    if "GSUB" in font:
        singles: list[dict[str, str]] = []
        for lookup in font["GSUB"].table.LookupList.Lookup:
            for subtable in lookup.SubTable:
                if lookup.LookupType == 7:  # an extension wraps the real subtable
                    subtable = subtable.ExtSubTable
                if getattr(subtable, "LookupType", None) == 1:
                    singles.append(subtable.mapping)
        # An alternate of an alternate (a mark lowered, then shifted left) still reads as
        # the first glyph's character: repeat until nothing new is learnt.
        learnt = True
        while learnt:
            learnt = False
            for mapping in singles:
                for source, target in mapping.items():
                    if source in by_name and target not in by_name:
                        by_name[target] = by_name[source]
                        learnt = True
    index = {name: number for number, name in enumerate(order)}
    return {index[name]: text for name, text in by_name.items() if name in index}


def _face_path(font: Any) -> str | None:
    if font.family != FAMILY:
        return None
    weight = 700 if font.weight >= 600 else 400
    return str(font_dir() / FACES[weight])


def _rewrite_to_unicode(stream_lines: list[Any], texts: dict[int, str]) -> None:
    for position, line in enumerate(stream_lines):
        if not isinstance(line, bytes):
            continue
        match = _BFCHAR.match(line)
        if not match:
            continue
        text = texts.get(int(match.group(1), 16))
        if text:
            stream_lines[position] = b"<%s> <%s>" % (
                match.group(1),
                text.encode("utf-16-be").hex().encode(),
            )


def _thai_text_map(document: Any, pdf: Any) -> None:
    """WeasyPrint's finisher: correct the ToUnicode table of our faces (see above)."""
    paths = {font.name: _face_path(font) for font in document.fonts.values()}
    for obj in pdf.objects:
        if not (isinstance(obj, dict) and obj.get("Type") == "/Font" and "ToUnicode" in obj):
            continue
        path = paths.get(obj.get("BaseFont"))
        if path is None:
            continue
        number = int(obj["ToUnicode"].split()[0])
        _rewrite_to_unicode(pdf.objects[number].stream, glyph_texts(path))


def html_to_pdf(html: str) -> bytes:
    """Render a document's HTML (which links no outside resource) as PDF bytes."""
    fonts = FontConfiguration()
    faces = CSS(string=font_face_css(), font_config=fonts)
    document = HTML(string=html, base_url=str(font_dir())).render(
        stylesheets=[faces], font_config=fonts
    )
    pdf: bytes = document.write_pdf(finisher=_thai_text_map)
    return pdf
