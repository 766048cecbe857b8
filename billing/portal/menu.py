"""Billing's entries in the portal's menu (``members.hooks.portal_menu``): no queries."""

from __future__ import annotations

from django.http import HttpRequest
from django.urls import reverse
from django.utils.translation import gettext as _

from members.hooks import PortalLink


def portal_menu(request: HttpRequest) -> list[PortalLink]:
    return [
        PortalLink("billing", _("Invoices"), reverse("billing_portal:invoices"), order=20),
        PortalLink("membership", _("Membership"), reverse("billing_portal:membership"), order=25),
    ]
