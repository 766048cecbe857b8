"""The dunning screens: the queue of accounts in dunning, and the policy as editable data.

The queue shows each case's stage, amount at risk, last decline, and next action with
its date.  The front desk can look (``dunning.view_dunningcase``); acting on a case —
retry now, pause for a promise, waive a fee, offer a plan, send to collections, write
off — needs ``dunning.act_on_dunning``.  Each action calls one
``dunning.services.staff`` function; a refusal comes back as a message, never an error
page.  Timeline, retries and messages are evidence: shown, never edited.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.utils import quote, unquote
from django.contrib.admin.widgets import AdminDateWidget
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Q, QuerySet
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from billing.admin.base import MemberScopedListMixin
from billing.money import format_amount
from config import clock
from config.dates import format_date
from config.errors import DomainError
from members.audit_admin import AuditedAdminMixin
from members.selectors import member_search

from .desk import PayLinkPages, case_page_context
from .metrics import dunning_metrics, range_problem
from .models import (
    DeclineCategory,
    DeclineRule,
    DunningCase,
    DunningEvent,
    DunningMessage,
    LadderStep,
    PaydayCalendar,
    PaymentPlan,
    PaymentPlanInstallment,
    RetryPolicy,
)
from .paydays import paydays_between
from .selectors import payday_rules_of
from .services import staff
from .services.messages import message_decide
from .timeline import next_action_label, timeline_entries, upcoming_entries

ACT_PERMISSION = "dunning.act_on_dunning"
# The admin action page that billing's admin uses too: a few inputs and one button.
ACTION_FORM_TEMPLATE = "admin/billing/action_form.html"
REPORTS_PERMISSION = "members.view_reports"
METRICS_TEMPLATE = "admin/dunning/metrics.html"
CASE_TEMPLATE = "dunning/admin/case.html"


def describe_error(exc: Exception) -> str:
    if isinstance(exc, DomainError):
        return f"{exc.message} ({(exc.reason or exc.code).replace('_', ' ')})"
    if isinstance(exc, ValidationError):
        return " ".join(exc.messages)
    return str(exc)


# --- Forms ----------------------------------------------------------------------------


class ConfirmForm(forms.Form):
    """No inputs: the page asks for a deliberate click (nothing changes on GET)."""


class PauseForm(forms.Form):
    until = forms.DateField(label=_("Promised payment date"), widget=AdminDateWidget)
    reason = forms.CharField(label=_("Note"), max_length=200, required=False)


class ReasonForm(forms.Form):
    reason = forms.CharField(label=_("Reason"), max_length=200)


class OfferPlanForm(forms.Form):
    installments = forms.TypedChoiceField(
        label=_("Installments"), choices=[(n, n) for n in (2, 3, 4)], coerce=int, initial=3
    )
    interval_days = forms.IntegerField(
        label=_("Days between installments"), min_value=1, max_value=31, initial=14
    )
    first_due_on = forms.DateField(
        label=_("First installment on"),
        required=False,
        widget=AdminDateWidget,
        help_text=_("Empty: today (charged at once)."),
    )


class MetricsRangeForm(forms.Form):
    """The recovery dashboard's date range (gym-local dates, both included)."""

    start = forms.DateField(label=_("From"), widget=AdminDateWidget)
    end = forms.DateField(label=_("To"), widget=AdminDateWidget)

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("start") and data.get("end"):
            problem = range_problem(data["start"], data["end"])
            if problem:
                raise ValidationError(problem)
        return data


# --- Inlines --------------------------------------------------------------------------


class EvidenceInline(admin.TabularInline):
    extra = 0
    can_delete = False
    show_change_link = False

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        return self.fields or [f.name for f in self.model._meta.fields]

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return bool(request.user.has_perm("dunning.view_dunningcase"))


# --- The queue ------------------------------------------------------------------------


@admin.register(DunningCase)
class DunningCaseAdmin(PayLinkPages, admin.ModelAdmin):
    list_display = (
        "member_link",
        "invoice",
        "status",
        "stage",
        "amount_at_risk",
        "last_decline",
        "next_action_text",
        "next_action_at",
    )
    list_filter = ("status", "stage", "last_decline_category")
    list_select_related = ("member", "invoice")
    search_fields = ("invoice__number",)
    search_help_text = _("Member name, email, phone or number, or an invoice number.")
    ordering = ("next_action_at", "pk")
    date_hierarchy = "opened_at"
    actions = ("retry_selected", "send_selected_to_collections")
    exclude = ("alert_note",)

    # -- display --
    @admin.display(description=_("member"), ordering="member__last_name")
    def member_link(self, case: DunningCase) -> str:
        url = reverse("admin:members_member_change", args=[case.member_id])
        return format_html('<a href="{}">{}</a>', url, case.member)

    @admin.display(description=_("amount at risk"), ordering="amount_due")
    def amount_at_risk(self, case: DunningCase) -> str:
        return format_amount(case.amount_due, case.currency)

    @admin.display(description=_("last decline"))
    def last_decline(self, case: DunningCase) -> str:
        if not case.last_decline_category:
            return "—"
        category = DeclineCategory(case.last_decline_category).label
        return f"{category} ({case.last_decline_code or '—'})"

    @admin.display(description=_("next action"))
    def next_action_text(self, case: DunningCase) -> str:
        return next_action_label(case)

    # -- permissions --
    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # cases change only through the actions below

    def has_act_permission(self, request: HttpRequest) -> bool:
        return bool(request.user.has_perm(ACT_PERMISSION))

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        return [f.name for f in self.model._meta.fields if f.name != "alert_note"]

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet[DunningCase], search_term: str
    ) -> tuple[QuerySet[DunningCase], bool]:
        term = search_term.strip()
        if not term:
            return queryset, False
        members = member_search(term).values("pk")
        return queryset.filter(Q(member__in=members) | Q(invoice__number__iexact=term)), False

    # -- bulk actions --
    @admin.action(description=_("Retry the card now"), permissions=["act"])
    def retry_selected(self, request: HttpRequest, queryset: QuerySet[DunningCase]) -> None:
        self._each(request, queryset, lambda case: staff.retry_now(case, user=request.user))

    @admin.action(description=_("Hand to collections"), permissions=["act"])
    def send_selected_to_collections(
        self, request: HttpRequest, queryset: QuerySet[DunningCase]
    ) -> None:
        self._each(
            request, queryset, lambda case: staff.send_to_collections(case, user=request.user)
        )

    def _each(
        self,
        request: HttpRequest,
        queryset: QuerySet[DunningCase],
        call: Callable[[DunningCase], object],
    ) -> None:
        done = 0
        for case in queryset:
            try:
                call(case)
            except (DomainError, ValidationError) as exc:
                self.message_user(request, f"{case}: {describe_error(exc)}", messages.ERROR)
            else:
                done += 1
        if done:
            self.message_user(request, _("Done for %(count)s cases.") % {"count": done})

    # -- per-case action pages --
    ACTIONS: tuple[tuple[str, Any], ...] = (
        ("retry-now", _("Retry now")),
        ("pause", _("Pause for a promise")),
        ("waive-fee", _("Waive the late fee")),
        ("offer-plan", _("Offer a payment plan")),
        ("send-to-collections", _("Send to collections")),
        ("write-off", _("Write off")),
    )

    def get_urls(self) -> list[URLPattern]:
        views = {
            "retry-now": self.retry_now_view,
            "pause": self.pause_view,
            "waive-fee": self.waive_fee_view,
            "offer-plan": self.offer_plan_view,
            "send-to-collections": self.collections_view,
            "write-off": self.write_off_view,
        }
        metrics = path(
            "metrics/",
            self.admin_site.admin_view(self.metrics_view),
            name="dunning_dunningcase_metrics",
        )
        own = [
            path(
                f"<path:object_id>/{name}/",
                self.admin_site.admin_view(view),
                name=f"dunning_dunningcase_{name.replace('-', '_')}",
            )
            for name, view in views.items()
        ]
        return [metrics, *self.pay_link_urls(), *own, *super().get_urls()]

    def metrics_view(self, request: HttpRequest) -> HttpResponse:
        """The recovery dashboard: ``dunning.metrics.dunning_metrics`` for a date range."""
        if not request.user.has_perm(REPORTS_PERMISSION):
            raise PermissionDenied
        today = clock.today()
        default = {"start": today - dt.timedelta(days=29), "end": today}
        form = MetricsRangeForm(request.GET if "start" in request.GET else default)
        report = None
        if form.is_valid():
            report = dunning_metrics(form.cleaned_data["start"], form.cleaned_data["end"])
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": _("Recovery metrics"),
            "form": form,
            "media": self.media + form.media,
            "metrics": report,
        }
        return TemplateResponse(request, METRICS_TEMPLATE, context)

    def change_view(
        self,
        request: HttpRequest,
        object_id: str,
        form_url: str = "",
        extra_context: dict[str, Any] | None = None,
    ) -> HttpResponse:
        case = self.get_object(request, unquote(object_id))
        tools = []
        if case is not None and case.is_active and self.has_act_permission(request):
            tools = [
                {
                    "label": label,
                    "url": reverse(
                        f"admin:dunning_dunningcase_{name.replace('-', '_')}",
                        args=[quote(case.pk)],
                    ),
                }
                for name, label in self.ACTIONS
            ]
        if case is None:
            raise Http404(_("No dunning case with this id."))
        if not self.has_view_permission(request, case):
            raise PermissionDenied
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "original": case,
            "title": str(case.invoice),
            "dunning_tools": tools,
            **case_page_context(request, case),
            "timeline": timeline_entries(case),
            "upcoming": upcoming_entries(case) if case.is_active else [],
            **(extra_context or {}),
        }
        return TemplateResponse(request, CASE_TEMPLATE, context)

    def _case_for_action(self, request: HttpRequest, object_id: str) -> DunningCase:
        if not self.has_act_permission(request):
            raise PermissionDenied
        case = self.get_object(request, unquote(object_id))
        if case is None:
            raise Http404(_("No dunning case with this id."))
        return case

    def _action_page(
        self,
        request: HttpRequest,
        case: DunningCase,
        form: forms.Form,
        perform: Callable[[dict[str, Any]], str],
        *,
        title: str,
        summary: str = "",
    ) -> HttpResponse:
        change_url = reverse("admin:dunning_dunningcase_change", args=[quote(case.pk)])
        if request.method == "POST" and form.is_valid():
            try:
                done = perform(form.cleaned_data)
            except (DomainError, ValidationError) as exc:
                text = describe_error(exc)
                form.add_error(None, text)
                self.message_user(request, text, messages.ERROR)
            else:
                self.message_user(request, done, messages.SUCCESS)
                return HttpResponseRedirect(change_url)
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "original": case,
            "title": title,
            "form": form,
            "media": self.media + form.media,
            "summary": summary,
            "submit_label": title,
            "cancel_url": change_url,
        }
        return TemplateResponse(request, ACTION_FORM_TEMPLATE, context)

    def _posted(self, request: HttpRequest) -> Any:
        return request.POST if request.method == "POST" else None

    def retry_now_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        case = self._case_for_action(request, object_id)

        def perform(data: dict[str, Any]) -> str:
            outcome = staff.retry_now(case, user=request.user)
            return str(_("Retried: the attempt %(outcome)s.") % {"outcome": outcome})

        return self._action_page(
            request,
            case,
            ConfirmForm(self._posted(request)),
            perform,
            title=str(_("Retry the card now")),
            summary=str(
                _("The card on file is charged now, unless a card-network rule forbids it.")
            ),
        )

    def pause_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        case = self._case_for_action(request, object_id)

        def perform(data: dict[str, Any]) -> str:
            staff.pause(case, until=data["until"], reason=data["reason"], user=request.user)
            return str(_("Paused until %(date)s.") % {"date": data["until"]})

        form = PauseForm(
            self._posted(request), initial={"until": clock.today() + dt.timedelta(days=7)}
        )
        return self._action_page(
            request,
            case,
            form,
            perform,
            title=str(_("Pause until a promised date")),
            summary=str(
                _(
                    "Reminders stop until then; the card is tried on that day, "
                    "then the ladder resumes."
                )
            ),
        )

    def waive_fee_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        case = self._case_for_action(request, object_id)

        def perform(data: dict[str, Any]) -> str:
            fee = staff.waive_fee(case, reason=data["reason"], user=request.user)
            return str(_("The late fee %(invoice)s was credited.") % {"invoice": fee.number})

        return self._action_page(
            request,
            case,
            ReasonForm(self._posted(request)),
            perform,
            title=str(_("Waive the late fee")),
        )

    def offer_plan_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        case = self._case_for_action(request, object_id)

        def perform(data: dict[str, Any]) -> str:
            plan = staff.offer_plan(
                case,
                installments=data["installments"],
                interval_days=data["interval_days"],
                first_due_on=data.get("first_due_on"),
                user=request.user,
            )
            return str(
                _("Payment plan of %(count)s installments set up.")
                % {"count": plan.installments_count}
            )

        return self._action_page(
            request,
            case,
            OfferPlanForm(self._posted(request)),
            perform,
            title=str(_("Offer a payment plan")),
            summary=str(
                _(
                    "The overdue invoice is credited and billed again as installment invoices; "
                    "escalation pauses while the plan is kept."
                )
            ),
        )

    def collections_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        case = self._case_for_action(request, object_id)

        def perform(data: dict[str, Any]) -> str:
            staff.send_to_collections(case, user=request.user)
            return str(_("Handed to collections."))

        return self._action_page(
            request,
            case,
            ConfirmForm(self._posted(request)),
            perform,
            title=str(_("Send to collections")),
            summary=str(_("Automatic retries and reminders stop.")),
        )

    def write_off_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        case = self._case_for_action(request, object_id)

        def perform(data: dict[str, Any]) -> str:
            staff.write_off(case, reason=data["reason"], user=request.user)
            return str(_("Written off."))

        return self._action_page(
            request,
            case,
            ReasonForm(self._posted(request)),
            perform,
            title=str(_("Write off")),
            summary=str(_("The invoice becomes uncollectible and the case closes.")),
        )


# --- The policy -----------------------------------------------------------------------


@admin.register(DeclineRule)
class DeclineRuleAdmin(AuditedAdminMixin, admin.ModelAdmin):
    list_display = ("code", "kind", "category", "note", "updated_at")
    list_editable = ("category",)
    list_filter = ("kind", "category")
    search_fields = ("code", "note")
    ordering = ("kind", "category", "code")


@admin.register(RetryPolicy)
class RetryPolicyAdmin(AuditedAdminMixin, admin.ModelAdmin):
    list_display = (
        "name",
        "plan",
        "mode",
        "max_attempts",
        "until_cancellation",
        "window_days",
        "fixed_interval_days",
    )
    list_select_related = ("plan",)
    fields = (
        "name",
        "plan",
        "mode",
        "max_attempts",
        "until_cancellation",
        "window_days",
        "fixed_interval_days",
    )


@admin.register(PaydayCalendar)
class PaydayCalendarAdmin(AuditedAdminMixin, admin.ModelAdmin):
    """The gym's paydays: funds retries aim at the first hours after them."""

    list_display = ("__str__", "gym", "last_working_day", "days_of_month", "civil_service")
    fields = (
        "gym",
        "last_working_day",
        "days_of_month",
        "civil_service",
        "first_working_day",
        "extra_dates",
        "country",
        "coming_paydays",
    )
    readonly_fields = ("coming_paydays",)

    @admin.display(description=_("paydays in the next 60 days"))
    def coming_paydays(self, calendar: PaydayCalendar) -> str:
        if calendar.pk is None:
            return "—"
        today = clock.today()
        days = paydays_between(today, today + dt.timedelta(days=60), payday_rules_of(calendar))
        return ", ".join(format_date(day, "short") for day in days) or "—"


@admin.register(LadderStep)
class LadderStepAdmin(AuditedAdminMixin, admin.ModelAdmin):
    list_display = (
        "position",
        "name",
        "plan",
        "days_since_failure",
        "template",
        "send_email",
        "send_sms",
        "effects",
        "is_active",
    )
    list_display_links = ("name",)
    list_filter = ("plan", "is_active")
    list_select_related = ("plan",)
    ordering = ("plan", "position")
    fieldsets = (
        (None, {"fields": ("plan", "position", "name", "is_active")}),
        (
            _("Conditions"),
            {
                "fields": (
                    "days_since_failure",
                    "min_amount_owed",
                    "min_unpaid_invoices",
                    "decline_categories",
                )
            },
        ),
        (_("Message"), {"fields": ("template", "send_email", "send_sms")}),
        (
            _("Effects"),
            {
                "fields": (
                    "warn_at_gate",
                    "suspend_access",
                    "block_bookings",
                    "block_account_charges",
                    "cancel_membership",
                    "mark_uncollectible",
                    "flag_collections",
                    "late_fee",
                )
            },
        ),
    )

    @admin.display(description=_("effects"))
    def effects(self, step: LadderStep) -> str:
        names = [
            str(getattr(step._meta.get_field(name), "verbose_name", name))
            for name in (
                "warn_at_gate",
                "suspend_access",
                "block_bookings",
                "block_account_charges",
                "cancel_membership",
                "mark_uncollectible",
                "flag_collections",
            )
            if getattr(step, name)
        ]
        if step.late_fee:
            names.append(str(_("late fee")))
        return ", ".join(names) or "—"


class ReadOnlyAdmin(admin.ModelAdmin):
    """Evidence: listed and viewed by whoever may view cases, never edited here."""

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        return [f.name for f in self.model._meta.fields]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return bool(
            request.user.has_perm("dunning.view_dunningcase")
            or super().has_view_permission(request, obj)
        )


@admin.register(DunningMessage)
class DunningMessageAdmin(ReadOnlyAdmin):
    """Messages, with the two decisions staff make about one whose send was interrupted
    and whose provider cannot be asked (status "Interrupted: resend or treat as sent?")."""

    list_display = (
        "scheduled_for",
        "member",
        "template",
        "channel",
        "status",
        "decision",
        "skip_reason",
    )
    list_filter = ("status", "decision", "channel", "template")
    list_select_related = ("member",)
    search_fields = ("recipient", "provider_message_id")
    actions = ("resend_selected", "treat_selected_as_sent")

    def has_act_permission(self, request: HttpRequest) -> bool:
        return bool(request.user.has_perm(ACT_PERMISSION))

    @admin.action(description=_("Interrupted: send again"), permissions=["act"])
    def resend_selected(self, request: HttpRequest, queryset: QuerySet[DunningMessage]) -> None:
        self._decide(request, queryset, resend=True)

    @admin.action(description=_("Interrupted: treat as sent"), permissions=["act"])
    def treat_selected_as_sent(
        self, request: HttpRequest, queryset: QuerySet[DunningMessage]
    ) -> None:
        self._decide(request, queryset, resend=False)

    def _decide(
        self, request: HttpRequest, queryset: QuerySet[DunningMessage], *, resend: bool
    ) -> None:
        done = 0
        for message in queryset:
            try:
                message_decide(message.pk, resend=resend, user=request.user)
            except DomainError as exc:
                self.message_user(request, f"{message}: {describe_error(exc)}", messages.ERROR)
            else:
                done += 1
        if done:
            self.message_user(request, _("Decided for %(count)s messages.") % {"count": done})


@admin.register(DunningEvent)
class DunningEventAdmin(MemberScopedListMixin, ReadOnlyAdmin):
    """The dunning timeline: every message, retry and staff action (the member page links
    here, filtered to the member)."""

    list_display = ("at", "member", "case", "kind", "details", "actor")
    list_filter = ("kind",)
    list_select_related = ("member", "case__invoice", "actor")

    @admin.display(description=_("details"))
    def details(self, event: DunningEvent) -> str:
        shown = [
            f"{key}: {value}"
            for key, value in sorted((event.detail or {}).items())
            if value not in ("", None, [], {})
        ]
        return "; ".join(shown)[:300]

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet[DunningEvent], search_term: str
    ) -> tuple[QuerySet[DunningEvent], bool]:
        term = search_term.strip()
        if not term:
            return queryset, False
        return queryset.filter(member__in=member_search(term).values("pk")), False

    search_fields = ("kind",)


class InstallmentInline(EvidenceInline):
    model = PaymentPlanInstallment
    fields = ("number", "invoice", "due_on", "charge_scheduled_at", "paid_at")


@admin.register(PaymentPlan)
class PaymentPlanAdmin(ReadOnlyAdmin):
    list_display = ("case", "status", "installments_count", "interval_days", "created_at")
    list_filter = ("status",)
    inlines = (InstallmentInline,)
