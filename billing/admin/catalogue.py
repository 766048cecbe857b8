"""The catalogue: plans, add-ons, packs and coupons on sale."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext_lazy

from members.audit_admin import AuditedAdminMixin, related_rows

from ..models import AddOn, Coupon, Interval, Pack, Plan, PlanEntitlement
from ..money import format_rate

# Catalogue terms existing members are billed on: a new price means a new plan.
from ..services.catalogue import PLAN_TERMS_FIXED_ONCE_SOLD
from .base import money

# "2 weeks", "3 months": a plan billed every few periods.
INTERVALS: dict[str, Any] = {
    Interval.WEEK: ngettext_lazy("%(count)s week", "%(count)s weeks", "count"),
    Interval.MONTH: ngettext_lazy("%(count)s month", "%(count)s months", "count"),
    Interval.YEAR: ngettext_lazy("%(count)s year", "%(count)s years", "count"),
}


class PlanEntitlementInline(admin.TabularInline):
    model = PlanEntitlement
    extra = 0
    fields = ("zone_code", "weekdays", "start_time", "end_time")


@admin.register(Plan)
class PlanAdmin(AuditedAdminMixin, admin.ModelAdmin):
    list_display = (
        "name",
        "code",
        "kind",
        "billing_interval",
        "price_display",
        "joining_fee_display",
        "tax_display",
        "is_active",
    )
    list_filter = ("is_active", "kind", "interval", "currency")
    search_fields = ("name", "name_th", "code")
    inlines = (PlanEntitlementInline,)

    def audit_related(self, obj: Plan) -> dict[str, Any]:
        fields = ["zone_code", "weekdays", "start_time", "end_time"]
        return {"entitlements": related_rows(obj.entitlements, fields) if obj.pk else []}

    fieldsets = (
        (None, {"fields": (("code", "is_active"), ("name", "name_th"), "description")}),
        (
            _("Price"),
            {
                "fields": (
                    ("kind", "interval", "interval_count"),
                    ("price", "currency"),
                    "joining_fee",
                    ("tax_rate_bp", "prices_include_tax"),
                    "trial_days",
                )
            },
        ),
        (
            _("Terms"),
            {
                "fields": (
                    ("minimum_term_periods", "cancellation_notice_days"),
                    ("cancellation_fee", "early_termination_fee"),
                    ("freezes_per_year", "freeze_min_days", "freeze_max_days", "freeze_fee"),
                    "renewal_reminder_days",
                    "class_credits_per_period",
                )
            },
        ),
    )

    @admin.display(description=_("billed every"))
    def billing_interval(self, obj: Plan) -> str:
        if obj.interval_count == 1:
            return str(obj.get_interval_display())
        every = INTERVALS.get(obj.interval)
        if every is None:  # an interval this screen does not know: say it plainly
            return f"{obj.interval_count} {obj.get_interval_display()}"
        return str(every % {"count": obj.interval_count})

    @admin.display(description=_("price"), ordering="price")
    def price_display(self, obj: Plan) -> str:
        return money(obj.price, obj.currency)

    @admin.display(description=_("joining fee"), ordering="joining_fee")
    def joining_fee_display(self, obj: Plan) -> str:
        return money(obj.joining_fee, obj.currency) if obj.joining_fee else "—"

    @admin.display(description=_("tax"))
    def tax_display(self, obj: Plan) -> str:
        if obj.prices_include_tax:
            return str(_("%(rate)s included") % {"rate": format_rate(obj.tax_rate_bp)})
        return str(_("%(rate)s on top") % {"rate": format_rate(obj.tax_rate_bp)})

    def get_readonly_fields(self, request: HttpRequest, obj: Plan | None = None) -> Any:
        if obj is not None and obj.memberships.exists():
            return PLAN_TERMS_FIXED_ONCE_SOLD
        return ()


@admin.register(AddOn)
class AddOnAdmin(AuditedAdminMixin, admin.ModelAdmin):
    list_display = ("name", "code", "price_display", "tax_rate_bp", "is_active")
    list_filter = ("is_active", "currency")
    search_fields = ("name", "code")

    @admin.display(description=_("price per period"), ordering="price")
    def price_display(self, obj: AddOn) -> str:
        return money(obj.price, obj.currency)


@admin.register(Pack)
class PackAdmin(AuditedAdminMixin, admin.ModelAdmin):
    list_display = ("name", "code", "kind", "quantity", "valid_days", "price_display", "is_active")
    list_filter = ("kind", "is_active", "currency")
    search_fields = ("name", "code")

    @admin.display(description=_("price"), ordering="price")
    def price_display(self, obj: Pack) -> str:
        return money(obj.price, obj.currency)


@admin.register(Coupon)
class CouponAdmin(AuditedAdminMixin, admin.ModelAdmin):
    list_display = (
        "code",
        "name",
        "discount_display",
        "duration",
        "duration_periods",
        "times_redeemed",
        "max_redemptions",
        "valid_until",
        "is_active",
    )
    list_filter = ("is_active", "duration")
    search_fields = ("code", "name")
    readonly_fields = ("times_redeemed",)

    @admin.display(description=_("discount"))
    def discount_display(self, obj: Coupon) -> str:
        if obj.percent_off_bp is not None:
            return str(_("%(discount)s off") % {"discount": format_rate(obj.percent_off_bp)})
        if obj.amount_off is not None:
            return str(_("%(discount)s off") % {"discount": money(obj.amount_off, obj.currency)})
        return "—"
