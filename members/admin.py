"""The front desk's member screens.  Saving goes through the members services."""

from __future__ import annotations

import csv
from typing import Any

from django.contrib import admin
from django.contrib.admin.utils import display_for_value
from django.db.models import Exists, OuterRef, QuerySet
from django.http import HttpRequest, HttpResponse
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from . import hooks, services
from .models import (
    AgreementSignature,
    AgreementVersion,
    GymProfile,
    Household,
    Member,
    MemberNote,
    MemberStatus,
)
from .selectors import member_search

STATUS_COLOURS: dict[str, str] = {
    MemberStatus.ACTIVE: "#1a7f37",
    MemberStatus.PROSPECT: "#6e7781",
    MemberStatus.FROZEN: "#0969da",
    MemberStatus.PAST_DUE: "#bf8700",
    MemberStatus.SUSPENDED: "#cf222e",
    MemberStatus.CANCELLED: "#6e7781",
    MemberStatus.ENDED: "#6e7781",
}


class MemberNoteInline(admin.TabularInline):
    model = MemberNote
    extra = 1
    # The record's own fields have no translated names: these columns give them one.
    fields = ("body", "is_alert", "written_by", "written", "resolved")
    readonly_fields = ("written_by", "written", "resolved")
    verbose_name = _("note or alert")
    verbose_name_plural = _("notes and alerts")

    @admin.display(description=_("written by"))
    def written_by(self, obj: MemberNote) -> str:
        return str(obj.author or self.get_empty_value_display())

    @admin.display(description=_("written"))
    def written(self, obj: MemberNote) -> str:
        return str(display_for_value(obj.created_at, self.get_empty_value_display()))

    @admin.display(description=_("resolved"))
    def resolved(self, obj: MemberNote) -> str:
        return str(display_for_value(obj.resolved_at, self.get_empty_value_display()))


class AgreementSignatureInline(admin.TabularInline):
    model = AgreementSignature
    extra = 0
    can_delete = False
    fields = (
        "agreement",
        "signer_name",
        "by_guardian",
        "signed_at",
        "ip_address",
        "user_agent",
    )
    readonly_fields = fields

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    @admin.display(description=_("agreement"))
    def agreement(self, obj: AgreementSignature) -> str:
        return str(obj.version)

    @admin.display(description=_("signed by a guardian"), boolean=True)
    def by_guardian(self, obj: AgreementSignature) -> bool:
        return obj.signed_by_guardian


class HasOpenAlertFilter(admin.SimpleListFilter):
    title = _("alert")
    parameter_name = "alert"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, Any]]:
        return [("yes", _("Has an open alert")), ("no", _("No alert"))]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Member]) -> QuerySet[Member]:
        open_alert = MemberNote.objects.filter(
            member=OuterRef("pk"), is_alert=True, resolved_at__isnull=True
        )
        if self.value() == "yes":
            return queryset.filter(Exists(open_alert))
        if self.value() == "no":
            return queryset.exclude(Exists(open_alert))
        return queryset


@admin.register(Member)
class MemberAdmin(admin.ModelAdmin):
    list_display = (
        "member_number",
        "full_name_display",
        "phone",
        "email",
        "status_badge",
        "language",
        "household",
        "created_at",
    )
    list_display_links = ("member_number", "full_name_display")
    list_filter = ("status", HasOpenAlertFilter, "language", "lead_source", "created_at")
    search_fields = ("first_name", "last_name", "email", "phone")
    search_help_text = _("Name, nickname, email, phone (any format) or member number")
    list_select_related = ("household",)
    list_per_page = 50
    show_full_result_count = False
    date_hierarchy = "created_at"
    autocomplete_fields = ("guardian", "household")
    readonly_fields = ("member_number", "status", "created_at", "household_summary")
    inlines = (MemberNoteInline, AgreementSignatureInline)
    actions = ("export_csv", "resolve_alerts")
    fieldsets = (
        (
            None,
            {
                "fields": (
                    ("first_name", "last_name", "nickname"),
                    ("phone", "email"),
                    ("date_of_birth", "language"),
                    "photo",
                    "lead_source",
                )
            },
        ),
        (_("Guardian and household"), {"fields": ("guardian", "household", "household_summary")}),
        (
            _("Address"),
            {
                "classes": ("collapse",),
                "fields": (
                    "address_line1",
                    "address_line2",
                    ("city", "province"),
                    ("postal_code", "country"),
                ),
            },
        ),
        (
            _("Emergency contact"),
            {
                "classes": ("collapse",),
                "fields": (
                    (
                        "emergency_contact_name",
                        "emergency_contact_phone",
                        "emergency_contact_relationship",
                    ),
                ),
            },
        ),
        (
            _("Communication preferences"),
            {
                "classes": ("collapse",),
                "fields": (
                    ("transactional_email", "transactional_sms"),
                    ("marketing_email", "marketing_sms"),
                ),
            },
        ),
        (_("Record"), {"fields": (("member_number", "status", "created_at"),)}),
    )

    @admin.display(description=_("name"), ordering="last_name")
    def full_name_display(self, obj: Member) -> str:
        return f"{obj.full_name} ({obj.nickname})" if obj.nickname else obj.full_name

    @admin.display(description=_("status"), ordering="status")
    def status_badge(self, obj: Member) -> str:
        return format_html(
            '<strong style="color:{}">{}</strong>',
            STATUS_COLOURS.get(obj.status, "#000"),
            obj.get_status_display(),
        )

    @admin.display(description=_("household members"))
    def household_summary(self, obj: Member) -> str:
        if not obj.pk or not obj.household_id:
            return "—"
        household = obj.household
        assert household is not None
        names = ", ".join(
            f"{m.full_name}{' (payer)' if m.pk == household.payer_id else ''}"
            for m in household.members.all()
        )
        return names

    def change_view(
        self,
        request: HttpRequest,
        object_id: str,
        form_url: str = "",
        extra_context: dict[str, Any] | None = None,
    ) -> HttpResponse:
        member = self.get_object(request, object_id)
        tools = (
            [tool for make in hooks.member_page_tools for tool in make(request, member)]
            if member is not None
            else []
        )
        extra = {**(extra_context or {}), "member_tools": tools}
        return super().change_view(request, object_id, form_url, extra_context=extra)

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet[Member], search_term: str
    ) -> tuple[QuerySet[Member], bool]:
        return member_search(search_term, queryset), False

    def save_model(self, request: HttpRequest, obj: Member, form: Any, change: bool) -> None:
        if change:
            services.member_update(obj)
        else:
            services.member_register(obj)

    def save_formset(self, request: HttpRequest, form: Any, formset: Any, change: bool) -> None:
        if formset.model is MemberNote:
            for note in formset.save(commit=False):
                if note.pk:
                    note.save()
                else:
                    services.note_add(
                        member=form.instance,
                        body=note.body,
                        is_alert=note.is_alert,
                        author=request.user,
                    )
            for deleted in formset.deleted_objects:
                deleted.delete()
            return
        super().save_formset(request, form, formset, change)

    @admin.action(description=_("Export selected members to CSV"))
    def export_csv(self, request: HttpRequest, queryset: QuerySet[Member]) -> HttpResponse:
        response = HttpResponse(content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = 'attachment; filename="members.csv"'
        response.write("\ufeff")  # Excel opens Thai text correctly with a BOM.
        writer = csv.writer(response)
        columns = [
            "member_number",
            "first_name",
            "last_name",
            "email",
            "phone",
            "status",
            "language",
        ]
        writer.writerow(columns)
        for row in queryset.values_list(*columns).iterator():
            writer.writerow(row)
        return response

    @admin.action(description=_("Resolve open alerts"), permissions=["change"])
    def resolve_alerts(self, request: HttpRequest, queryset: QuerySet[Member]) -> None:
        notes = MemberNote.objects.filter(
            member__in=queryset, is_alert=True, resolved_at__isnull=True
        )
        count = 0
        for note in notes:
            services.alert_resolve(note)
            count += 1
        self.message_user(request, _("%(count)d alerts resolved.") % {"count": count})


class HouseholdMemberInline(admin.TabularInline):
    model = Member
    fk_name = "household"
    fields = ("member_number", "first_name", "last_name", "date_of_birth", "status")
    readonly_fields = fields
    extra = 0
    can_delete = False
    show_change_link = True

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Household)
class HouseholdAdmin(admin.ModelAdmin):
    list_display = ("name", "payer", "created_at")
    search_fields = ("name", "payer__first_name", "payer__last_name", "payer__email")
    autocomplete_fields = ("payer",)
    inlines = (HouseholdMemberInline,)

    def save_model(self, request: HttpRequest, obj: Household, form: Any, change: bool) -> None:
        if change:
            obj.save()
            services.household_add_member(obj, obj.payer)
            return
        created = services.household_create(payer=obj.payer, name=obj.name)
        obj.pk = created.pk


@admin.register(AgreementVersion)
class AgreementVersionAdmin(admin.ModelAdmin):
    list_display = ("title", "kind", "version", "effective_from", "is_current")
    list_filter = ("kind", "is_current")


@admin.register(AgreementSignature)
class AgreementSignatureAdmin(admin.ModelAdmin):
    list_display = ("member", "version", "signer_name", "signed_at", "ip_address")
    search_fields = ("member__first_name", "member__last_name", "signer_name")
    list_select_related = ("member", "version")
    autocomplete_fields = ("member",)

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        # Signatures are evidence: once recorded they are never edited.
        if obj:
            return [f.name for f in self.model._meta.fields]
        return ("signed_at", "ip_address", "user_agent", "signed_by_guardian")

    def save_model(
        self, request: HttpRequest, obj: AgreementSignature, form: Any, change: bool
    ) -> None:
        created = services.agreement_sign(
            member=obj.member,
            version=obj.version,
            signer_name=obj.signer_name,
            ip_address=request.META.get("REMOTE_ADDR"),
            user_agent=request.META.get("HTTP_USER_AGENT", ""),
        )
        obj.pk = created.pk

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(GymProfile)
class GymProfileAdmin(admin.ModelAdmin):
    list_display = ("name", "tax_id", "phone", "email")
