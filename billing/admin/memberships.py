"""Memberships: sign-up, and the buttons and bulk actions that change a membership."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.urls import URLPattern
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from config.dates import format_date

from ..models import (
    LIVE_STATUSES,
    Membership,
    MembershipAddOn,
    MembershipEvent,
    MembershipFreeze,
    MembershipStatus,
    PlanKind,
)
from ..services import memberships
from .base import (
    CHANGE_FORM_WITH_ACTIONS,
    MemberScopedListMixin,
    MemberSearchMixin,
    ObjectTool,
    ReadOnlyInline,
    ServiceActionsMixin,
    money,
    posted,
)
from .forms import (
    AddOnForm,
    CancelForm,
    ChangePlanForm,
    ConfirmForm,
    CouponForm,
    FreezeForm,
    GrantFreeTimeForm,
)
from .signup import SignUpPages

MEMBERSHIP_COLOURS: dict[str, str] = {
    MembershipStatus.ACTIVE: "#1a7f37",
    MembershipStatus.TRIALING: "#1a7f37",
    MembershipStatus.PENDING: "#6e7781",
    MembershipStatus.FROZEN: "#0969da",
    MembershipStatus.PAST_DUE: "#bf8700",
    MembershipStatus.SUSPENDED: "#cf222e",
    MembershipStatus.CANCELLED: "#6e7781",
    MembershipStatus.ENDED: "#6e7781",
}


class MembershipEventInline(ReadOnlyInline):
    model = MembershipEvent
    fields = ("created_at", "what_happened", "status_before", "status_after", "detail", "actor")
    parent_view_permission = "billing.view_membership"
    verbose_name = _("event")
    verbose_name_plural = _("audit trail")

    @admin.display(description=_("what happened"))
    def what_happened(self, event: MembershipEvent) -> str:
        return event.kind_label

    @admin.display(description=_("from status"))
    def status_before(self, event: MembershipEvent) -> str:
        return event.status_label(event.from_status)

    @admin.display(description=_("to status"))
    def status_after(self, event: MembershipEvent) -> str:
        return event.status_label(event.to_status)


class MembershipFreezeInline(ReadOnlyInline):
    model = MembershipFreeze
    fields = ("starts_on", "ends_on", "ended_early_on", "reason", "created_at")
    parent_view_permission = "billing.view_membership"


class MembershipAddOnInline(ReadOnlyInline):
    model = MembershipAddOn
    fields = ("addon", "quantity", "started_on", "ended_on")
    parent_view_permission = "billing.view_membership"
    verbose_name = _("add-on")
    verbose_name_plural = _("add-ons")


@admin.register(Membership)
class MembershipAdmin(
    MemberScopedListMixin, SignUpPages, ServiceActionsMixin, MemberSearchMixin, admin.ModelAdmin
):
    list_display = (
        "member",
        "plan",
        "status_badge",
        "next_billing_date",
        "cancel_at",
        "payer",
    )
    list_filter = ("status", "plan")
    search_fields = ("member__first_name", "member__last_name", "member__email")
    search_help_text = _("Member name, email, phone or member number")
    list_select_related = ("member", "plan", "payer")
    list_per_page = 50
    show_full_result_count = False
    inlines = (MembershipAddOnInline, MembershipFreezeInline, MembershipEventInline)
    actions = ("cancel_at_period_end", "cancel_now", "reactivate", "unfreeze")
    change_form_template = CHANGE_FORM_WITH_ACTIONS
    fieldsets = (
        (
            None,
            {
                "fields": (
                    ("member", "payer"),
                    ("plan", "pending_plan"),
                    "status",
                    ("payment_method", "coupon", "coupon_periods_left"),
                )
            },
        ),
        (
            _("Billing dates"),
            {
                "fields": (
                    ("started_on", "anchor_day", "trial_ends_on"),
                    ("current_period_start", "current_period_end"),
                    ("next_billing_date", "minimum_term_ends_on"),
                )
            },
        ),
        (
            _("Cancellation"),
            {"fields": (("cancel_at", "cancelled_at", "ended_on"), "cancel_reason")},
        ),
        (
            _("Freeze and overdue"),
            {
                "fields": (
                    ("frozen_from", "frozen_until"),
                    "past_due_since",
                    ("access_warning", "bookings_blocked", "account_charges_blocked"),
                )
            },
        ),
    )

    @admin.display(description=_("status"), ordering="status")
    def status_badge(self, obj: Membership) -> str:
        return format_html(
            '<strong style="color:{}">{}</strong>',
            MEMBERSHIP_COLOURS.get(obj.status, "#000"),
            obj.get_status_display(),
        )

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        return [f.name for f in Membership._meta.fields]

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        """Nothing here is edited directly; the buttons above the form call the services."""

    def get_urls(self) -> list[URLPattern]:
        custom = [
            self._action_path("freeze", self.freeze_view),
            self._action_path("unfreeze", self.unfreeze_view),
            self._action_path("cancel", self.cancel_view),
            self._action_path("reactivate", self.reactivate_view),
            self._action_path("grant-free-time", self.grant_free_time_view),
            self._action_path("change-plan", self.change_plan_view),
            self._action_path("apply-coupon", self.apply_coupon_view),
            self._action_path("addons", self.addons_view),
        ]
        return custom + super().get_urls()

    def object_tools(self, request: HttpRequest, obj: Membership) -> list[ObjectTool]:
        if not self.has_change_permission(request, obj):
            return []
        allowed = memberships.ALLOWED_FROM
        status = obj.status
        candidates = [
            ("change-plan", _("Change plan"), status in allowed["upgrade"]),
            (
                "addons",
                _("Add-ons"),
                status in allowed["change_addons"] and obj.plan.kind == PlanKind.RECURRING,
            ),
            ("freeze", _("Freeze"), status in allowed["freeze"]),
            ("unfreeze", _("Unfreeze"), status in allowed["unfreeze"]),
            (
                "grant-free-time",
                _("Grant free time"),
                status in allowed["grant_free_time"]
                and request.user.has_perm("billing.grant_free_time"),
            ),
            ("apply-coupon", _("Apply coupon"), status in allowed["apply_coupon"]),
            ("cancel", _("Cancel"), status in allowed["cancel"]),
            (
                "reactivate",
                _("Withdraw cancellation") if obj.cancel_at else _("Reactivate"),
                status in allowed["reactivate"]
                or bool(
                    obj.cancel_at
                    and status in LIVE_STATUSES
                    and obj.plan.kind == PlanKind.RECURRING
                ),
            ),
        ]
        return [
            ObjectTool(str(label), self._action_url(action, obj))
            for action, label, show in candidates
            if show
        ]

    def _changeable(self, request: HttpRequest, object_id: str) -> Membership:
        membership = self._object(request, object_id)
        if not self.has_change_permission(request, membership):
            raise PermissionDenied
        return membership

    def freeze_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        membership = self._changeable(request, object_id)
        plan = membership.plan

        def perform(data: dict[str, Any]) -> str:
            memberships.membership_freeze(
                membership,
                starts_on=data["starts_on"],
                ends_on=data["ends_on"],
                reason=data.get("reason", ""),
                actor=request.user,
            )
            return str(_("Frozen from %(starts)s until %(ends)s.")) % {
                "starts": data["starts_on"],
                "ends": data["ends_on"],
            }

        summary = _(
            "%(plan)s allows %(count)d freezes a year of %(min)d to %(max)d days; fee %(fee)s."
        ) % {
            "plan": plan,
            "count": plan.freezes_per_year,
            "min": plan.freeze_min_days,
            "max": plan.freeze_max_days,
            "fee": money(plan.freeze_fee, plan.currency),
        }
        return self._service_form_view(
            request,
            membership,
            FreezeForm(posted(request)),
            perform,
            title=str(_("Freeze %(membership)s") % {"membership": membership}),
            submit_label=str(_("Freeze")),
            summary=str(summary),
        )

    def unfreeze_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        membership = self._changeable(request, object_id)

        def perform(data: dict[str, Any]) -> str:
            memberships.membership_unfreeze(membership, actor=request.user)
            return str(_("The freeze has ended; unused days come off the next billing date."))

        return self._service_form_view(
            request,
            membership,
            ConfirmForm(posted(request)),
            perform,
            title=str(_("End the freeze of %(membership)s now") % {"membership": membership}),
            submit_label=str(_("Unfreeze")),
        )

    def cancel_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        membership = self._changeable(request, object_id)
        can_waive = request.user.has_perm("billing.grant_free_time")

        def perform(data: dict[str, Any]) -> str:
            memberships.membership_cancel(
                membership,
                at_period_end=data["when"] == "period_end",
                reason=data.get("reason", ""),
                waive_fees=bool(can_waive and data.get("waive_fees")),
                actor=request.user,
            )
            membership.refresh_from_db()
            return str(_("Cancelled; membership ends on %(day)s.")) % {"day": membership.cancel_at}

        return self._service_form_view(
            request,
            membership,
            CancelForm(posted(request), can_waive=can_waive),
            perform,
            title=str(_("Cancel %(membership)s") % {"membership": membership}),
            submit_label=str(_("Cancel membership")),
        )

    def reactivate_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        membership = self._changeable(request, object_id)

        def perform(data: dict[str, Any]) -> str:
            memberships.membership_reactivate(membership, actor=request.user)
            return str(_("Reactivated."))

        return self._service_form_view(
            request,
            membership,
            ConfirmForm(posted(request)),
            perform,
            title=str(_("Reactivate %(membership)s") % {"membership": membership}),
            submit_label=str(_("Reactivate")),
            summary=str(
                _(
                    "A scheduled cancellation is withdrawn; a cancelled membership restarts "
                    "today with a new invoice."
                )
            ),
        )

    def grant_free_time_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        membership = self._changeable(request, object_id)
        if not request.user.has_perm("billing.grant_free_time"):
            raise PermissionDenied

        def perform(data: dict[str, Any]) -> str:
            memberships.membership_grant_free_time(
                membership, days=data["days"], reason=data["reason"], actor=request.user
            )
            return str(_("%(days)d free days granted.")) % {"days": data["days"]}

        return self._service_form_view(
            request,
            membership,
            GrantFreeTimeForm(posted(request)),
            perform,
            title=str(_("Grant free time to %(membership)s") % {"membership": membership}),
            submit_label=str(_("Grant")),
        )

    def change_plan_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        membership = self._changeable(request, object_id)

        def perform(data: dict[str, Any]) -> str:
            if data["direction"] == "upgrade":
                memberships.membership_upgrade(membership, data["plan"], actor=request.user)
                return str(_("Upgraded to %(plan)s.")) % {"plan": data["plan"]}
            memberships.membership_downgrade(membership, data["plan"], actor=request.user)
            return str(_("%(plan)s starts from the next period.")) % {"plan": data["plan"]}

        return self._service_form_view(
            request,
            membership,
            ChangePlanForm(posted(request), current=membership.plan),
            perform,
            title=str(_("Change the plan of %(membership)s") % {"membership": membership}),
            submit_label=str(_("Change plan")),
        )

    def addons_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        membership = self._changeable(request, object_id)

        def perform(data: dict[str, Any]) -> str:
            addon = data["addon"]
            if data["change"] == "add":
                invoice = memberships.membership_add_addon(
                    membership, addon, quantity=data["quantity"], actor=request.user
                )
                if invoice is None:
                    return str(_("%(addon)s is on the membership; it renews with it.")) % {
                        "addon": addon
                    }
                return str(_("%(addon)s added; %(amount)s is being charged for this period.")) % {
                    "addon": addon,
                    "amount": money(invoice.total, invoice.currency),
                }
            item = memberships.membership_remove_addon(membership, addon, actor=request.user)
            assert item.ended_on is not None
            return str(_("%(addon)s ends on %(date)s.")) % {
                "addon": addon,
                "date": format_date(item.ended_on),
            }

        return self._service_form_view(
            request,
            membership,
            AddOnForm(posted(request), membership=membership),
            perform,
            title=str(_("Add-ons of %(membership)s") % {"membership": membership}),
            submit_label=str(_("Save")),
        )

    def apply_coupon_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        membership = self._changeable(request, object_id)

        def perform(data: dict[str, Any]) -> str:
            memberships.membership_apply_coupon(membership, code=data["code"], actor=request.user)
            return str(_("Coupon %(code)s applied.")) % {"code": data["code"]}

        return self._service_form_view(
            request,
            membership,
            CouponForm(posted(request)),
            perform,
            title=str(_("Apply a coupon to %(membership)s") % {"membership": membership}),
            submit_label=str(_("Apply")),
        )

    # --- bulk actions on the list -------------------------------------------------------

    @admin.action(description=_("Cancel at the end of the period"), permissions=["change"])
    def cancel_at_period_end(self, request: HttpRequest, queryset: QuerySet[Membership]) -> None:
        self._run_for_each(
            request,
            queryset,
            lambda m: memberships.membership_cancel(m, at_period_end=True, actor=request.user),
            str(_("%(count)d memberships will end at their period end.")),
        )

    @admin.action(description=_("Cancel now"), permissions=["change"])
    def cancel_now(self, request: HttpRequest, queryset: QuerySet[Membership]) -> None:
        self._run_for_each(
            request,
            queryset,
            lambda m: memberships.membership_cancel(m, at_period_end=False, actor=request.user),
            str(_("%(count)d memberships cancelled.")),
        )

    @admin.action(description=_("Reactivate or withdraw cancellation"), permissions=["change"])
    def reactivate(self, request: HttpRequest, queryset: QuerySet[Membership]) -> None:
        self._run_for_each(
            request,
            queryset,
            lambda m: memberships.membership_reactivate(m, actor=request.user),
            str(_("%(count)d memberships reactivated.")),
        )

    @admin.action(description=_("Unfreeze now"), permissions=["change"])
    def unfreeze(self, request: HttpRequest, queryset: QuerySet[Membership]) -> None:
        self._run_for_each(
            request,
            queryset,
            lambda m: memberships.membership_unfreeze(m, actor=request.user),
            str(_("%(count)d memberships unfrozen.")),
        )
