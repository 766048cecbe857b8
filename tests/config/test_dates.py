"""One way to write dates: local time, 24-hour, and the Buddhist year in Thai."""

from __future__ import annotations

import datetime as dt

import pytest
from django.template import engines
from django.utils import timezone, translation

from config import dates

MOMENT = dt.datetime(2026, 12, 7, 10, 28, 21, tzinfo=dt.UTC)  # 17:28 in Bangkok


@pytest.fixture(autouse=True)
def _bangkok():
    with timezone.override("Asia/Bangkok"):
        yield


@pytest.mark.parametrize(
    ("language", "long", "short", "moment"),
    [
        ("en", "7 December 2026", "7 Dec 2026", "7 Dec 2026, 17:28"),
        ("th", "7 ธันวาคม 2569", "7 ธ.ค. 2569", "7 ธ.ค. 2569 17:28"),
    ],
)
def test_dates_in_each_language(language, long, short, moment):
    with translation.override(language):
        assert dates.format_date(MOMENT.date()) == long
        assert dates.format_date(MOMENT.date(), "short") == short
        assert dates.format_datetime(MOMENT) == moment
        assert dates.format_time(MOMENT, seconds=True) == "17:28:21"


def test_the_buddhist_year_is_a_setting(settings):
    settings.THAI_BUDDHIST_YEAR = False
    with translation.override("th"):
        assert dates.format_date(MOMENT.date()) == "7 ธันวาคม 2026"


def test_a_datetime_is_dated_by_its_local_day():
    late = dt.datetime(2026, 12, 31, 18, 0, tzinfo=dt.UTC)  # already 1 January in Bangkok
    with translation.override("en"):
        assert dates.format_date(late) == "1 January 2027"


def test_escaped_format_characters_are_kept():
    with translation.override("th"):
        assert dates._with_year("\\Y Y", MOMENT.date()) == "\\Y \\2\\5\\6\\9"


def test_the_template_filters_write_the_same():
    template = engines["django"].from_string(
        "{% load gym_dates %}{{ day|local_date }}|{{ moment|local_datetime }}"
        "|{{ moment|local_time }}|{{ missing|local_date }}"
    )
    with translation.override("th"):
        assert template.render({"day": MOMENT.date(), "moment": MOMENT, "missing": None}) == (
            "7 ธันวาคม 2569|7 ธ.ค. 2569 17:28|17:28|"
        )


def test_years_in_text_django_wrote_are_the_readers():
    """The admin's date links ("ธันวาคม 2026", "2026") carry the Buddhist year in Thai."""
    with translation.override("th"):
        assert dates.with_local_years("ธันวาคม 2026") == "ธันวาคม 2569"
        assert dates.with_local_years("12026 or 2026-12") == "12026 or 2569-12"
    with translation.override("en"):
        assert dates.with_local_years("December 2026") == "December 2026"
