"""The member page's billing buttons (``members.hooks.member_page_tools``)."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from django.http import HttpRequest
from django.urls import reverse
from django.utils.translation import gettext as _


def member_page_tools(request: HttpRequest, member: Any) -> list[tuple[str, str]]:
    """Links to the member's memberships and invoices, for whoever may see them."""
    tools: list[tuple[str, str]] = []
    for label, model, field in (
        (_("Memberships"), "membership", "member__id__exact"),
        (_("Invoices"), "invoice", "member__id__exact"),
    ):
        if request.user.has_perm(f"billing.view_{model}"):
            url = reverse(f"admin:billing_{model}_changelist")
            tools.append((str(label), f"{url}?{urlencode({field: member.pk})}"))
    return tools
