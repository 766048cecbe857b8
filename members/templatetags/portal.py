"""``{% load portal %}``: the portal layout's pieces (``templates/portal/base.html``)."""

from __future__ import annotations

from typing import Any

from django import template
from django.http import HttpRequest

from .. import hooks
from ..models import GymProfile

register = template.Library()


def gym_profile(request: HttpRequest | None) -> GymProfile:
    """The gym's profile, read once per request (every portal page shows its name)."""
    cache = request.__dict__ if request is not None else {}
    if "_portal_gym" not in cache:
        cache["_portal_gym"] = GymProfile.objects.first() or GymProfile(name="Gym")
    return cache["_portal_gym"]  # type: ignore[no-any-return]


@register.simple_tag(takes_context=True)
def portal_gym(context: template.Context) -> GymProfile:
    """``{% portal_gym as gym %}``"""
    return gym_profile(context.get("request"))


@register.inclusion_tag("portal/_menu.html", takes_context=True)
def portal_menu(context: template.Context) -> dict[str, Any]:
    """The menu: every app's entries (``members.hooks.portal_menu``), the current one
    marked (a view sets ``request.portal_section``)."""
    request = context.get("request")
    links = hooks.portal_menu_for(request) if request is not None else []
    return {"links": links, "current": getattr(request, "portal_section", "")}


@register.inclusion_tag("portal/_card.html")
def portal_card(card: hooks.PortalCard) -> dict[str, Any]:
    """``{% portal_card card %}``: one home-page card."""
    return {"card": card}
