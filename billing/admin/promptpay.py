"""PromptPay at the desk: show a QR for an invoice, and confirm transfers to the gym's ID.

A transfer to the gym's own PromptPay ID carries no reference we could match, so the
desk checks the bank and confirms it here with the amount and the bank's reference; that
records the payment through billing's payment path (dunning ends, access comes back).
The list opens on the transfers members say they made and staff have not confirmed yet.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.urls import URLPattern, path, reverse
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from config.errors import DomainError

from ..models import (
    Invoice,
    PromptPayChannel,
    PromptPayRequest,
    PromptPayRequestInvoice,
    PromptPayRoute,
    PromptPayStatus,
)
from ..money import major_units
from ..promptpay.display import promptpay_display
from ..services import promptpay
from .base import (
    CHANGE_FORM_WITH_ACTIONS,
    AmountColumn,
    MemberSearchMixin,
    ObjectTool,
    ReadOnlyAdmin,
    ReadOnlyInline,
    ServiceActionsMixin,
    describe_error,
    money,
    posted,
)
from .forms import BillingForm, ConfirmForm, MoneyField


class ConfirmTransferForm(BillingForm):
    bank_reference = forms.CharField(
        label=_("Bank reference"),
        max_length=120,
        help_text=_("The reference your bank shows for the incoming transfer."),
    )

    def __init__(self, *args: Any, currency: str, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields = {
            "amount": MoneyField(currency=currency, label=_("Amount received")),
            **self.fields,
        }


class AwaitingStaffFilter(admin.SimpleListFilter):
    title = _("to confirm")
    parameter_name = "awaiting"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, Any]]:
        return [("yes", _("Member says paid"))]

    def queryset(
        self, request: HttpRequest, queryset: QuerySet[PromptPayRequest]
    ) -> QuerySet[PromptPayRequest]:
        if self.value() == "yes":
            return queryset.filter(
                route=PromptPayRoute.OWN_ID,
                status__in=[PromptPayStatus.PENDING, PromptPayStatus.EXPIRED],
                member_reported_at__isnull=False,
            )
        return queryset


class PromptPayLineInline(ReadOnlyInline):
    model = PromptPayRequestInvoice
    fields = ("invoice", "amount", "payment", "credited")
    parent_view_permission = "billing.view_promptpayrequest"


@admin.register(PromptPayRequest)
class PromptPayRequestAdmin(ServiceActionsMixin, AmountColumn, MemberSearchMixin, ReadOnlyAdmin):
    list_display = (
        "__str__",
        "member",
        "amount_display",
        "status",
        "route",
        "channel",
        "member_reported_at",
        "created_at",
        "paid_at",
    )
    list_filter = (AwaitingStaffFilter, "status", "route", "channel", "created_at")
    search_fields = ("reference", "bank_reference", "gateway_reference")
    search_help_text = _("Member, or a bank or gateway reference")
    extra_search_lookups = ("reference", "bank_reference", "gateway_reference")
    list_select_related = ("member",)
    show_full_result_count = False
    date_hierarchy = "created_at"
    inlines = (PromptPayLineInline,)
    change_form_template = CHANGE_FORM_WITH_ACTIONS

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        return ["qr_code", *super().get_readonly_fields(request, obj)]

    @admin.display(description=_("QR code"))
    def qr_code(self, obj: PromptPayRequest) -> str:
        show = promptpay_display(obj)
        if not show.qr:
            return "—"
        return format_html('<div style="width:16rem;max-width:100%">{}</div>', show.qr)

    def has_take_payment_permission(self, request: HttpRequest) -> bool:
        return bool(request.user.has_perm("billing.take_payment"))

    def get_urls(self) -> list[URLPattern]:
        return [
            path(
                "for-invoice/<str:invoice_id>/",
                self.admin_site.admin_view(self.for_invoice_view),
                name=self._url_name("for_invoice"),
            ),
            self._action_path("confirm", self.confirm_view),
            self._action_path("withdraw", self.withdraw_view),
            *super().get_urls(),
        ]

    def object_tools(self, request: HttpRequest, obj: PromptPayRequest) -> list[ObjectTool]:
        if not self.has_take_payment_permission(request) or obj.status == PromptPayStatus.PAID:
            return []
        tools: list[ObjectTool] = []
        if obj.route == PromptPayRoute.OWN_ID:
            tools.append(
                ObjectTool(str(_("Confirm transfer received")), self._action_url("confirm", obj))
            )
        if obj.status == PromptPayStatus.PENDING:
            tools.append(
                ObjectTool(str(_("Withdraw the QR code")), self._action_url("withdraw", obj))
            )
        return tools

    def confirm_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        pp = self._permitted_object(request, object_id, self.has_take_payment_permission(request))

        def perform(data: dict[str, Any]) -> str:
            promptpay.promptpay_request_confirm_transfer(
                pp, amount=data["amount"], bank_reference=data["bank_reference"], user=request.user
            )
            return str(_("Recorded %(amount)s received by PromptPay.")) % {
                "amount": money(data["amount"], pp.currency)
            }

        form = ConfirmTransferForm(
            request.POST or None,
            currency=pp.currency,
            initial={"amount": major_units(pp.amount, pp.currency)},
        )
        return self._service_form_view(
            request,
            pp,
            form,
            perform,
            title=str(_("Confirm a PromptPay transfer for %(member)s") % {"member": pp.member}),
            submit_label=str(_("Confirm transfer received")),
            summary=str(
                _(
                    "Check your bank for a transfer of %(amount)s to %(payee)s, then enter "
                    "what arrived and the bank's reference."
                )
                % {"amount": money(pp.amount, pp.currency), "payee": pp.payee}
            ),
        )

    def withdraw_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        pp = self._permitted_object(request, object_id, self.has_take_payment_permission(request))

        def perform(data: dict[str, Any]) -> str:
            promptpay.promptpay_request_cancel(pp, why="withdrawn_by_staff")
            return str(_("The QR code was withdrawn."))

        return self._service_form_view(
            request,
            pp,
            ConfirmForm(posted(request)),
            perform,
            title=str(_("Withdraw %(request)s") % {"request": pp}),
            submit_label=str(_("Withdraw the QR code")),
        )

    def for_invoice_view(self, request: HttpRequest, invoice_id: str) -> HttpResponse:
        """The desk shows a PromptPay QR for what an invoice owes (on its own screen)."""
        if not self.has_take_payment_permission(request):
            raise PermissionDenied
        valid = invoice_id.isascii() and invoice_id.isdigit() and len(invoice_id) <= 18
        invoice = get_object_or_404(Invoice, pk=int(invoice_id) if valid else 0)
        form = ConfirmForm(posted(request))
        if request.method == "POST" and form.is_valid():
            try:
                pp = promptpay.promptpay_request_create(
                    invoices=[invoice], channel=PromptPayChannel.DESK, user=request.user
                )
            except DomainError as exc:
                form.add_error(None, describe_error(exc))
            else:
                return HttpResponseRedirect(self._change_url(pp))
        return self._render_form(
            request,
            form,
            title=str(_("PromptPay QR for %(invoice)s") % {"invoice": invoice}),
            submit_label=str(_("Show the QR code")),
            summary=str(
                _("Show a PromptPay QR code for %(amount)s, the amount %(member)s owes on it.")
                % {"amount": money(invoice.amount_due, invoice.currency), "member": invoice.member}
            ),
            cancel_url=reverse("admin:billing_invoice_change", args=[invoice.pk]),
        )
