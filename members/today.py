"""Members' own rows on "Today at the gym": today's birthdays."""

from __future__ import annotations

from django.contrib.admin.utils import quote
from django.http import HttpRequest
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from config import clock

from .hooks import TodayRow, TodaySection
from .selectors import members_with_birthday


def today_sections(request: HttpRequest) -> list[TodaySection]:
    if not request.user.has_perm("members.view_member"):
        return []
    today = clock.today()
    people = members_with_birthday(today)
    rows = [
        TodayRow(
            text=member.full_name,
            url=reverse("admin:members_member_change", args=[quote(member.pk)]),
            detail=_("%(age)d today") % {"age": member.age(today) or 0},
        )
        for member in people
    ]
    return [
        TodaySection(
            key="birthdays",
            title=_("Birthdays today"),
            rows=rows,
            figure=str(len(rows)),
            figure_label=ngettext("birthday", "birthdays", len(rows)),
            empty=_("No birthdays today."),
            order=80,
        )
    ]
