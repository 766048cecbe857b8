"""``{% today_sections as sections %}``: the sections of "Today at the gym" for the request's
user, from every app that registered into ``members.hooks.today_sections``."""

from __future__ import annotations

from typing import Any

from django import template

from .. import hooks

register = template.Library()


@register.simple_tag(takes_context=True)
def today_sections(context: Any) -> list[hooks.TodaySection]:
    request = context.get("request")
    if request is None or not getattr(request.user, "is_staff", False):
        return []
    return hooks.sections_for(request)
