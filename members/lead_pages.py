"""The page behind a lead's "no more emails" link (signed; GET asks, POST withdraws)."""

from __future__ import annotations

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import translation
from django.views.decorators.http import require_http_methods

from . import leads


@require_http_methods(["GET", "POST"])
def lead_unsubscribe(request: HttpRequest, token: str) -> HttpResponse:
    lead = leads.unsubscribe_lead(token)
    if lead is None:
        raise Http404
    if not request.COOKIES.get("django_language"):  # the email's language, unless chosen
        translation.activate(lead.language)
        request.LANGUAGE_CODE = lead.language
    done = False
    if request.method == "POST":
        leads.lead_marketing_withdraw(lead)
        done = True
    return render(request, "members/lead_unsubscribe.html", {"lead": lead, "done": done})
