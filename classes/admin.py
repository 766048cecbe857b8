"""The staff side of classes, in English and Thai.

- class types, instructors, rooms and weekly schedules: configuration, edited as records;
- sessions: the week's timetable as a grid, and each session's roster (tick attendance,
  add a walk-in, book a member, with a logged reason to override the window, move
  someone off the waitlist, cancel the session);
- bookings, fees (the waiver queue), suspensions and messages: the records behind them.

Every change of state calls a ``classes.services`` function; what a service refuses
comes back as a message on the page, in the reader's language.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from billing.admin.forms import BillingForm
from billing.money import format_amount
from config import clock
from config.dates import format_date, format_time
from config.errors import DomainError, InvalidInput
from members.models import Member

from .models import (
    Booking,
    BookingEvent,
    BookingStatus,
    BookingSuspension,
    ClassFee,
    ClassMessage,
    ClassSession,
    ClassType,
    FeeStatus,
    Instructor,
    Room,
    Schedule,
    SessionStatus,
)
from .services import attendance, fees, rules
from .services import booking as booking_services


def _local(at: dt.datetime | None, session: ClassSession) -> dt.datetime | None:
    return at.astimezone(session.room.location.tz).replace(tzinfo=None) if at else None


def _when(local: dt.datetime | None) -> str:
    return f"{format_date(local, 'short')} {format_time(local)}"


@admin.register(ClassType)
class ClassTypeAdmin(admin.ModelAdmin):
    list_display = ("name", "name_th", "payment", "drop_in_price", "duration_minutes", "is_active")
    list_filter = ("payment", "is_active")
    search_fields = ("name", "name_th", "code")
    filter_horizontal = ("plans",)
    fieldsets = (
        (None, {"fields": (("code", "colour", "is_active"), ("name", "name_th"))}),
        (_("description"), {"fields": ("description", "description_th")}),
        (
            _("capacity"),
            {
                "fields": (
                    ("duration_minutes", "default_capacity"),
                    ("waitlist_limit", "offer_minutes"),
                )
            },
        ),
        (
            _("a booking costs"),
            {
                "fields": (
                    "payment",
                    ("drop_in_price", "currency", "tax_rate_bp"),
                    "drop_in_route",
                    "plans",
                )
            },
        ),
        (
            _("booking opens (days before)"),
            {
                "fields": (
                    ("opens_days_before", "closes_minutes_before", "cancel_cutoff_minutes"),
                    ("late_cancel_forfeits_credit", "late_cancel_fee"),
                    ("no_show_forfeits_credit", "no_show_fee"),
                )
            },
        ),
    )


@admin.register(Instructor)
class InstructorAdmin(admin.ModelAdmin):
    list_display = ("name", "user", "is_active")
    search_fields = ("name", "user__username")
    filter_horizontal = ("substitutes",)
    autocomplete_fields = ("user",)


@admin.register(Room)
class RoomAdmin(admin.ModelAdmin):
    list_display = ("name", "location", "zone", "capacity", "spots")
    list_filter = ("location",)
    search_fields = ("name",)
    list_select_related = ("location", "zone")


@admin.register(Schedule)
class ScheduleAdmin(admin.ModelAdmin):
    list_display = (
        "class_type",
        "weekdays",
        "start_time",
        "room",
        "instructor",
        "valid_from",
        "valid_until",
        "is_active",
    )
    list_filter = ("class_type", "room", "is_active")
    list_select_related = ("class_type", "room", "instructor")


class ReasonCleaning(BillingForm):
    """A staff form with a free-text reason: card numbers refused in every field (and
    never shown back), the reason cleaned as the services clean it."""

    def clean_reason(self) -> str:
        try:
            return rules.clean_reason(self.cleaned_data.get("reason"))
        except InvalidInput as exc:
            raise forms.ValidationError(exc.fields["reason"]) from None

    def reason_problem(self, missing: str) -> str:
        """What the desk is told: ``missing`` when no reason was given, else the error."""
        if self.has_error("reason", "required") or "reason" not in self.errors:
            return missing
        return " ".join(str(error) for error in self.errors["reason"])


class BookMemberForm(ReasonCleaning):
    member = forms.ModelChoiceField(queryset=Member.objects.all(), label=_("member"))
    override = forms.BooleanField(required=False, label=_("Override the booking window"))
    reason = forms.CharField(required=False, max_length=300, label=_("reason"))


class ReasonForm(ReasonCleaning):
    reason = forms.CharField(max_length=300, label=_("reason"))


@admin.register(ClassSession)
class ClassSessionAdmin(admin.ModelAdmin):
    list_display = ("starts_local", "class_type", "room", "instructor", "places", "status")
    list_filter = ("status", "class_type", "room__location")
    list_select_related = ("class_type", "room__location", "instructor")
    date_hierarchy = "starts_at"
    readonly_fields = ("booked_count", "attendance_closed_at")
    fields = (
        ("class_type", "room", "instructor"),
        ("starts_at", "ends_at"),
        ("capacity", "status"),
        ("booked_count", "attendance_closed_at"),
    )
    change_list_template = "admin/classes/classsession/change_list.html"

    @admin.display(description=_("starts"), ordering="starts_at")
    def starts_local(self, obj: ClassSession) -> str:
        local = _local(obj.starts_at, obj)
        return f"{format_date(local, 'short')} {format_time(local)}"

    @admin.display(description=_("booked"))
    def places(self, obj: ClassSession) -> str:
        return f"{obj.booked_count} / {obj.capacity}"

    def get_urls(self) -> list[URLPattern]:
        wrap = self.admin_site.admin_view
        return [
            path("timetable/", wrap(self.timetable_view), name="classes_classsession_timetable"),
            path(
                "<path:object_id>/roster/",
                wrap(self.roster_view),
                name="classes_classsession_roster",
            ),
            *super().get_urls(),
        ]

    def timetable_view(self, request: HttpRequest) -> HttpResponse:
        if not self.has_view_permission(request):
            raise PermissionDenied
        today = clock.today()
        try:
            monday = dt.date.fromisoformat(request.GET.get("week", ""))
        except ValueError:
            monday = today
        monday -= dt.timedelta(days=monday.weekday())
        start = clock.local_midnight(monday)
        sessions = (
            ClassSession.objects.filter(
                starts_at__gte=start, starts_at__lt=start + dt.timedelta(days=7)
            )
            .select_related("class_type", "room__location", "instructor")
            .order_by("starts_at", "pk")
        )
        days: list[dict[str, Any]] = [
            {
                "date": monday + dt.timedelta(days=n),
                "label": format_date(monday + dt.timedelta(days=n), "short"),
                "sessions": [],
            }
            for n in range(7)
        ]
        for session in sessions:
            local = _local(session.starts_at, session)
            assert local is not None
            index = (local.date() - monday).days
            if 0 <= index < 7:
                days[index]["sessions"].append(
                    {
                        "session": session,
                        "time": format_time(local),
                        "name": session.class_type.label(),
                        "full": session.booked_count >= session.capacity,
                        "cancelled": session.status == SessionStatus.CANCELLED,
                        "url": reverse("admin:classes_classsession_roster", args=[session.pk]),
                    }
                )
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": gettext("Timetable: week of %(day)s") % {"day": format_date(monday)},
            "days": days,
            "previous": (monday - dt.timedelta(days=7)).isoformat(),
            "next": (monday + dt.timedelta(days=7)).isoformat(),
        }
        return TemplateResponse(request, "admin/classes/timetable.html", context)

    def roster_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        if not self.has_view_permission(request):
            raise PermissionDenied
        session = get_object_or_404(
            ClassSession.objects.select_related("class_type", "room__location", "instructor"),
            pk=object_id if str(object_id).isdigit() else 0,
        )
        url = reverse("admin:classes_classsession_roster", args=[session.pk])
        book_form = BookMemberForm(prefix="book")
        if request.method == "POST":
            if not request.user.has_perm("classes.change_booking"):
                raise PermissionDenied
            invalid = self._roster_post(request, session)
            if invalid is None:
                return HttpResponseRedirect(url)
            book_form = invalid
        people = attendance.roster(session)
        local = _local(session.starts_at, session)
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": f"{session.class_type.label()} · {_when(local)}",
            "session": session,
            "booked": [b for b in people if b.status != BookingStatus.WAITLISTED],
            "waiting": [b for b in people if b.status == BookingStatus.WAITLISTED],
            "book_form": book_form,
            "may_change": request.user.has_perm("classes.change_booking"),
            "may_cancel": request.user.has_perm("classes.change_classsession"),
            "timetable_url": reverse("admin:classes_classsession_timetable"),
        }
        return TemplateResponse(request, "admin/classes/roster.html", context)

    def _roster_post(self, request: HttpRequest, session: ClassSession) -> BookMemberForm | None:
        """Carry out one roster action; the booking form back when it is not valid."""
        action = request.POST.get("action", "")
        booking_id = request.POST.get("booking", "")
        booking_id_int = int(booking_id) if booking_id.isdigit() else 0
        if booking_id and not Booking.objects.filter(pk=booking_id_int, session=session).exists():
            messages.error(request, gettext("This booking is not on this roster."))
            return None
        try:
            if action in ("attended", "unattended"):
                attendance.mark_attended(
                    booking_id_int, actor=request.user, attended=action == "attended"
                )
                messages.success(request, gettext("Attendance saved."))
            elif action == "promote":
                reason_form = ReasonForm(request.POST)
                if not reason_form.is_valid():
                    messages.error(
                        request,
                        reason_form.reason_problem(
                            gettext("Say why this member skips the waitlist.")
                        ),
                    )
                    return None
                booking_services.move_off_waitlist(
                    booking_id_int, actor=request.user, reason=reason_form.cleaned_data["reason"]
                )
                messages.success(request, gettext("Moved off the waitlist into a place."))
            elif action in ("book", "walk_in"):
                form = BookMemberForm(request.POST, prefix="book")
                if not form.is_valid():
                    return form
                member = form.cleaned_data["member"]
                if action == "walk_in":
                    attendance.walk_in(member, session.pk, actor=request.user)
                else:
                    booking_services.book(
                        member,
                        session.pk,
                        source="staff",
                        actor=request.user,
                        override=form.cleaned_data["override"],
                        override_reason=form.cleaned_data["reason"],
                    )
                messages.success(
                    request, gettext("%(member)s is on the roster.") % {"member": member}
                )
            elif action == "cancel_session":
                if not request.user.has_perm("classes.change_classsession"):
                    raise PermissionDenied
                released = booking_services.session_cancel(session.pk, actor=request.user)
                messages.success(
                    request, gettext("Class cancelled; %(n)s members told.") % {"n": released}
                )
            elif action == "cancel_booking":
                booking_services.cancel(booking_id_int, actor=request.user)
                messages.success(request, gettext("Booking cancelled."))
            else:
                messages.error(request, gettext("Unknown action."))
        except DomainError as exc:
            messages.error(request, exc.message)
        return None


@admin.register(Booking)
class BookingAdmin(admin.ModelAdmin):
    list_display = (
        "member",
        "session",
        "status",
        "paid_by",
        "spot",
        "waitlist_position",
        "created_at",
    )
    list_filter = ("status", "paid_by", "source")
    search_fields = ("member__first_name", "member__last_name", "member__member_number")
    list_select_related = ("member", "session__class_type", "session__room__location")
    raw_id_fields = ("member", "session", "membership", "pack_purchase")
    readonly_fields = [f.name for f in Booking._meta.fields if f.name != "id"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # bookings are made on a session's roster, through the rules

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class WaiveForm(ReasonCleaning):
    fee = forms.IntegerField(widget=forms.HiddenInput)
    reason = forms.CharField(max_length=300, label=_("reason for waiving"))


@admin.register(ClassFee)
class ClassFeeAdmin(admin.ModelAdmin):
    list_display = ("member", "kind", "amount", "status", "post_after", "waived_by")
    list_filter = ("status", "kind")
    list_select_related = ("member", "waived_by")
    search_fields = ("member__first_name", "member__last_name")
    readonly_fields = [f.name for f in ClassFee._meta.fields if f.name != "id"]
    change_list_template = "admin/classes/classfee/change_list.html"

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def get_urls(self) -> list[URLPattern]:
        wrap = self.admin_site.admin_view
        return [
            path("waivers/", wrap(self.waivers_view), name="classes_classfee_waivers"),
            *super().get_urls(),
        ]

    def waivers_view(self, request: HttpRequest) -> HttpResponse:
        """The waiver queue: pending fees, soonest posted first, each with a waive form."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        may_waive = request.user.has_perm("classes.change_classfee")
        if request.method == "POST":
            if not may_waive:
                raise PermissionDenied
            form = WaiveForm(request.POST)
            if form.is_valid():
                fee = ClassFee.objects.filter(pk=form.cleaned_data["fee"]).first()
                if fee is None:
                    messages.error(request, gettext("This fee is already waived or posted."))
                else:
                    try:
                        fees.fee_waive(fee, request.user, form.cleaned_data["reason"])
                        messages.success(request, gettext("Fee waived."))
                    except DomainError as exc:
                        messages.error(request, exc.message)
            else:
                messages.error(request, form.reason_problem(gettext("Say why the fee is waived.")))
            return HttpResponseRedirect(reverse("admin:classes_classfee_waivers"))
        pending = (
            ClassFee.objects.filter(status=FeeStatus.PENDING)
            .select_related(
                "member", "booking__session__class_type", "booking__session__room__location"
            )
            .order_by("post_after", "pk")
        )
        rows = []
        for fee in pending:
            session = fee.booking.session
            local = _local(session.starts_at, session)
            rows.append(
                {
                    "fee": fee,
                    "amount": format_amount(fee.amount, fee.currency),
                    "class": f"{session.class_type.label()} · {_when(local)}",
                    "post_after": _when(_local(fee.post_after, session)),
                }
            )
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": gettext("Fees waiting: waive or let them post"),
            "rows": rows,
            "may_waive": may_waive,
        }
        return TemplateResponse(request, "admin/classes/waivers.html", context)


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(BookingSuspension)
class BookingSuspensionAdmin(admin.ModelAdmin):
    list_display = ("member", "starts_at", "ends_at", "strikes")
    list_select_related = ("member",)
    raw_id_fields = ("member",)


@admin.register(BookingEvent)
class BookingEventAdmin(ReadOnlyAdmin):
    list_display = ("created_at", "kind", "booking", "reason", "actor")
    list_filter = ("kind",)
    list_select_related = (
        "booking__member",
        "booking__session__class_type",
        "booking__session__room__location",
        "actor",
    )


@admin.register(ClassMessage)
class ClassMessageAdmin(ReadOnlyAdmin):
    list_display = ("created_at", "member", "kind", "channel", "status", "skip_reason")
    list_filter = ("kind", "channel", "status")
    list_select_related = ("member",)

    def get_queryset(self, request: HttpRequest) -> QuerySet[ClassMessage]:
        return super().get_queryset(request)
