"""The access log at the desk: the event list, the live feed, manual check-in, overrides.

Events are evidence: listed and viewed, never edited.  New events come only from
``access_control.services``: a manual check-in (``manual_check_in``) or an override of a
denial (``override_denial``, which needs ``access_control.override_access`` and a reason).
"""

from __future__ import annotations

import re
from typing import Any
from zoneinfo import ZoneInfo

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Q, QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.template.loader import render_to_string
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.http import url_has_allowed_host_and_scheme, urlencode
from django.utils.translation import gettext_lazy as _

from billing.admin.base import (
    CHANGE_FORM_WITH_ACTIONS,
    MemberScopedListMixin,
    ObjectTool,
    ReadOnlyAdmin,
    posted,
)
from config import clock
from config.errors import DomainError
from members.selectors import member_open_alerts, member_search

from .. import services
from ..models import AccessEvent, Decision, Zone
from ..reasons import Reason, reason_label, reason_message, warning_message
from ..selectors import access_events_recent, zones_occupancy
from ..services.checks import OVERRIDE_PERMISSION
from .base import DeskActionsMixin, describe_refusal, field_shown
from .feed import feed_rows
from .forms import CheckInForm, OverrideForm
from .search import credentials_matching

CHECK_IN_PERMISSION = "access_control.add_accessevent"
FEED = "feed"
FEED_TEMPLATE = "admin/access_control/feed.html"
FEED_ROWS_TEMPLATE = "admin/access_control/feed_rows.html"
FEED_OCCUPANCY_TEMPLATE = "admin/access_control/feed_occupancy.html"
CHECK_IN_TEMPLATE = "admin/access_control/check_in.html"
FEED_SIZE = 50
ID = re.compile(r"[0-9]{1,18}")  # what fits a bigint; never a database error
FEED_REFRESH_SECONDS = 3


class ReasonFilter(admin.SimpleListFilter):
    title = _("reason")
    parameter_name = "reason"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [(reason.value, reason_label(reason)) for reason in Reason]

    def queryset(
        self, request: HttpRequest, queryset: QuerySet[AccessEvent]
    ) -> QuerySet[AccessEvent]:
        value = self.value()
        return queryset.filter(reason=value) if value else queryset


def decision_badge(granted: bool) -> str:
    if granted:
        return format_html('<strong style="color:#1a7f37">{}</strong>', _("Granted"))
    return format_html('<strong style="color:#cf222e">{}</strong>', _("Denied"))


def _int_param(request: HttpRequest, name: str) -> int | None:
    """A record id from the query string, or ``None`` for anything else."""
    value = request.GET.get(name, "")
    return int(value) if ID.fullmatch(value) else None


def _safe_next(request: HttpRequest, fallback: str) -> str:
    target = request.GET.get("next", "")
    if target and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return fallback


@admin.register(AccessEvent)
class AccessEventAdmin(MemberScopedListMixin, DeskActionsMixin, ReadOnlyAdmin):
    list_display = (
        "time",
        "decision_display",
        "reason_display",
        "member_display",
        "zone",
        "where",
        "direction",
        "source",
    )
    list_filter = (
        "decision",
        ReasonFilter,
        "zone",
        "source",
        "direction",
        ("occurred_at", admin.DateFieldListFilter),
    )
    list_select_related = ("member", "zone__location", "device", "staff_user")
    # Shows the search box; ``get_search_results`` reads the term as a member or a card.
    search_fields = ("presented",)
    search_help_text = _("Member name, email, phone or number, or a card number in any form")
    list_per_page = 50
    show_full_result_count = False
    change_form_template = CHANGE_FORM_WITH_ACTIONS
    change_list_template = "admin/access_control/accessevent/change_list.html"
    fields = (
        "occurred_at",
        "decision",
        "reason_display",
        "message",
        "warnings",
        "member",
        "credential",
        "presented",
        "zone",
        "device",
        "direction",
        "source",
        "device_event_id",
        "staff_user",
        "override_reason",
        "overrides",
        "pack_purchase",
        "pack_visit_day",
        "recorded",
    )

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        return self.fields

    # --- columns ----------------------------------------------------------------------

    @admin.display(description=_("time"), ordering="occurred_at")
    def time(self, obj: AccessEvent) -> str:
        """The wall-clock time where it happened: in its location's time zone."""
        local = timezone.localtime(obj.occurred_at, ZoneInfo(obj.zone.location.time_zone))
        return local.strftime("%Y-%m-%d %H:%M:%S")

    @admin.display(description=_("decision"), ordering="decision")
    def decision_display(self, obj: AccessEvent) -> str:
        return decision_badge(obj.granted)

    @admin.display(description=_("reason"), ordering="reason")
    def reason_display(self, obj: AccessEvent) -> str:
        return format_html(
            '<span title="{}">{}</span>', reason_message(obj.reason, None), reason_label(obj.reason)
        )

    @admin.display(description=_("message"))
    def message(self, obj: AccessEvent) -> str:
        texts = [reason_message(obj.reason, None)]
        texts += [warning_message(code, None) for code in obj.warnings or []]
        return " ".join(texts)

    @admin.display(description=_("pack day"))
    def pack_visit_day(self, obj: AccessEvent) -> str:
        return field_shown(self, obj, "pack_day")

    @admin.display(description=_("recorded"))
    def recorded(self, obj: AccessEvent) -> str:
        return field_shown(self, obj, "recorded_at")

    @admin.display(description=_("member"), ordering="member__last_name")
    def member_display(self, obj: AccessEvent) -> str:
        if obj.member is None:
            return obj.presented or "—"
        return f"{obj.member.full_name} (#{obj.member.member_number})"

    @admin.display(description=_("device or staff"))
    def where(self, obj: AccessEvent) -> str:
        if obj.device is not None:
            return obj.device.name
        return obj.staff_user.get_username() if obj.staff_user else "—"

    # --- search: members, and cards in any form ----------------------------------------

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet[AccessEvent], search_term: str
    ) -> tuple[QuerySet[AccessEvent], bool]:
        term = search_term.strip()
        if not term:
            return queryset, False
        condition = Q(member_id__in=member_search(term).values("pk")) | Q(presented=term)
        credentials = credentials_matching(term)
        if credentials is not None:
            condition |= Q(credential_id__in=credentials.values("pk"))
        return queryset.filter(condition), False

    # --- pages --------------------------------------------------------------------------

    def get_urls(self) -> list[URLPattern]:
        wrap = self.admin_site.admin_view
        custom = [
            path("feed/", wrap(self.feed_view), name=self._url_name(FEED)),
            path("feed/data/", wrap(self.feed_data_view), name=self._url_name("feed_data")),
            path("check-in/", wrap(self.check_in_view), name=self._url_name("check_in")),
            self._action_path("override", self.override_view),
        ]
        return custom + super().get_urls()

    def _may_check_in(self, request: HttpRequest) -> bool:
        return bool(request.user.has_perm(CHECK_IN_PERMISSION))

    def _check_in_url(self, **params: Any) -> str:
        url = reverse(f"admin:{self._url_name('check_in')}")
        query = {k: v for k, v in params.items() if v not in (None, "")}
        return f"{url}?{urlencode(query)}" if query else url

    def changelist_view(
        self, request: HttpRequest, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        extra = {
            "feed_url": self._feed_url(),
            "check_in_url": self._check_in_url() if self._may_check_in(request) else "",
            **(extra_context or {}),
        }
        return super().changelist_view(request, extra)

    def object_tools(self, request: HttpRequest, obj: AccessEvent) -> list[ObjectTool]:
        tools = []
        if (
            obj.decision == Decision.DENIED
            and request.user.has_perm(OVERRIDE_PERMISSION)
            and not AccessEvent.objects.filter(overrides=obj).exists()
        ):
            tools.append(ObjectTool(str(_("Let in (override)")), self._action_url("override", obj)))
        if obj.member_id and self._may_check_in(request):
            url = self._check_in_url(member=obj.member_id, zone=obj.zone_id)
            tools.append(ObjectTool(str(_("Check this member in")), url))
        return tools

    # --- the live feed -----------------------------------------------------------------

    def _feed(self, request: HttpRequest) -> dict[str, Any]:
        """The feed as both its page and its JSON show it, for ``?zone=`` and ``?denied=1``."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        zone_id = _int_param(request, "zone")
        denied_only = request.GET.get("denied") == "1"
        events = list(
            access_events_recent(zone_id=zone_id, denied_only=denied_only, limit=FEED_SIZE)
        )
        query = urlencode({"zone": zone_id or "", "denied": int(denied_only)})
        occupancy = [
            {"zone": zone.code, "name": zone.name, "capacity": zone.capacity, "inside": inside}
            for zone, inside in zones_occupancy(clock.now())
        ]
        return {
            "rows": feed_rows(events, request.user, back=f"{self._feed_url()}?{query}"),
            "zone_id": zone_id,
            "denied_only": denied_only,
            "occupancy": occupancy,
            "query": query,
            "next_url": f"{self._feed_url()}?{query}",
        }

    def _feed_url(self) -> str:
        return reverse(f"admin:{self._url_name(FEED)}")

    def feed_view(self, request: HttpRequest) -> HttpResponse:
        feed = self._feed(request)
        data_url = reverse(f"admin:{self._url_name('feed_data')}")
        context = {
            **self.admin_site.each_context(request),
            **feed,
            "opts": self.opts,
            "title": _("Live check-in feed"),
            "zones": Zone.objects.select_related("location"),
            "data_url": f"{data_url}?{feed['query']}",
            "refresh_seconds": FEED_REFRESH_SECONDS,
            "check_in_url": self._check_in_url(zone=feed["zone_id"])
            if self._may_check_in(request)
            else "",
            "changelist_url": reverse(f"admin:{self._url_name('changelist')}"),
        }
        return TemplateResponse(request, FEED_TEMPLATE, context)

    def feed_data_view(self, request: HttpRequest) -> HttpResponse:
        """The feed as JSON: the rows (as data and rendered) and who is inside each zone."""
        feed = self._feed(request)
        now = clock.now()
        return JsonResponse(
            {
                "generated_at": now.isoformat(),
                # The status line's time, in the one format the rows use.
                "updated": now.astimezone(clock.gym_tz()).strftime("%H:%M:%S"),
                "zone": feed["zone_id"],
                "denied_only": feed["denied_only"],
                "events": [row.as_json() for row in feed["rows"]],
                "occupancy": feed["occupancy"],
                "rows_html": render_to_string(FEED_ROWS_TEMPLATE, feed, request),
                "occupancy_html": render_to_string(FEED_OCCUPANCY_TEMPLATE, feed, request),
            }
        )

    # --- manual check-in ----------------------------------------------------------------

    def check_in_view(self, request: HttpRequest) -> HttpResponse:
        """Pick a member and a zone; the rules decide as at a reader, and the desk sees why."""
        if not self._may_check_in(request):
            raise PermissionDenied
        zone_id = _int_param(request, "zone")
        initial = {"zone": zone_id, "member": _int_param(request, "member")}
        form = CheckInForm(
            posted(request),
            initial={k: v for k, v in initial.items() if v},
            source=AccessEvent,
            site=self.admin_site,
        )
        if request.method == "POST" and form.is_valid():
            data = form.cleaned_data
            try:
                result = services.manual_check_in(
                    data["member"], data["zone"], request.user, direction=data["direction"]
                )
            except (DomainError, ValidationError) as exc:
                text = describe_refusal(exc)
                form.add_error(None, text)
                self.message_user(request, text, messages.ERROR)
            else:
                name = data["member"].full_name
                if result.granted:
                    self.message_user(
                        request,
                        _("%(member)s checked in.") % {"member": name},
                        messages.SUCCESS,
                    )
                else:
                    self.message_user(
                        request,
                        _("%(member)s was denied: %(message)s")
                        % {"member": name, "message": reason_label(result.reason)},
                        messages.WARNING,
                    )
                return HttpResponseRedirect(
                    self._check_in_url(event=result.event_id, zone=data["zone"].pk)
                )
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": _("Check in a member"),
            "form": form,
            "media": form.media,
            **self._check_in_result(request),
            "feed_url": self._feed_url(),
        }
        return TemplateResponse(request, CHECK_IN_TEMPLATE, context)

    def _check_in_result(self, request: HttpRequest) -> dict[str, Any]:
        """The decision just made (``?event=``), with the member's open alerts."""
        event_id = _int_param(request, "event")
        if event_id is None:
            return {}
        event = (
            AccessEvent.objects.select_related("member", "zone__location", "device", "staff_user")
            .filter(pk=event_id)
            .first()
        )
        if event is None:
            return {}
        back = self._check_in_url(event=event.pk, zone=event.zone_id)
        (row,) = feed_rows([event], request.user, back=back)
        alerts = member_open_alerts(event.member) if event.member else []
        return {
            "result": row,
            "alerts": alerts,
            "override_url": f"{row.override_url}?{urlencode({'next': back})}"
            if row.override_url
            else "",
            "override_form": OverrideForm(),
        }

    # --- overriding a denial ------------------------------------------------------------

    def override_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        permitted = self.has_view_permission(request) and request.user.has_perm(OVERRIDE_PERMISSION)
        event = self._permitted_object(request, object_id, permitted)
        done_url = _safe_next(request, self._change_url(event))

        def perform(data: dict[str, Any]) -> str:
            override = services.override_denial(event, request.user, data["reason"])
            return str(_("Let in by %(staff)s: %(reason)s")) % {
                "staff": request.user.get_username(),
                "reason": override.override_reason,
            }

        who = event.member.full_name if event.member else event.presented or "—"
        summary = _("Denied %(when)s at %(zone)s: %(message)s %(who)s") % {
            "when": self.time(event),
            "zone": event.zone.name,
            "message": reason_message(event.reason, None),
            "who": who,
        }
        return self._service_form_view(
            request,
            event,
            OverrideForm(posted(request)),
            perform,
            title=str(_("Override a denial")),
            submit_label=str(_("Let in")),
            summary=str(summary),
            done_url=done_url,
        )
