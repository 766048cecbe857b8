"""The shell's own entries of the portal menu (``members.hooks.portal_menu``)."""

from __future__ import annotations

from django.http import HttpRequest
from django.urls import reverse
from django.utils.translation import gettext as _

from ..hooks import PortalLink


def portal_menu(request: HttpRequest) -> list[PortalLink]:
    return [
        PortalLink("home", _("Home"), reverse("portal:home"), order=0),
        PortalLink("profile", _("Profile"), reverse("portal:profile"), order=80),
        PortalLink("privacy", _("Privacy"), reverse("portal:privacy"), order=90),
    ]
