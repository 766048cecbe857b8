"""The card on file: see it, and replace it at any time (not only from a dunning link).

The new card comes from the gateway's own form (the sandbox's token in the demo) and
becomes the default card, on which every membership the member pays for is charged.  A
new default is news for what waits on the card: an overdue payment is retried at once
(dunning), so an up-to-date card also settles what is owed.
"""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from members.portal.access import member_required

from ..errors import PaymentNotAllowed
from ..gateways import default_gateway_name
from ..gateways.interface import GatewayError
from ..services.online_pay import card_form_key
from ..services.payments import default_payment_method, payment_method_attach
from .pay import clean_card_token
from .scope import me

SECTION = "membership"


@member_required
@require_http_methods(["GET", "POST"])
def card(request: HttpRequest) -> HttpResponse:
    request.portal_section = SECTION  # type: ignore[attr-defined]
    member = me(request)
    errors: list[str] = []
    if request.method == "POST":
        token = clean_card_token(request.POST.get("card_token"))
        try:
            if not token:
                raise ValidationError("card_token_missing")
            payment_method_attach(
                member, gateway=default_gateway_name(), token=token, make_default=True
            )
        except (GatewayError, PaymentNotAllowed, ValidationError):
            errors.append(_("We could not use that card. Please check it and try again."))
        else:
            messages.success(request, _("Your new card is saved. We charge it from now on."))
            return HttpResponseRedirect(reverse("billing_portal:card"), status=303)
    return render(
        request,
        "billing/portal/card.html",
        {
            "method": default_payment_method(member.pk),
            "card_form_key": card_form_key(),
            "card_errors": errors,
        },
        status=400 if errors else 200,
    )
