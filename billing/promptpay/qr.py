"""A payload drawn as a QR code, as inline SVG for pages (no image files, no network).

The ``qrcode`` library computes the code; this module only writes its modules as one SVG
path on a white square (a quiet zone of four modules), so the code scans in dark mode
too and scales to any width without blurring.
"""

from __future__ import annotations

import qrcode
import qrcode.constants
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

__all__ = ["MAX_QR_DATA", "qr_matrix", "qr_svg"]

MAX_QR_DATA = 512  # characters; a PromptPay payload is under 100
_QUIET_ZONE = 4


def qr_matrix(data: str) -> list[list[bool]]:
    """The code's modules, row by row, quiet zone included (``True`` is dark)."""
    if not data or len(data) > MAX_QR_DATA:
        raise ValueError(f"QR data must be 1 to {MAX_QR_DATA} characters.")
    code = qrcode.QRCode(
        error_correction=qrcode.constants.ERROR_CORRECT_M, border=_QUIET_ZONE, box_size=1
    )
    code.add_data(data)
    code.make(fit=True)
    return [[bool(module) for module in row] for row in code.get_matrix()]


def _path(matrix: list[list[bool]]) -> str:
    """One path: each horizontal run of dark modules is one small rectangle."""
    parts: list[str] = []
    for y, row in enumerate(matrix):
        x = 0
        while x < len(row):
            if not row[x]:
                x += 1
                continue
            start = x
            while x < len(row) and row[x]:
                x += 1
            parts.append(f"M{start} {y}h{x - start}v1h-{x - start}z")
    return "".join(parts)


def qr_svg(data: str, *, label: str, element_id: str = "") -> SafeString:
    """The QR code for ``data`` as an ``<svg>`` element for a page.

    ``label`` is what a screen reader says (e.g. "PromptPay QR code for ฿800.00").  Only
    the code's geometry reaches the markup, never ``data`` itself, and the label is
    escaped, so the element is safe to insert as it is.
    """
    matrix = qr_matrix(data)
    size = len(matrix)
    identifier = f' id="{escape(element_id)}"' if element_id else ""
    svg = (
        f'<svg xmlns="http://www.w3.org/2000/svg"{identifier} class="qr-code" role="img" '
        f'aria-label="{escape(label)}" viewBox="0 0 {size} {size}" '
        f'shape-rendering="crispEdges" preserveAspectRatio="xMidYMid meet">'
        f'<rect width="{size}" height="{size}" fill="#fff"/>'
        f'<path fill="#000" d="{_path(matrix)}"/></svg>'
    )
    return mark_safe(svg)  # noqa: S308 - built from integers and an escaped label only
