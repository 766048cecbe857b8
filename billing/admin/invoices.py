"""Invoices: issued ones never change; corrections are credit notes, money is payments."""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse
from django.urls import URLPattern, reverse
from django.utils.translation import gettext_lazy as _

from ..documents.tax_invoice import tax_invoice_response
from ..models import (
    AttemptStatus,
    AttemptTrigger,
    CreditNote,
    Invoice,
    InvoiceLine,
    Payment,
    PaymentAttempt,
)
from ..money import major_units
from ..promptpay import conf as promptpay_conf
from ..services import invoices, payments
from .base import (
    CHANGE_FORM_WITH_ACTIONS,
    MemberScopedListMixin,
    MemberSearchMixin,
    ObjectTool,
    ReadOnlyAdmin,
    ReadOnlyInline,
    ServiceActionsMixin,
    money,
    posted,
)
from .desk import TakePaymentPages
from .forms import AmountReasonForm, ConfirmForm, ManualPaymentForm


class InvoiceLineInline(ReadOnlyInline):
    model = InvoiceLine
    fields = (
        "kind",
        "description",
        "quantity",
        "unit_amount",
        "amount",
        "net_amount",
        "tax_rate_bp",
        "tax_amount",
        "period_start",
        "period_end",
    )
    parent_view_permission = "billing.view_invoice"


class PaymentInline(ReadOnlyInline):
    model = Payment
    fields = ("amount", "source", "reference", "received_at", "received_by", "amount_refunded")
    parent_view_permission = "billing.view_invoice"
    show_change_link = True


class CreditNoteInline(ReadOnlyInline):
    model = CreditNote
    fields = ("number", "amount", "tax_amount", "reason", "refund", "issued_at", "created_by")
    parent_view_permission = "billing.view_invoice"


class PaymentAttemptInline(ReadOnlyInline):
    model = PaymentAttempt
    fields = (
        "attempt_number",
        "trigger",
        "status",
        "amount",
        "card_brand",
        "decline_code",
        "network_code",
        "advice_code",
        "decline_category",
        "message",
        "created_at",
    )
    parent_view_permission = "billing.view_invoice"
    show_change_link = True


@admin.register(Invoice)
class InvoiceAdmin(
    MemberScopedListMixin, TakePaymentPages, ServiceActionsMixin, MemberSearchMixin, ReadOnlyAdmin
):
    """Issued invoices never change: corrections are credit notes, money is payments."""

    list_display = (
        "__str__",
        "member",
        "status",
        "billing_reason",
        "total_display",
        "due_display",
        "due_on",
        "issued_at",
    )
    list_filter = ("status", "billing_reason", "due_on", "currency")
    search_fields = ("number", "member__first_name", "member__last_name", "member__email")
    search_help_text = _("Invoice number, or member name, email, phone or member number")
    extra_search_lookups = ("number__iexact",)
    list_select_related = ("member",)
    list_per_page = 50
    show_full_result_count = False
    date_hierarchy = "issued_at"
    inlines = (InvoiceLineInline, PaymentInline, CreditNoteInline, PaymentAttemptInline)
    actions = ("charge_now", "void_selected")
    change_form_template = CHANGE_FORM_WITH_ACTIONS
    fieldsets = (
        (
            None,
            {
                "fields": (
                    ("number", "status", "billing_reason"),
                    ("member", "membership"),
                    ("issued_at", "due_on", "paid_at", "voided_at"),
                    ("period_start", "period_end"),
                )
            },
        ),
        (
            _("Amounts"),
            {
                "fields": (
                    ("currency", "subtotal", "tax_total", "total"),
                    ("amount_paid", "amount_credited", "due_display"),
                    "seller_tax_id",
                )
            },
        ),
    )

    @admin.display(description=_("total"), ordering="total")
    def total_display(self, obj: Invoice) -> str:
        return money(obj.total, obj.currency)

    @admin.display(description=_("amount due"))
    def due_display(self, obj: Invoice) -> str:
        return money(obj.amount_due, obj.currency)

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        return [*(f.name for f in Invoice._meta.fields), "due_display"]

    def has_take_payment_permission(self, request: HttpRequest) -> bool:
        return bool(request.user.has_perm("billing.take_payment"))

    def has_credit_permission(self, request: HttpRequest) -> bool:
        return bool(request.user.has_perm("billing.add_creditnote"))

    def get_urls(self) -> list[URLPattern]:
        custom = [
            self._action_path("charge", self.charge_view),
            self._action_path("pay", self.pay_view),
            self._action_path("void", self.void_view),
            self._action_path("credit-note", self.credit_note_view),
            self._action_path("tax-invoice", self.tax_invoice_view),
        ]
        return self.take_payment_urls() + custom + super().get_urls()

    def object_tools(self, request: HttpRequest, obj: Invoice) -> list[ObjectTool]:
        tools: list[ObjectTool] = []
        open_ = obj.status == "open" and obj.amount_due > 0
        if open_ and self.has_take_payment_permission(request):
            tools.append(ObjectTool(str(_("Charge card now")), self._action_url("charge", obj)))
            tools.append(ObjectTool(str(_("Record payment")), self._action_url("pay", obj)))
            if obj.currency == "THB" and promptpay_conf.available():
                url = reverse("admin:billing_promptpayrequest_for_invoice", args=[obj.pk])
                tools.append(ObjectTool(str(_("PromptPay QR")), url))
        if obj.status != "draft":
            tools.append(
                ObjectTool(str(_("Tax invoice (PDF)")), self._action_url("tax-invoice", obj))
            )
        if self.has_credit_permission(request) and obj.status not in ("draft", "void"):
            tools.append(ObjectTool(str(_("Credit note")), self._action_url("credit-note", obj)))
        if self.has_credit_permission(request) and obj.status == "open" and not obj.amount_paid:
            tools.append(ObjectTool(str(_("Void")), self._action_url("void", obj)))
        return tools

    def tax_invoice_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        """The invoice's PDF tax invoice, for whoever may see the invoice."""
        invoice = self._permitted_object(request, object_id, self.has_view_permission(request))
        if invoice.status == "draft":
            raise Http404("A draft has no tax invoice.")
        return tax_invoice_response(invoice)

    def charge_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        invoice = self._permitted_object(
            request, object_id, self.has_take_payment_permission(request)
        )

        def perform(data: dict[str, Any]) -> str:
            attempt = payments.invoice_charge(invoice, trigger=AttemptTrigger.STAFF)
            return self._attempt_outcome(request, attempt)

        return self._service_form_view(
            request,
            invoice,
            ConfirmForm(posted(request)),
            perform,
            title=str(_("Charge %(invoice)s") % {"invoice": invoice}),
            submit_label=str(_("Charge the card on file")),
            summary=str(
                _("Charge %(amount)s to %(member)s's default card now.")
                % {"amount": money(invoice.amount_due, invoice.currency), "member": invoice.member}
            ),
        )

    def _attempt_outcome(self, request: HttpRequest, attempt: PaymentAttempt) -> str:
        if attempt.status == AttemptStatus.SUCCEEDED:
            return str(_("Charged %(amount)s.")) % {
                "amount": money(attempt.amount, attempt.currency)
            }
        # A decline is an answer, not an error: say what the bank said and stay calm.
        self.message_user(
            request,
            _("Not charged: %(status)s — %(code)s%(network)s (%(category)s). %(message)s")
            % {
                "status": attempt.get_status_display(),
                "code": attempt.decline_code or "no code",
                "network": f" / {attempt.network_code}" if attempt.network_code else "",
                "category": attempt.decline_category or "unknown",
                "message": attempt.message,
            },
            messages.WARNING,
        )
        return str(_("Attempt #%(n)d recorded.")) % {"n": attempt.attempt_number}

    def pay_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        invoice = self._permitted_object(
            request, object_id, self.has_take_payment_permission(request)
        )

        def perform(data: dict[str, Any]) -> str:
            invoices.payment_record_manual(
                invoice,
                amount=data["amount"],
                source=data["source"],
                reference=data.get("reference", ""),
                user=request.user,
            )
            return str(_("%(amount)s received.")) % {
                "amount": money(data["amount"], invoice.currency)
            }

        form = ManualPaymentForm(
            request.POST or None,
            currency=invoice.currency,
            initial={"amount": major_units(invoice.amount_due, invoice.currency)},
        )
        return self._service_form_view(
            request,
            invoice,
            form,
            perform,
            title=str(_("Record a payment for %(invoice)s") % {"invoice": invoice}),
            submit_label=str(_("Record payment")),
            summary=str(
                _("Due: %(amount)s.") % {"amount": money(invoice.amount_due, invoice.currency)}
            ),
        )

    def void_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        invoice = self._permitted_object(request, object_id, self.has_credit_permission(request))

        def perform(data: dict[str, Any]) -> str:
            invoices.invoice_void(invoice, user=request.user)
            return str(_("%(invoice)s is void.")) % {"invoice": invoice}

        return self._service_form_view(
            request,
            invoice,
            ConfirmForm(posted(request)),
            perform,
            title=str(_("Void %(invoice)s") % {"invoice": invoice}),
            submit_label=str(_("Void invoice")),
            summary=str(_("Only for an invoice issued by mistake with nothing paid on it.")),
        )

    def credit_note_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        invoice = self._permitted_object(request, object_id, self.has_credit_permission(request))

        def perform(data: dict[str, Any]) -> str:
            note = invoices.credit_note_issue(
                invoice, amount=data["amount"], reason=data["reason"], user=request.user
            )
            return str(_("Credit note %(number)s issued for %(amount)s.")) % {
                "number": note.number,
                "amount": money(note.amount, note.currency),
            }

        return self._service_form_view(
            request,
            invoice,
            AmountReasonForm(posted(request), currency=invoice.currency),
            perform,
            title=str(_("Credit note for %(invoice)s") % {"invoice": invoice}),
            submit_label=str(_("Issue credit note")),
            summary=str(
                _("Creditable: %(amount)s.")
                % {"amount": money(invoice.total - invoice.amount_credited, invoice.currency)}
            ),
        )

    @admin.action(description=_("Charge the card on file now"), permissions=["take_payment"])
    def charge_now(self, request: HttpRequest, queryset: QuerySet[Invoice]) -> None:
        outcomes = {"succeeded": 0, "declined": 0}

        def charge(invoice: Invoice) -> None:
            attempt = payments.invoice_charge(invoice, trigger=AttemptTrigger.STAFF)
            ok = attempt.status == AttemptStatus.SUCCEEDED
            outcomes["succeeded" if ok else "declined"] += 1

        self._run_for_each(request, queryset, charge, str(_("%(count)d charges attempted.")))
        if outcomes["declined"]:
            self.message_user(
                request,
                _("%(n)d declined; see the payment attempts.") % {"n": outcomes["declined"]},
                messages.WARNING,
            )

    @admin.action(description=_("Void (issued by mistake)"), permissions=["credit"])
    def void_selected(self, request: HttpRequest, queryset: QuerySet[Invoice]) -> None:
        self._run_for_each(
            request, queryset, invoices.invoice_void, str(_("%(count)d invoices voided."))
        )
