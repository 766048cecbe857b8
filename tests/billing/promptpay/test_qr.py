"""The QR drawn as inline SVG: exactly the library's modules, on white, safely labelled."""

from __future__ import annotations

import re

import pytest
import qrcode

from billing.promptpay.qr import MAX_QR_DATA, qr_matrix, qr_svg

PAYLOAD = "00020101021229370016A000000677010111011300660000000005802TH530376454044.226304E469"


def _modules_drawn(svg: str, size: int) -> list[list[bool]]:
    """Read the SVG path back into modules (each run is ``M x y h w v1 h-w z``)."""
    grid = [[False] * size for _ in range(size)]
    path = re.search(r'<path fill="#000" d="([^"]*)"', svg)
    assert path is not None
    for x, y, width in re.findall(r"M(\d+) (\d+)h(\d+)v1h-\d+z", path.group(1)):
        for column in range(int(x), int(x) + int(width)):
            grid[int(y)][column] = True
    return grid


def test_the_svg_draws_exactly_the_modules_of_the_code():
    code = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_M, border=4)
    code.add_data(PAYLOAD)
    code.make(fit=True)
    expected = [[bool(m) for m in row] for row in code.get_matrix()]
    svg = str(qr_svg(PAYLOAD, label="PromptPay"))
    assert qr_matrix(PAYLOAD) == expected
    assert _modules_drawn(svg, len(expected)) == expected
    # A white square behind it, so it scans in dark mode; the size is in modules.
    assert f'viewBox="0 0 {len(expected)} {len(expected)}"' in svg
    assert '<rect width="' in svg and 'fill="#fff"' in svg


def test_the_label_is_escaped_and_the_data_never_reaches_the_markup():
    svg = str(qr_svg(PAYLOAD, label='฿800.00 "<script>'))
    assert 'aria-label="฿800.00 &quot;&lt;script&gt;"' in svg
    assert "<script" not in svg and PAYLOAD not in svg
    assert svg.startswith("<svg ") and svg.endswith("</svg>")


@pytest.mark.parametrize("data", ["", "x" * (MAX_QR_DATA + 1)])
def test_empty_or_oversized_data_is_refused(data):
    with pytest.raises(ValueError):
        qr_svg(data, label="x")
