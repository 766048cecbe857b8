"""The pass in the portal's menu and on its home page (``members.hooks``)."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from django.urls import reverse
from django.utils.translation import gettext as _

from members.hooks import PortalAction, PortalCard, PortalLink


def portal_menu(request: HttpRequest) -> list[PortalLink]:
    return [PortalLink("pass", _("Pass"), reverse("access_portal:pass"), order=40)]


def portal_home_cards(request: HttpRequest, member: Any) -> list[PortalCard]:
    own = member.pk == getattr(request, "member", member).pk
    url = (
        reverse("access_portal:pass")
        if own
        else reverse("access_portal:dependant_pass", args=[member.pk])
    )
    return [
        PortalCard(
            key="pass",
            title=_("Entry pass"),
            text=_("Show the QR pass at the reader to get in."),
            actions=[PortalAction(_("Show my pass") if own else _("Show their pass"), url)],
            order=40,
        )
    ]
