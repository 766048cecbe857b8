"""Amounts in Thai words, as tax documents write them: ฿800.00 is "แปดร้อยบาทถ้วน".

The rules (those of the Royal Institute, and of spreadsheets' BAHTTEXT):
- digits are read in groups of six; each group above the lowest ends in "ล้าน", so
  ฿1,000,000,000,000 is "หนึ่งล้านล้าน";
- a one in the tens is "สิบ", a two is "ยี่สิบ";
- a one in the units after any other digit of the number is "เอ็ด" (11 "สิบเอ็ด", 101
  "หนึ่งร้อยเอ็ด", 1,000,001 "หนึ่งล้านเอ็ด"); alone it is "หนึ่ง";
- whole baht end in "บาทถ้วน"; satang are read as a number of their own before "สตางค์"
  (฿0.50 "ห้าสิบสตางค์", ฿1.01 "หนึ่งบาทหนึ่งสตางค์").
"""

from __future__ import annotations

DIGITS = ("ศูนย์", "หนึ่ง", "สอง", "สาม", "สี่", "ห้า", "หก", "เจ็ด", "แปด", "เก้า")
PLACES = ("", "สิบ", "ร้อย", "พัน", "หมื่น", "แสน")
MILLION = "ล้าน"
BAHT, SATANG, EXACT, MINUS = "บาท", "สตางค์", "ถ้วน", "ลบ"
SATANG_PER_BAHT = 100


def _group_words(group: int, *, after_higher: bool) -> str:
    """0 <= ``group`` < 1,000,000; ``after_higher``: a higher group of the number was read."""
    words: list[str] = []
    digits = str(group).zfill(6)
    for index, char in enumerate(digits):
        digit = int(char)
        place = 5 - index
        if digit == 0:
            continue
        if place == 1 and digit == 1:
            words.append(PLACES[1])
        elif place == 1 and digit == 2:
            words.append("ยี่" + PLACES[1])
        elif place == 0 and digit == 1 and (group > 1 or after_higher):
            words.append("เอ็ด")
        else:
            words.append(DIGITS[digit] + PLACES[place])
    return "".join(words)


def number_words(number: int) -> str:
    """A whole number >= 0 in Thai words: 21 is "ยี่สิบเอ็ด", 0 "ศูนย์"."""
    if number < 0:
        raise ValueError("number_words reads numbers from zero up")
    if number == 0:
        return DIGITS[0]
    millions, rest = divmod(number, 1_000_000)
    if not millions:
        return _group_words(rest, after_higher=False)
    # 1,000,001,000,000 is "หนึ่งล้านเอ็ดล้าน": the millions are a number of their own.
    return (
        number_words(millions) + MILLION + (_group_words(rest, after_higher=True) if rest else "")
    )


def baht_text(satang: int) -> str:
    """An amount in satang (THB minor units) in Thai words: 80000 is "แปดร้อยบาทถ้วน"."""
    if satang < 0:
        return MINUS + baht_text(-satang)
    baht, rest = divmod(satang, SATANG_PER_BAHT)
    if rest == 0:
        return number_words(baht) + BAHT + EXACT
    satang_words = number_words(rest) + SATANG
    return satang_words if baht == 0 else number_words(baht) + BAHT + satang_words
