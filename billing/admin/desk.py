"""The desk's money pages for one member: take a payment, and take a new card.

- ``TakePaymentPages`` (on the invoice admin): the member's open invoices, paid by cash,
  the card on file, or any route registered in ``billing.services.desk.DESK_ROUTES``
  (PromptPay adds itself there);
- ``CardPages`` (on the payment-method admin): a new card taken through the gateway's
  own form (Stripe Elements; in the sandbox, a test token), made the default.

Both call one ``billing.services`` function; what it refuses comes back as a message
on the page.  Each page carries a one-time key, so a double click pays once.
"""

from __future__ import annotations

import re
import secrets
from typing import Any, cast

from django import forms
from django.contrib import messages
from django.contrib.admin.utils import quote
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.validators import RegexValidator
from django.http import (
    Http404,
    HttpRequest,
    HttpResponse,
    HttpResponseRedirect,
    JsonResponse,
    QueryDict,
)
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_POST

from config import clock
from config.dates import format_date
from config.errors import DomainError
from members.models import Member
from members.profile import safe_next, status_badge

from ..declines import CUSTOMER_ACTION, FUNDS, HARD, TEMPORARY
from ..gateways import default_gateway_name, get_gateway
from ..gateways.interface import GatewayError
from ..models import AttemptStatus, Invoice, PaymentAttempt
from ..money import format_amount
from ..services import desk, payments
from ..services.customers import gateway_customer_for
from ..summaries import member_invoices_open
from .base import describe_error, major_units
from .forms import BillingForm, MoneyField

TAKE_PAYMENT_TEMPLATE = "admin/billing/take_payment.html"
NEW_CARD_TEMPLATE = "admin/billing/new_card.html"
NO_CONTROL_CHARACTERS = RegexValidator(
    r"^[^\x00-\x1f\x7f]*$", _("Remove the control characters."), code="control_characters"
)


def new_request_key() -> str:
    return secrets.token_urlsafe(16)


def profile_url(member: Member) -> str:
    return reverse("admin:members_member_change", args=[quote(member.pk)])


def decline_words(attempt: PaymentAttempt) -> str:
    """A charge that did not go through, as the desk should read it."""
    if attempt.status in (AttemptStatus.UNKNOWN, AttemptStatus.PENDING):
        return gettext(
            "The bank has not answered yet. Do not charge again: the outcome is checked "
            "automatically."
        )
    if attempt.status == AttemptStatus.REQUIRES_ACTION:
        return gettext(
            "The bank wants the cardholder to confirm this payment; send the member a pay "
            "link, or take another way of paying."
        )
    words = {
        HARD: gettext("The bank refused this card for good: use another card or cash."),
        CUSTOMER_ACTION: gettext(
            "The bank needs the cardholder to act (expired card, wrong details): use "
            "another card or cash."
        ),
        FUNDS: gettext("Declined: not enough funds on the card."),
        TEMPORARY: gettext("The bank could not take it just now: try again in a moment."),
    }
    text = words.get(attempt.decline_category, gettext("Declined by the bank."))
    return f"{text} ({attempt.decline_code or attempt.network_code or '—'})"


def card_form_context(member: Member, request_key: str) -> dict[str, Any]:
    """What the card form partial needs: the gateway's browser key where it hosts the card
    form (Stripe Elements), else nothing (the sandbox's test tokens are typed)."""
    gateway = get_gateway(default_gateway_name())
    key = str(gateway.publishable_key) if gateway.hosted_card_form else ""
    return {
        "card_form_key": key,
        "card_setup_url": reverse(
            "admin:billing_paymentmethod_card_setup", args=[quote(member.payer.pk)]
        )
        + f"?key={request_key}",
    }


# --- Forms ------------------------------------------------------------------------------


class TakePaymentForm(BillingForm):
    invoices = forms.TypedMultipleChoiceField(
        label=_("Invoices"), coerce=int, widget=forms.CheckboxSelectMultiple
    )
    route = forms.ChoiceField(label=_("Paid by"), widget=forms.RadioSelect)
    reference = forms.CharField(
        label=_("Reference"),
        max_length=120,
        required=False,
        validators=[NO_CONTROL_CHARACTERS],
        help_text=_("Receipt number, if any."),
    )
    request_key = forms.CharField(widget=forms.HiddenInput, max_length=64)

    def __init__(
        self,
        *args: Any,
        invoices: list[Invoice],
        routes: list[desk.DeskRoute],
        currency: str,
        card_label: str = "",
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.routes = {route.code: route for route in routes}
        invoice_field = self.fields["invoices"]
        assert isinstance(invoice_field, forms.TypedMultipleChoiceField)
        invoice_field.choices = [(invoice.pk, str(invoice)) for invoice in invoices]
        route_field = self.fields["route"]
        assert isinstance(route_field, forms.ChoiceField)
        route_field.choices = [
            (
                route.code,
                f"{route.label} ({card_label})"
                if route.code == desk.CARD_ON_FILE and card_label
                else str(route.label),
            )
            for route in routes
        ]
        self.fields["amount"] = MoneyField(
            currency=currency,
            required=False,
            label=_("Amount received (%(currency)s)") % {"currency": currency},
            help_text=_("For cash: what the member hands over, up to what is owed."),
        )

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        route = self.routes.get(data.get("route", ""))
        if route is not None and route.typed_amount and data.get("amount") is None:
            self.add_error("amount", _("Enter the amount received."))
        return data


class NewCardForm(BillingForm):
    card_token = forms.CharField(
        label=_("New card"),
        max_length=120,
        widget=forms.TextInput(attrs={"autocomplete": "off", "spellcheck": "false"}),
        help_text=_("Sandbox: a test card token such as tok_ok."),
    )
    request_key = forms.CharField(widget=forms.HiddenInput, max_length=64)


# --- Pages ------------------------------------------------------------------------------


class DeskPagesBase:
    admin_site: Any
    opts: Any
    message_user: Any

    def _desk_member(self, member_id: str) -> Member:
        member = None
        if re.fullmatch(r"[0-9]{1,18}", member_id):
            member = Member.objects.select_related("household__payer").filter(pk=member_id).first()
        if member is None:
            raise Http404(_("No member with this id."))
        return member

    def _desk_context(self, request: HttpRequest, member: Member, title: str) -> dict[str, Any]:
        return {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": title,
            "member": member,
            "badge": status_badge(member),
            "member_url": profile_url(member),
            "back_url": safe_next(request, profile_url(member)),
        }


class TakePaymentPages(DeskPagesBase):
    """``take-payment/<member id>/`` on the invoice admin."""

    def take_payment_urls(self) -> list[URLPattern]:
        return [
            path(
                "take-payment/<str:member_id>/",
                self.admin_site.admin_view(self.take_payment_view),
                name="billing_invoice_take_payment",
            )
        ]

    def take_payment_view(self, request: HttpRequest, member_id: str) -> HttpResponse:
        if not request.user.has_perm("billing.take_payment"):
            raise PermissionDenied
        member = self._desk_member(member_id)
        invoices = list(member_invoices_open(member))
        back = safe_next(request, profile_url(member))
        routes = desk.desk_routes(member)
        card = desk.desk_card(member)
        currency = invoices[0].currency if invoices else ""
        form = TakePaymentForm(
            request.POST if request.method == "POST" else None,
            invoices=invoices,
            routes=routes,
            currency=currency or "THB",
            card_label=f"{card.brand.capitalize()} •••• {card.last4}" if card else "",
            initial={
                "invoices": [invoice.pk for invoice in invoices],
                "route": routes[0].code if routes else "",
                "amount": major_units(sum(i.amount_due for i in invoices), currency or "THB"),
                "request_key": new_request_key(),
            },
        )
        today = clock.today()
        if request.method == "POST" and invoices and form.is_valid():
            done = self._take(request, member, form.cleaned_data)
            if isinstance(done, HttpResponseRedirect):
                return done
            if done is not None:
                return HttpResponseRedirect(back)
            form = self._fresh(form)
        context = {
            **self._desk_context(
                request, member, gettext("Take a payment from %(name)s") % {"name": member}
            ),
            "form": form,
            "rows": [
                {
                    "box": box,
                    "invoice": invoice,
                    "due": format_amount(invoice.amount_due, invoice.currency),
                    "total": format_amount(invoice.total, invoice.currency),
                    "due_on": format_date(invoice.due_on, "short") if invoice.due_on else "—",
                    "overdue": bool(invoice.due_on and invoice.due_on < today),
                    "for_other": invoice.member_id != member.pk,
                }
                for box, invoice in zip(form["invoices"], invoices, strict=True)
            ],
            "total_due": format_amount(sum(i.amount_due for i in invoices), currency or "THB"),
            "media": form.media,
        }
        return TemplateResponse(request, TAKE_PAYMENT_TEMPLATE, context)

    def _fresh(self, form: TakePaymentForm) -> TakePaymentForm:
        """The same form again with a new one-time key (the old one is spent)."""
        data = cast(QueryDict, form.data).copy()
        data["request_key"] = new_request_key()
        form.data = data
        return form

    def _take(self, request: HttpRequest, member: Member, data: dict[str, Any]) -> Any:
        try:
            result = desk.desk_payment_take(
                member,
                invoice_ids=data["invoices"],
                route=data["route"],
                amount=data.get("amount"),
                reference=data.get("reference", ""),
                user=request.user,
                request_key=data["request_key"],
            )
        except (DomainError, ValidationError, GatewayError) as exc:
            self.message_user(request, describe_error(exc), messages.ERROR)
            return None
        if result.declined is not None:
            self.message_user(request, decline_words(result.declined), messages.WARNING)
            if not result.paid:
                return None
        if result.pending:
            # The QR, on its own screen; it says when the bank has been paid.
            self.message_user(request, gettext("Show the member the QR code to scan."))
            return HttpResponseRedirect(
                reverse("admin:billing_promptpayrequest_change", args=[result.pending])
            )
        self.message_user(
            request,
            gettext("%(amount)s received from %(name)s.")
            % {"amount": format_amount(result.amount, result.currency), "name": member.full_name},
            messages.SUCCESS,
        )
        return result


class CardPages(DeskPagesBase):
    """``new-card/<member id>/`` and its card-form session on the payment-method admin."""

    def card_urls(self) -> list[URLPattern]:
        wrap = self.admin_site.admin_view
        return [
            path(
                "new-card/<str:member_id>/",
                wrap(self.new_card_view),
                name="billing_paymentmethod_new_card",
            ),
            path(
                "card-setup/<str:member_id>/",
                wrap(require_POST(self.card_setup_view)),
                name="billing_paymentmethod_card_setup",
            ),
        ]

    def new_card_view(self, request: HttpRequest, member_id: str) -> HttpResponse:
        if not request.user.has_perm("billing.add_paymentmethod"):
            raise PermissionDenied
        member = self._desk_member(member_id)
        back = safe_next(request, profile_url(member))
        form = NewCardForm(
            request.POST if request.method == "POST" else None,
            initial={"request_key": new_request_key()},
        )
        if request.method == "POST" and form.is_valid():
            try:
                card = payments.payment_method_attach(
                    member.payer,
                    gateway=default_gateway_name(),
                    token=form.cleaned_data["card_token"],
                    make_default=True,
                )
            except GatewayError:
                form.add_error("card_token", _("The payment gateway does not recognise this card."))
            except (DomainError, ValidationError) as exc:
                form.add_error(None, describe_error(exc))
            else:
                self.message_user(
                    request,
                    gettext("%(card)s is now the card on file.") % {"card": card},
                    messages.SUCCESS,
                )
                return HttpResponseRedirect(back)
        key = form["request_key"].value() or new_request_key()
        context = {
            **self._desk_context(
                request, member, gettext("A new card for %(name)s") % {"name": member}
            ),
            "form": form,
            "current": desk.desk_card(member),
            **card_form_context(member, str(key)),
            "media": form.media,
        }
        return TemplateResponse(request, NEW_CARD_TEMPLATE, context)

    def card_setup_view(self, request: HttpRequest, member_id: str) -> JsonResponse:
        """Start the gateway's card form session for the member's payer (the page's script
        calls this when the desk submits a card): ``{"client_secret": …}`` or a code."""
        if not request.user.has_perm("billing.add_paymentmethod"):
            return JsonResponse({"code": "forbidden"}, status=403)
        member = self._desk_member(member_id)
        key = request.GET.get("key", "")
        if not key.replace("-", "").replace("_", "").isalnum() or len(key) > 64:
            return JsonResponse({"code": "invalid_key"}, status=400)
        gateway = get_gateway(default_gateway_name())
        if not gateway.hosted_card_form:
            return JsonResponse({"code": "card_form_unavailable"}, status=503)
        try:
            customer = gateway_customer_for(member.payer, gateway.name)
            setup = gateway.begin_card_setup(customer, f"desk-card-{member.payer.pk}-{key}")
        except GatewayError:
            setup = None
        if setup is None:
            return JsonResponse({"code": "card_form_unavailable"}, status=503)
        return JsonResponse({"client_secret": setup.client_secret})
