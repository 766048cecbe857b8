"""The front desk's member screens.  Saving goes through the members services."""

from __future__ import annotations

import csv
from typing import Any
from urllib.parse import urlencode

from django.apps import apps
from django.contrib import admin, messages
from django.contrib.admin.utils import display_for_value
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import UserAdmin
from django.core.exceptions import ValidationError
from django.db.models import Exists, F, OuterRef, QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import URLPattern, reverse
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from . import leads, roles, services, staff_security
from .audit_admin import StaffAccountAuditMixin
from .models import (
    AgreementSignature,
    AgreementVersion,
    GymProfile,
    Household,
    Lead,
    LeadMessage,
    Member,
    MemberNote,
    MemberStatus,
    PrivacyRequest,
    PrivacyRequestKind,
    PrivacyRequestStatus,
)
from .privacy.admin_views import PrivacyPagesMixin
from .profile import ProfilePagesMixin, status_badge
from .selectors import RANK_NUMBER, member_search_ranked

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
class MemberAdmin(PrivacyPagesMixin, ProfilePagesMixin, admin.ModelAdmin):
    list_display = ("member_number", "full_name_display", "phone", "email_display")
    list_display_links = ("member_number", "full_name_display")

    class Media:
        css = {"all": ["members/desk.css"]}

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
    actions = ("export_csv", "resolve_alerts", "send_portal_invite")
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
                    "overpayment_as_credit",
                ),
            },
        ),
        (_("Record"), {"fields": (("member_number", "status", "created_at"),)}),
    )

    @admin.display(description=_("name"), ordering="last_name")
    def full_name_display(self, obj: Member) -> str:
        """The name with the status beside it, and a mark for an open alert."""
        return format_html(
            '<span class="gym-name">{}</span>{} {}{}',
            obj.full_name,
            format_html(' <span class="quiet">({})</span>', obj.nickname) if obj.nickname else "",
            status_badge(obj),
            format_html(' <span class="gym-alert-mark" title="{}">!</span>', _("Open alert"))
            if getattr(obj, "has_open_alert", False)
            else "",
        )

    @admin.display(description=_("email"), ordering="email")
    def email_display(self, obj: Member) -> str:
        return format_html('<span class="gym-truncate" title="{0}">{0}</span>', obj.email or "-")

    @admin.display(description=_("status"), ordering="status")
    def status_badge(self, obj: Member) -> str:
        return status_badge(obj)

    def get_queryset(self, request: HttpRequest) -> QuerySet[Member]:
        open_alert = MemberNote.objects.filter(
            member=OuterRef("pk"), is_alert=True, resolved_at__isnull=True
        )
        return super().get_queryset(request).annotate(has_open_alert=Exists(open_alert))

    @admin.display(description=_("household members"))
    def household_summary(self, obj: Member) -> str:
        if not obj.pk or not obj.household_id:
            return "—"
        household = obj.household
        assert household is not None
        payer = _("%(name)s (payer)")
        names = ", ".join(
            str(payer % {"name": m.full_name}) if m.pk == household.payer_id else m.full_name
            for m in household.members.all()
        )
        return names

    def get_urls(self) -> list[URLPattern]:
        return self.privacy_urls() + self.profile_urls() + super().get_urls()

    def change_view(
        self,
        request: HttpRequest,
        object_id: str,
        form_url: str = "",
        extra_context: dict[str, Any] | None = None,
    ) -> HttpResponse:
        """Viewing is the profile; editing is its own page (``…/edit/``)."""
        if request.method == "POST":  # the form, posted where the admin's links post it
            return super().change_view(request, object_id, form_url, extra_context)
        return self.profile_view(request, object_id)

    def response_change(self, request: HttpRequest, obj: Member) -> HttpResponse:
        response = super().response_change(request, obj)
        if "_continue" in request.POST or "_addanother" in request.POST:
            return response
        return HttpResponseRedirect(self.profile_url(obj))

    def response_add(
        self, request: HttpRequest, obj: Member, post_url_continue: str | None = None
    ) -> HttpResponse:
        response = super().response_add(request, obj, post_url_continue)
        if "_addanother" in request.POST or "_popup" in request.POST:
            return response
        if "_continue" in request.POST:
            return HttpResponseRedirect(reverse("admin:members_member_edit", args=[obj.pk]))
        return HttpResponseRedirect(self.profile_url(obj))

    def changelist_view(
        self, request: HttpRequest, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        """From the home page's search (``?go=1``): straight to the member when only one
        matches (a card number, a member number), else the list of matches."""
        if "go" in request.GET:
            term = request.GET.get("q", "")
            found = [
                (member.pk, getattr(member, "search_rank", None))
                for member in member_search_ranked(term, self.get_queryset(request))
                .order_by(F("search_rank").asc(), "-member_number")
                .only("pk")[:2]
            ]
            exact = len(found) == 1 or (
                len(found) == 2 and found[0][1] == RANK_NUMBER and found[1][1] != RANK_NUMBER
            )
            if term.strip() and found and exact:
                return HttpResponseRedirect(
                    reverse("admin:members_member_change", args=[found[0][0]])
                )
            url = reverse("admin:members_member_changelist")
            return HttpResponseRedirect(f"{url}?{urlencode({'q': term})}" if term else url)
        return super().changelist_view(request, extra_context)

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet[Member], search_term: str
    ) -> tuple[QuerySet[Member], bool]:
        """The desk's member search; the best matches first (an exact member number before
        other numbers that contain it), then the list's own ordering."""
        if not search_term.strip():
            return queryset, False
        ranked = member_search_ranked(search_term, queryset)
        ordering = queryset.query.order_by or ("-member_number",)
        return ranked.order_by(F("search_rank").asc(), *ordering), False

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

    @admin.action(description=_("Send portal invite"), permissions=["change"])
    def send_portal_invite(self, request: HttpRequest, queryset: QuerySet[Member]) -> None:
        """Email each member a link to set their portal password (7 days, once)."""
        sent, refused = 0, []
        for member in queryset.select_related("user"):
            try:
                services.portal_invite_send(member)
            except ValidationError as exc:
                refused.append(f"{member.full_name}: {' '.join(exc.messages)}")
            else:
                sent += 1
        if sent:
            self.message_user(
                request, _("Portal invites sent: %(count)d.") % {"count": sent}, messages.SUCCESS
            )
        for line in refused:
            self.message_user(request, line, messages.WARNING)


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


class LeadMessageInline(admin.TabularInline):
    model = LeadMessage
    extra = 0
    can_delete = False
    fields = ("kind", "status", "recipient", "sent_at", "skip_reason", "error")
    readonly_fields = fields
    verbose_name_plural = _("automatic follow-ups")

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Lead)
class LeadAdmin(admin.ModelAdmin):
    """Leads from the online join: who stopped where, worked by the desk (status, notes)."""

    list_display = (
        "name",
        "email",
        "phone",
        "interested_in",
        "status",
        "stopped_at",
        "marketing_email",
        "created_at",
    )
    list_filter = ("status", "source", "marketing_email", "created_at")
    search_fields = ("first_name", "last_name", "email", "phone", "notes", "interested_in")
    search_help_text = _("Name, email, phone, plan or a word of the notes")
    date_hierarchy = "created_at"
    list_per_page = 50
    show_full_result_count = False
    list_select_related = ("member",)
    fields = (
        ("first_name", "last_name"),
        ("email", "phone"),
        ("language", "source"),
        "interested_in",
        ("marketing_email", "marketing_consent_at"),
        "stopped_at",
        "member",
        "status",
        "notes",
        "created_at",
    )
    readonly_fields = (
        "first_name",
        "last_name",
        "email",
        "phone",
        "language",
        "source",
        "interested_in",
        "marketing_email",
        "marketing_consent_at",
        "stopped_at",
        "member",
        "created_at",
    )
    inlines = (LeadMessageInline,)

    @admin.display(description=_("name"), ordering="last_name")
    def name(self, obj: Lead) -> str:
        return str(obj)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # leads come from the online join

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return bool(request.user.is_superuser)

    def save_model(self, request: HttpRequest, obj: Lead, form: Any, change: bool) -> None:
        leads.lead_update(obj, status=obj.status, notes=obj.notes)


@admin.register(GymProfile)
class GymProfileAdmin(admin.ModelAdmin):
    list_display = ("name", "tax_id", "phone", "email")


# --- Staff accounts: an owner resets a lost second factor -----------------------------


class StaffUserAdmin(StaffAccountAuditMixin, UserAdmin):
    """Django's user screens, plus the owner's "Reset the second factor" (a lost phone):
    the staff member sets up a new one at their next sign-in.  Recorded with who did it."""

    actions = ["reset_second_factor"]

    @admin.action(description=_("Reset the second factor (lost phone)"))
    def reset_second_factor(self, request: HttpRequest, queryset: QuerySet[Any]) -> None:
        if not (request.user.is_superuser or request.user.groups.filter(name=roles.OWNER).exists()):
            self.message_user(
                request, _("Only an owner can reset a second factor."), messages.ERROR
            )
            return
        for user in queryset:
            staff_security.second_factor_reset(
                user, actor=request.user, ip=request.META.get("REMOTE_ADDR") or None
            )
        self.message_user(
            request,
            _("Reset for %(count)d staff member(s): they set up a new one at their next sign-in.")
            % {"count": queryset.count()},
            messages.SUCCESS,
        )


_user_model = get_user_model()
if admin.site.is_registered(_user_model):
    admin.site.unregister(_user_model)
admin.site.register(_user_model, StaffUserAdmin)

# The sign-in libraries' own screens (django-otp's devices, django-axes's logs) stay out
# of the desk's admin: the reset above is how a second factor is managed, and lockouts
# live in Redis.
for _app_label, _model_name in (
    ("otp_totp", "totpdevice"),
    ("otp_static", "staticdevice"),
    ("axes", "accessattempt"),
    ("axes", "accesslog"),
    ("axes", "accessfailurelog"),
    ("axes", "accessattemptexpiration"),
):
    try:
        _model = apps.get_model(_app_label, _model_name)
    except LookupError:
        continue
    if admin.site.is_registered(_model):
        admin.site.unregister(_model)


@admin.register(PrivacyRequest)
class PrivacyRequestAdmin(admin.ModelAdmin):
    """Members' requests for a copy or the erasure of their data, made in the portal."""

    list_display = (
        "member",
        "kind",
        "status",
        "source",
        "requested_at",
        "handled_at",
        "handled_by",
        "privacy_page",
    )
    list_filter = ("status", "kind")
    search_fields = ("member__first_name", "member__last_name", "member__email")
    list_select_related = ("member", "handled_by")
    readonly_fields = (
        "member",
        "kind",
        "note",
        "requested_at",
        "ip_address",
        "status",
        "source",
        "requested_by",
        "handled_at",
        "handled_by",
        "answer",
    )
    actions = ["mark_done", "mark_refused"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def _close(self, request: HttpRequest, queryset: QuerySet[PrivacyRequest], status: str) -> None:
        skipped = 0
        for item in queryset:
            if item.kind == PrivacyRequestKind.ERASURE:
                skipped += 1  # answered on the member's privacy page: approve or decline
                continue
            services.privacy_request_close(item, status=status, by=request.user)
        self.message_user(request, _("Requests updated."), messages.SUCCESS)
        if skipped:
            self.message_user(
                request,
                _(
                    "Erasure requests are approved or declined on the member's privacy "
                    "page: %(count)d left as they were."
                )
                % {"count": skipped},
                messages.WARNING,
            )

    @admin.display(description=_("privacy page"))
    def privacy_page(self, obj: PrivacyRequest) -> str:
        url = reverse("admin:members_member_privacy", args=[obj.member_id])
        return format_html('<a href="{}">{}</a>', url, _("Open"))

    @admin.action(description=_("Mark as answered"), permissions=["change"])
    def mark_done(self, request: HttpRequest, queryset: QuerySet[PrivacyRequest]) -> None:
        self._close(request, queryset, PrivacyRequestStatus.DONE)

    @admin.action(description=_("Mark as declined"), permissions=["change"])
    def mark_refused(self, request: HttpRequest, queryset: QuerySet[PrivacyRequest]) -> None:
        self._close(request, queryset, PrivacyRequestStatus.REFUSED)


from . import api_key_admin, audit_admin  # noqa: E402, F401  (register their screens)
