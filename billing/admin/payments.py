"""Payments: charge attempts, payments received and their refunds, stored cards."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.contrib.admin.utils import quote
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import URLPattern, reverse
from django.utils.translation import gettext_lazy as _

from config.errors import DomainError

from ..gateways.interface import GatewayError
from ..models import Payment, PaymentAttempt, PaymentMethod, Refund
from ..money import major_units
from ..services import payments, refunds
from .base import (
    CHANGE_FORM_WITH_ACTIONS,
    AmountColumn,
    InvoiceMemberColumn,
    MemberSearchMixin,
    ObjectTool,
    ReadOnlyAdmin,
    ReadOnlyInline,
    ServiceActionsMixin,
    describe_error,
    money,
    posted,
)
from .desk import CardPages
from .forms import AmountReasonForm, AttachCardForm


@admin.register(PaymentAttempt)
class PaymentAttemptAdmin(InvoiceMemberColumn, AmountColumn, MemberSearchMixin, ReadOnlyAdmin):
    list_display = (
        "invoice",
        "attempt_number",
        "member",
        "status",
        "amount_display",
        "card_brand",
        "decline_code",
        "decline_category",
        "network_code",
        "advice_code",
        "trigger",
        "created_at",
    )
    list_filter = ("status", "decline_category", "trigger", "gateway", "card_brand")
    search_fields = ("invoice__number", "decline_code")
    search_help_text = _("Invoice number, decline code, or member")
    member_lookup = "invoice__member"
    extra_search_lookups = ("invoice__number__iexact", "decline_code", "gateway_reference")
    list_select_related = ("invoice__member",)
    list_per_page = 50
    show_full_result_count = False
    date_hierarchy = "created_at"


class RefundInline(ReadOnlyInline):
    model = Refund
    fields = ("amount", "reason", "status", "message", "tries", "gateway_reference", "created_at")
    parent_view_permission = "billing.view_payment"


@admin.register(Payment)
class PaymentAdmin(
    ServiceActionsMixin, InvoiceMemberColumn, AmountColumn, MemberSearchMixin, ReadOnlyAdmin
):
    list_display = (
        "invoice",
        "member",
        "amount_display",
        "source",
        "reference",
        "received_at",
        "received_by",
        "refunded_display",
    )
    list_filter = ("source", "received_at")
    search_fields = ("invoice__number", "reference")
    member_lookup = "invoice__member"
    extra_search_lookups = ("invoice__number__iexact", "reference")
    list_select_related = ("invoice__member", "received_by")
    show_full_result_count = False
    date_hierarchy = "received_at"
    inlines = (RefundInline,)
    change_form_template = CHANGE_FORM_WITH_ACTIONS

    @admin.display(description=_("refunded"))
    def refunded_display(self, obj: Payment) -> str:
        return money(obj.amount_refunded, obj.currency) if obj.amount_refunded else "—"

    def has_refund_permission(self, request: HttpRequest) -> bool:
        return bool(request.user.has_perm("billing.refund_payment"))

    def get_urls(self) -> list[URLPattern]:
        return [self._action_path("refund", self.refund_view), *super().get_urls()]

    def object_tools(self, request: HttpRequest, obj: Payment) -> list[ObjectTool]:
        if self.has_refund_permission(request) and obj.amount_refunded < obj.amount:
            return [ObjectTool(str(_("Refund")), self._action_url("refund", obj))]
        return []

    def refund_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        payment = self._permitted_object(request, object_id, self.has_refund_permission(request))

        def perform(data: dict[str, Any]) -> str:
            refund = refunds.payment_refund(
                payment, amount=data["amount"], reason=data["reason"], user=request.user
            )
            if not refund.succeeded:
                return str(
                    _(
                        "The card gateway has not answered about the refund of %(amount)s; "
                        "it is asked again automatically and the credit note follows."
                    )
                ) % {"amount": money(refund.amount, refund.currency)}
            return str(_("Refunded %(amount)s; a credit note was issued.")) % {
                "amount": money(refund.amount, refund.currency)
            }

        left = payment.amount - payment.amount_refunded
        form = AmountReasonForm(
            request.POST or None,
            currency=payment.currency,
            initial={"amount": major_units(left, payment.currency)},
        )
        return self._service_form_view(
            request,
            payment,
            form,
            perform,
            title=str(_("Refund a payment on %(invoice)s") % {"invoice": payment.invoice}),
            submit_label=str(_("Refund")),
            # Managers refund but may not browse payments; the invoice shows the result.
            done_url=reverse("admin:billing_invoice_change", args=[quote(payment.invoice_id)]),
            summary=str(_("Refundable: %(amount)s.") % {"amount": money(left, payment.currency)}),
        )


@admin.register(PaymentMethod)
class PaymentMethodAdmin(CardPages, ServiceActionsMixin, MemberSearchMixin, admin.ModelAdmin):
    """Stored cards: a gateway token plus display details.  Added only through the gateway."""

    list_display = (
        "member",
        "brand",
        "last4",
        "expiry",
        "gateway",
        "is_default",
        "status",
        "created_at",
    )
    list_filter = ("status", "brand", "gateway", "is_default")
    search_fields = ("member__first_name", "member__last_name", "member__email")
    extra_search_lookups = ("last4",)
    list_select_related = ("member",)
    show_full_result_count = False
    actions = ("make_default", "detach")
    change_form_template = CHANGE_FORM_WITH_ACTIONS

    @admin.display(description=_("expires"))
    def expiry(self, obj: PaymentMethod) -> str:
        return f"{obj.exp_month:02d}/{obj.exp_year}"

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        return [f.name for f in PaymentMethod._meta.fields]

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def object_tools(self, request: HttpRequest, obj: PaymentMethod) -> list[ObjectTool]:
        return []

    def get_urls(self) -> list[URLPattern]:
        return self.card_urls() + super().get_urls()

    def add_view(
        self, request: HttpRequest, form_url: str = "", extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        if not self.has_add_permission(request):
            raise PermissionDenied
        form = AttachCardForm(posted(request), admin_site=self.admin_site)
        if request.method == "POST" and form.is_valid():
            data = form.cleaned_data
            try:
                method = payments.payment_method_attach(
                    data["member"],
                    gateway=data["gateway"],
                    token=data["token"],
                    make_default=data["make_default"],
                )
            except GatewayError:
                # The gateway's words may quote the token: show our own instead.
                form.add_error("token", _("The payment gateway does not recognise this token."))
            except (DomainError, ValidationError) as exc:
                form.add_error(None, describe_error(exc))
            else:
                self.message_user(request, _("%(card)s stored.") % {"card": method})
                return HttpResponseRedirect(self._change_url(method))
        return self._render_form(
            request,
            form,
            title=str(_("Store a card by its gateway token")),
            submit_label=str(_("Store card")),
        )

    @admin.action(description=_("Make the default card"), permissions=["add"])
    def make_default(self, request: HttpRequest, queryset: QuerySet[PaymentMethod]) -> None:
        self._run_for_each(
            request,
            queryset,
            payments.payment_method_set_default,
            str(_("%(count)d cards made default.")),
        )

    @admin.action(description=_("Remove the card"), permissions=["add"])
    def detach(self, request: HttpRequest, queryset: QuerySet[PaymentMethod]) -> None:
        self._run_for_each(
            request, queryset, payments.payment_method_detach, str(_("%(count)d cards removed."))
        )


@admin.register(Refund)
class RefundAdmin(ServiceActionsMixin, AmountColumn, MemberSearchMixin, ReadOnlyAdmin):
    """Refunds, and the ones the system could not settle on its own (``review``)."""

    list_display = (
        "created_at",
        "payment",
        "amount_display",
        "status",
        "message",
        "tries",
        "gateway_reference",
    )
    list_filter = ("status", "created_at")
    search_fields = ("idempotency_key", "gateway_reference", "payment__invoice__number")
    member_lookup = "payment__invoice__member"
    list_select_related = ("payment__invoice",)
    show_full_result_count = False
    date_hierarchy = "created_at"
    actions = ("mark_refunded", "mark_not_refunded")

    def has_refund_permission(self, request: HttpRequest) -> bool:
        return bool(request.user.has_perm("billing.refund_payment"))

    @admin.action(
        description=_("Checked at the gateway: refunded (issue the credit note)"),
        permissions=["refund"],
    )
    def mark_refunded(self, request: HttpRequest, queryset: QuerySet[Refund]) -> None:
        self._run_for_each(
            request,
            queryset,
            lambda r: refunds.refund_resolve(r, refunded=True, user=request.user),
            str(_("%(count)d refunds settled.")),
        )

    @admin.action(
        description=_("Checked at the gateway: not refunded (release the amount)"),
        permissions=["refund"],
    )
    def mark_not_refunded(self, request: HttpRequest, queryset: QuerySet[Refund]) -> None:
        self._run_for_each(
            request,
            queryset,
            lambda r: refunds.refund_resolve(r, refunded=False, user=request.user),
            str(_("%(count)d refunds closed as not refunded.")),
        )
