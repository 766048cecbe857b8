"""The POS screens: the sell screen, tills with their X and Z reports, products and stock,
sales with printable receipts, refunds.  Every write calls one POS service; the records
themselves are read-only here."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.utils import quote
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _

from billing.admin.base import describe_error
from billing.models import Pack
from billing.money import format_amount, format_rate
from billing.promptpay import conf as promptpay_conf
from billing.summaries import member_standing
from config.errors import DomainError
from members.models import Member

from .models import (
    CashMovement,
    Category,
    Product,
    RefundDestination,
    Sale,
    SaleLine,
    SaleRefund,
    Station,
    StockLevel,
    StockMovement,
    Tender,
    TillSession,
    TillStatus,
)
from .selectors import DENOMINATIONS, till_live, till_report
from .services import refunds as refund_services
from .services import stock as stock_services
from .services import tills as till_services
from .services.receipts import credit_note_context, receipt_context
from .services.sales import Buyer, sale_request_full_invoice


def money(amount: int | None, currency: str) -> str:
    return "—" if amount is None else format_amount(amount, currency)


class ReadOnlyAdmin(admin.ModelAdmin):
    """A record written only by the POS services."""

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Category)
class CategoryAdmin(admin.ModelAdmin):
    list_display = ("name", "name_th")
    search_fields = ("name", "name_th")


class StockForm(forms.Form):
    RECEIVE, ADJUST, COUNT = "receive", "adjust", "count"
    action = forms.ChoiceField(
        label=_("What"),
        choices=[
            (RECEIVE, _("Received")),
            (ADJUST, _("Adjusted")),
            (COUNT, _("Counted at stocktake")),
        ],
    )
    location: forms.ModelChoiceField[Any] = forms.ModelChoiceField(
        label=_("location"),
        queryset=None,  # type: ignore[arg-type]
    )
    quantity = forms.IntegerField(
        label=_("quantity"),
        min_value=-100_000,
        max_value=100_000,
        help_text=_("Received: how many came in. Adjusted: the change (−2). Counted: how many."),
    )
    reason = forms.CharField(label=_("reason"), max_length=200, required=False)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        from billing.models import Location

        self.fields["location"].queryset = Location.objects.all()  # type: ignore[attr-defined]


@admin.register(Product)
class ProductAdmin(admin.ModelAdmin):
    list_display = (
        "name",
        "name_th",
        "category",
        "sku",
        "barcode",
        "price",
        "tax_rate_bp",
        "track_stock",
        "reorder_level",
        "is_active",
    )
    list_filter = ("is_active", "category", "track_stock")
    search_fields = ("name", "name_th", "sku", "barcode")
    fieldsets = (
        (None, {"fields": (("name", "name_th"), "category", ("sku", "barcode"), "is_active")}),
        (_("Price"), {"fields": (("price", "prices_include_tax"), "tax_rate_bp")}),
        (_("Stock"), {"fields": (("track_stock", "allow_negative_stock"), "reorder_level")}),
    )

    def get_urls(self) -> list[URLPattern]:
        return [
            path(
                "<path:object_id>/stock/",
                self.admin_site.admin_view(self.stock_view),
                name="pos_product_stock",
            ),
            *super().get_urls(),
        ]

    def stock_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        """Receive stock (front desk), adjust or count it (manager)."""
        if not request.user.has_perm("pos.receive_stock"):
            raise PermissionDenied
        product = get_object_or_404(Product, pk=object_id)
        form = StockForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            data = form.cleaned_data
            try:
                if data["action"] == StockForm.RECEIVE:
                    stock_services.stock_receive(
                        product,
                        data["location"],
                        data["quantity"],
                        user=request.user,
                        reason=data["reason"],
                    )
                elif data["action"] == StockForm.ADJUST:
                    stock_services.stock_adjust(
                        product,
                        data["location"],
                        data["quantity"],
                        user=request.user,
                        reason=data["reason"],
                    )
                else:
                    stock_services.stock_count(
                        product,
                        data["location"],
                        data["quantity"],
                        user=request.user,
                        reason=data["reason"],
                    )
            except DomainError as exc:
                form.add_error(None, describe_error(exc))
            else:
                messages.success(request, _("Stock updated."))
                return HttpResponseRedirect(reverse("admin:pos_stocklevel_changelist"))
        context = {
            **self.admin_site.each_context(request),
            "title": _("Stock of %(product)s") % {"product": product},
            "form": form,
            "opts": self.model._meta,
            "levels": StockLevel.objects.filter(product=product).select_related("location"),
        }
        return TemplateResponse(request, "admin/pos/stock_form.html", context)


@admin.register(Station)
class StationAdmin(admin.ModelAdmin):
    list_display = ("name", "code", "location", "max_difference", "is_active")
    list_filter = ("is_active", "location")


@admin.register(StockLevel)
class StockLevelAdmin(ReadOnlyAdmin):
    list_display = ("product", "location", "quantity", "reorder")
    list_filter = ("location", "product__category")
    search_fields = ("product__name", "product__sku", "product__barcode")
    list_select_related = ("product", "location")

    @admin.display(description=_("reorder level"))
    def reorder(self, level: StockLevel) -> str:
        flag = level.quantity <= level.product.reorder_level
        return f"{level.product.reorder_level}{' ⚠' if flag else ''}"


@admin.register(StockMovement)
class StockMovementAdmin(ReadOnlyAdmin):
    list_display = ("created_at", "product", "location", "kind", "quantity", "reason", "created_by")
    list_filter = ("kind", "location")
    search_fields = ("product__name", "product__sku", "reason")
    list_select_related = ("product", "location", "created_by")


class SaleLineInline(admin.TabularInline):
    model = SaleLine
    extra = 0
    can_delete = False
    fields = (
        "kind",
        "description",
        "quantity",
        "unit_price",
        "discount",
        "reason",
        "amount",
        "tax_rate_bp",
        "tax_amount",
        "refunded_quantity",
    )
    readonly_fields = fields

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class TenderInline(admin.TabularInline):
    model = Tender
    extra = 0
    can_delete = False
    fields = ("kind", "amount", "tendered", "change", "status", "reference")
    readonly_fields = fields

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class BuyerForm(forms.Form):
    name = forms.CharField(label=_("buyer's name"), max_length=200)
    address = forms.CharField(
        label=_("buyer's address"), max_length=500, widget=forms.Textarea(attrs={"rows": 3})
    )
    tax_id = forms.RegexField(
        label=_("buyer's tax ID"), regex=r"^\d{13}$", required=False, help_text=_("13 digits.")
    )
    branch = forms.CharField(
        label=_("buyer's branch"),
        max_length=40,
        required=False,
        help_text=_("สำนักงานใหญ่ for a head office, or the 5-digit branch number."),
    )


class RefundForm(forms.Form):
    reason = forms.CharField(label=_("reason"), max_length=200)
    destination = forms.ChoiceField(
        label=_("money back to"), choices=RefundDestination.choices, initial="original"
    )


@admin.register(Sale)
class SaleAdmin(ReadOnlyAdmin):
    list_display = ("number", "created_at", "kind", "status", "member", "total", "till")
    list_filter = ("status", "kind", "document")
    search_fields = ("number", "member__first_name", "member__last_name", "buyer_name")
    list_select_related = ("member", "till__station")
    inlines = (SaleLineInline, TenderInline)
    change_form_template = "admin/pos/sale_change_form.html"

    def get_urls(self) -> list[URLPattern]:
        return [
            path(
                "<path:object_id>/receipt/",
                self.admin_site.admin_view(self.receipt_view),
                name="pos_sale_receipt",
            ),
            path(
                "<path:object_id>/full-invoice/",
                self.admin_site.admin_view(self.full_invoice_view),
                name="pos_sale_full_invoice",
            ),
            path(
                "<path:object_id>/refund/",
                self.admin_site.admin_view(self.refund_view),
                name="pos_sale_refund",
            ),
            *super().get_urls(),
        ]

    def receipt_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        """The printable 80 mm receipt or tax invoice."""
        if not request.user.has_perm("pos.view_sale"):
            raise PermissionDenied
        sale = get_object_or_404(Sale, pk=object_id)
        return TemplateResponse(request, "pos/receipt.html", receipt_context(sale))

    def full_invoice_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        """The buyer asks for a full tax invoice: their name, address, tax ID and branch."""
        if not request.user.has_perm("pos.add_sale"):
            raise PermissionDenied
        sale = get_object_or_404(Sale, pk=object_id)
        form = BuyerForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            try:
                sale_request_full_invoice(sale, Buyer(**form.cleaned_data))
            except DomainError as exc:
                form.add_error(None, describe_error(exc))
            else:
                return HttpResponseRedirect(reverse("admin:pos_sale_receipt", args=[sale.pk]))
        context = {
            **self.admin_site.each_context(request),
            "title": _("Full tax invoice for %(sale)s") % {"sale": sale},
            "form": form,
            "opts": self.model._meta,
        }
        return TemplateResponse(request, "admin/pos/_form_page.html", context)

    def refund_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        """A manager refunds the sale, or some of its lines."""
        if not request.user.has_perm("pos.refund_sale"):
            raise PermissionDenied
        sale = get_object_or_404(Sale, pk=object_id)
        till = till_live(sale.till.station_id)
        form = RefundForm(request.POST or None)
        lines = list(sale.lines.all())
        if request.method == "POST" and form.is_valid():
            quantities = {}
            for line in lines:
                try:
                    quantities[line.pk] = int(request.POST.get(f"line-{line.pk}", "0") or 0)
                except ValueError:
                    quantities[line.pk] = -1
            try:
                if till is None:
                    raise Http404
                refund = refund_services.sale_refund(
                    sale,
                    till=till,
                    user=request.user,
                    reason=form.cleaned_data["reason"],
                    quantities=quantities,
                    destination=form.cleaned_data["destination"],
                )
            except DomainError as exc:
                form.add_error(None, describe_error(exc))
            else:
                messages.success(
                    request, _("Refunded: credit note %(number)s.") % {"number": refund.number}
                )
                return HttpResponseRedirect(
                    reverse("admin:pos_salerefund_note", args=[quote(refund.pk)])
                )
        context = {
            **self.admin_site.each_context(request),
            "title": _("Refund %(sale)s") % {"sale": sale},
            "sale": sale,
            "lines": [
                {
                    "line": line,
                    "left": line.quantity - line.refunded_quantity,
                    "amount": money(line.amount, sale.currency),
                }
                for line in lines
            ],
            "form": form,
            "till": till,
            "opts": self.model._meta,
            "total": money(sale.total, sale.currency),
        }
        return TemplateResponse(request, "admin/pos/refund_form.html", context)


@admin.register(SaleRefund)
class SaleRefundAdmin(ReadOnlyAdmin):
    list_display = ("number", "created_at", "sale", "amount", "destination", "created_by")
    search_fields = ("number", "sale__number")
    list_select_related = ("sale", "created_by")

    def get_urls(self) -> list[URLPattern]:
        return [
            path(
                "<path:object_id>/note/",
                self.admin_site.admin_view(self.note_view),
                name="pos_salerefund_note",
            ),
            *super().get_urls(),
        ]

    def note_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        if not request.user.has_perm("pos.view_salerefund"):
            raise PermissionDenied
        refund = get_object_or_404(SaleRefund, pk=object_id)
        return TemplateResponse(request, "pos/credit_note.html", credit_note_context(refund))


@admin.register(CashMovement)
class CashMovementAdmin(ReadOnlyAdmin):
    list_display = ("created_at", "till", "kind", "amount", "reason", "created_by")
    list_filter = ("kind",)
    list_select_related = ("till__station", "created_by")


class CountForm(forms.Form):
    """A count of the drawer by denomination."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for value in DENOMINATIONS:
            self.fields[f"d{value}"] = forms.IntegerField(
                label=format_amount(value, "THB"), min_value=0, max_value=100_000, required=False
            )

    def count(self) -> dict[str, int]:
        return {
            str(value): self.cleaned_data.get(f"d{value}") or 0
            for value in DENOMINATIONS
            if self.cleaned_data.get(f"d{value}")
        }


class CashMoveForm(forms.Form):
    kind = forms.ChoiceField(
        label=_("kind"), choices=[("in", _("Cash in")), ("out", _("Cash out"))]
    )
    amount = forms.DecimalField(
        label=_("amount"), min_value=0.01, max_value=1_000_000, decimal_places=2
    )
    reason = forms.CharField(label=_("reason"), max_length=200)


@admin.register(TillSession)
class TillSessionAdmin(ReadOnlyAdmin):
    list_display = (
        "__str__",
        "station",
        "status",
        "opened_at",
        "opening_float",
        "expected_cash",
        "counted_cash",
        "difference",
        "z_number",
    )
    list_filter = ("status", "station")
    list_select_related = ("station",)
    change_form_template = "admin/pos/till_change_form.html"
    exclude = ("opening_count", "closing_count", "z_report")

    def get_urls(self) -> list[URLPattern]:
        view = self.admin_site.admin_view
        return [
            path("sell/", view(self.sell_view), name="pos_tillsession_sell"),
            path("<path:object_id>/report/", view(self.report_view), name="pos_tillsession_report"),
            path("<path:object_id>/close/", view(self.close_view), name="pos_tillsession_close"),
            path("<path:object_id>/cash/", view(self.cash_view), name="pos_tillsession_cash"),
            *super().get_urls(),
        ]

    # --- the sell screen ---------------------------------------------------------------

    def sell_view(self, request: HttpRequest) -> HttpResponse:
        """The till: scan, choose a member, take the money.  Without an open till on the
        chosen station, the float is counted first."""
        if not request.user.has_perm("pos.add_sale"):
            raise PermissionDenied
        stations = list(Station.objects.filter(is_active=True).select_related("location"))
        station = next(
            (st for st in stations if str(st.pk) == request.GET.get("station", "")),
            stations[0] if stations else None,
        )
        till = till_live(station.pk) if station else None
        member = None
        member_id = request.GET.get("member", "")
        if member_id.isdigit():
            member = Member.objects.filter(pk=int(member_id)).first()
        open_form = CountForm(request.POST or None, prefix="open")
        opening = request.method == "POST" and station is not None and till is None
        if opening and station is not None and open_form.is_valid():
            try:
                till = till_services.till_start_and_open(
                    station, count=open_form.count(), user=request.user
                )
            except DomainError as exc:
                open_form.add_error(None, describe_error(exc))
            else:
                url = reverse("admin:pos_tillsession_sell") + f"?station={station.pk}"
                if member is not None:
                    url += f"&member={member.pk}"
                return HttpResponseRedirect(url)
        language = get_language() or "en"
        products = [
            {
                "id": p.pk,
                "name": p.display_name(language),
                "barcode": p.barcode,
                "sku": p.sku,
                "price": format_amount(p.price, p.currency),
            }
            for p in Product.objects.filter(is_active=True).order_by("name")[:60]
        ]
        packs = [
            {
                "id": pk.pk,
                "name": pk.name,
                "price": format_amount(pk.price, pk.currency),
                "minor": pk.price,
            }
            for pk in Pack.objects.filter(is_active=True).order_by("price")
        ]
        standing = member_standing(member) if member is not None else None
        owed = sum(standing.owed.values()) if standing else 0
        context = {
            **self.admin_site.each_context(request),
            "title": _("Sell"),
            "opts": self.model._meta,
            "stations": stations,
            "station": station,
            "till": till,
            "open_form": open_form,
            "member": member,
            "owed": format_amount(owed, "THB") if owed else "",
            "owed_minor": owed,
            "products": products,
            "packs": packs,
            "promptpay": promptpay_conf.available(),
            "can_refund": request.user.has_perm("pos.refund_sale"),
            "report": till_report(till) if till and till.status == TillStatus.OPEN else None,
        }
        return TemplateResponse(request, "admin/pos/sell.html", context)

    # --- reports, closing, cash -------------------------------------------------------------

    def report_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        """The printable X report (an open till) or Z report (a closed one)."""
        if not request.user.has_perm("pos.view_tillsession"):
            raise PermissionDenied
        till = get_object_or_404(TillSession.objects.select_related("station"), pk=object_id)
        report = till.z_report or till_report(till)
        currency = till.currency
        context = {
            **self.admin_site.each_context(request),
            "till": till,
            "kind": "Z" if till.z_report else "X",
            "report": report,
            "tenders": [
                {
                    "label": _tender_label(kind),
                    "count": row["count"],
                    "amount": money(row["amount"], currency),
                }
                for kind, row in report["tenders"].items()
            ],
            "rates": [
                {
                    "rate": format_rate(row["rate_bp"]),
                    "net": money(row["net"], currency),
                    "tax": money(row["tax"], currency),
                    "gross": money(row["gross"], currency),
                }
                for row in report["tax_rates"]
            ],
            "categories": [
                {
                    "name": row["category"],
                    "quantity": row["quantity"],
                    "amount": money(row["amount"], currency),
                }
                for row in report["categories"]
            ],
            "m": {
                key: money(value, currency)
                for key, value in {
                    "total": report["sales"]["total"],
                    "net": report["sales"]["net"],
                    "tax": report["sales"]["tax"],
                    "discounts": report["sales"]["discounts"],
                    "voids": report["voids"]["total"],
                    "refunds": report["refunds"]["amount"],
                    "float": report["cash"]["opening_float"],
                    "cash_taken": report["cash"]["taken"],
                    "cash_in": report["cash"]["cash_in"],
                    "cash_out": report["cash"]["cash_out"],
                    "cash_refunded": report["cash"]["refunded"],
                    "expected": report["cash"]["expected"],
                }.items()
            },
            "counted": money(report["cash"].get("counted"), currency),
            "difference": money(report["cash"].get("difference"), currency),
        }
        return TemplateResponse(request, "pos/till_report.html", context)

    def close_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        """Stop selling, count the drawer, close with the Z report."""
        if not request.user.has_perm("pos.change_tillsession"):
            raise PermissionDenied
        till = get_object_or_404(TillSession.objects.select_related("station"), pk=object_id)
        if till.status == TillStatus.CLOSED:
            return HttpResponseRedirect(reverse("admin:pos_tillsession_report", args=[till.pk]))
        form = CountForm(request.POST or None, prefix="close")
        if request.method == "POST" and form.is_valid():
            try:
                if till.status == TillStatus.OPEN:
                    till = till_services.till_begin_close(till, user=request.user)
                till = till_services.till_close(till, count=form.count(), user=request.user)
            except DomainError as exc:
                form.add_error(None, describe_error(exc))
            else:
                messages.success(
                    request, _("Till closed: Z report %(number)s.") % {"number": till.z_number}
                )
                return HttpResponseRedirect(reverse("admin:pos_tillsession_report", args=[till.pk]))
        context = {
            **self.admin_site.each_context(request),
            "title": _("Close %(till)s") % {"till": till},
            "till": till,
            "form": form,
            "opts": self.model._meta,
        }
        return TemplateResponse(request, "admin/pos/close_form.html", context)

    def cash_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        if not request.user.has_perm("pos.change_tillsession"):
            raise PermissionDenied
        till = get_object_or_404(TillSession, pk=object_id)
        form = CashMoveForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            data = form.cleaned_data
            try:
                till_services.cash_move(
                    till,
                    kind=data["kind"],
                    amount=int(data["amount"] * 100),
                    reason=data["reason"],
                    user=request.user,
                )
            except DomainError as exc:
                form.add_error(None, describe_error(exc))
            else:
                messages.success(request, _("Cash recorded."))
                return HttpResponseRedirect(
                    reverse("admin:pos_tillsession_sell") + f"?station={till.station_id}"
                )
        context = {
            **self.admin_site.each_context(request),
            "title": _("Cash in or out"),
            "till": till,
            "form": form,
            "opts": self.model._meta,
        }
        return TemplateResponse(request, "admin/pos/cash_form.html", context)


def _tender_label(kind: str) -> str:
    from .models import TenderKind

    return str(TenderKind(kind).label) if kind in TenderKind.values else kind
