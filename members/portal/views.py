"""The portal shell's pages: home, a dependant's page, the language switch.

Thin: reads come from ``members.hooks`` (every app's cards) and ``.access``; writes from
``members.services``.
"""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from .. import hooks, services
from .access import member_in_reach, member_required, portal_dependants, portal_member
from .auth import set_language_cookie


@member_required
def home(request: HttpRequest) -> HttpResponse:
    """The member's home: every app's cards (membership, what is owed, bookings...), and
    the dependants they manage."""
    request.portal_section = "home"  # type: ignore[attr-defined]
    member = request.member  # type: ignore[attr-defined]
    context = {
        "member": member,
        "cards": hooks.portal_cards_for(request, member),
        "dependants": portal_dependants(request),
    }
    return render(request, "members/portal/home.html", context)


@member_required
def dependant(request: HttpRequest, member_id: int) -> HttpResponse:
    """A dependant's page, for the payer or guardian who manages them (404 for others)."""
    request.portal_section = "home"  # type: ignore[attr-defined]
    member = member_in_reach(request, member_id)
    if member.pk == request.member.pk:  # type: ignore[attr-defined]
        return HttpResponseRedirect(reverse("portal:home"))
    context = {"member": member, "cards": hooks.portal_cards_for(request, member)}
    return render(request, "members/portal/dependant.html", context)


def _safe_next(request: HttpRequest) -> str:
    target = request.POST.get("next", "")
    if target and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return reverse("portal:home")


@require_POST
def language(request: HttpRequest) -> HttpResponse:
    """Switch the portal's language; a signed-in member's choice is kept for their
    messages too.  Open to visitors (the sign-in page has the switch)."""
    chosen = request.POST.get("language", "")
    response = HttpResponseRedirect(_safe_next(request))
    if chosen not in dict(settings.LANGUAGES):
        return response
    member = portal_member(request.user)
    if member is not None and member.language != chosen:
        services.member_language_set(member, chosen)
    set_language_cookie(response, chosen)
    return response
