"""Machinery shared by the billing screens.

Money shown and typed at the desk, the desk's member search, read-only records, and
``ServiceActionsMixin``: custom pages that collect a few inputs, call one service and
report what it refused as a message on the page.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.utils import quote, unquote
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Model, Q, QuerySet
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils.text import capfirst
from django.utils.translation import gettext_lazy as _

from config.errors import DomainError
from members.models import Member
from members.selectors import member_search

from ..money import format_amount
from ..money import major_units as major_units  # re-exported: screens import it from here

ACTION_FORM_TEMPLATE = "admin/billing/action_form.html"
CHANGE_FORM_WITH_ACTIONS = "admin/billing/change_form_with_actions.html"


def describe_error(exc: Exception) -> str:
    """A domain refusal or validation error as one sentence for the desk."""
    if isinstance(exc, DomainError):
        text = exc.message
        if exc.reason:
            text += f" ({exc.reason.replace('_', ' ')})"
        if exc.extra:
            text += " " + ", ".join(f"{k.replace('_', ' ')}: {v}" for k, v in exc.extra.items())
        return text
    if isinstance(exc, ValidationError):
        return " ".join(exc.messages)
    return str(exc)


def money(amount: int, currency: str) -> str:
    return format_amount(amount, currency)


def posted(request: HttpRequest) -> Any:
    """The submitted data on POST (even when empty, as a confirm button sends), else ``None``."""
    return request.POST if request.method == "POST" else None


@dataclass(frozen=True)
class ObjectTool:
    label: str
    url: str


class ReadOnlyInline(admin.TabularInline):
    """A record shown inside its parent, visible to whoever may view the parent."""

    extra = 0
    can_delete = False
    parent_view_permission = ""

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        return self.fields or [f.name for f in self.model._meta.fields]

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return bool(request.user.has_perm(self.parent_view_permission))

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class ReadOnlyAdmin(admin.ModelAdmin):
    """Evidence: listed and viewed, never added, edited or deleted here."""

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        return [f.name for f in self.model._meta.fields]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class AmountColumn:
    """The ``amount_display`` column of a record with ``amount`` and ``currency``."""

    @admin.display(description=_("amount"), ordering="amount")
    def amount_display(self, obj: Any) -> str:
        return money(obj.amount, obj.currency)


class InvoiceMemberColumn:
    """The ``member`` column of a record that belongs to an invoice."""

    @admin.display(description=_("member"))
    def member(self, obj: Any) -> str:
        return str(obj.invoice.member)


class MemberSearchMixin:
    """The desk's member search (name, email, phone, member number) on ``member__``."""

    member_lookup = "member"
    extra_search_lookups: tuple[str, ...] = ()

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet[Any], search_term: str
    ) -> tuple[QuerySet[Any], bool]:
        term = search_term.strip()
        if not term:
            return queryset, False
        condition = Q(**{f"{self.member_lookup}__in": member_search(term).values("pk")})
        for lookup in self.extra_search_lookups:
            condition |= Q(**{lookup: term})
        return queryset.filter(condition), False


class MemberScopedListMixin:
    """A list opened for one member (``?member__id__exact=``: the member page's record
    links) says whose records it shows: "Memberships of Somchai Thongdee"."""

    opts: Any

    def changelist_view(
        self, request: HttpRequest, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        member_id = request.GET.get("member__id__exact", "")
        member = None
        if member_id.isdigit() and len(member_id) <= 18:
            member = Member.objects.filter(pk=member_id).only("first_name", "last_name").first()
        if member is not None:
            title = _("%(records)s of %(name)s") % {
                "records": capfirst(self.opts.verbose_name_plural),
                "name": member.full_name,
            }
            extra_context = {"title": title, **(extra_context or {})}
        return super().changelist_view(request, extra_context)  # type: ignore[misc]


class ServiceActionsMixin:
    """Custom pages that collect a few inputs and call one service for one object."""

    model: type[Model]
    admin_site: admin.AdminSite
    opts: Any

    # Provided by ModelAdmin.
    get_object: Callable[..., Any]
    message_user: Callable[..., None]

    def object_tools(self, request: HttpRequest, obj: Any) -> list[ObjectTool]:
        """The buttons on ``obj``'s page (none unless a screen offers some)."""
        return []

    def _url_name(self, action: str) -> str:
        return f"{self.opts.app_label}_{self.opts.model_name}_{action}"

    def _action_url(self, action: str, obj: Model) -> str:
        return reverse(f"admin:{self._url_name(action)}", args=[quote(obj.pk)])

    def _change_url(self, obj: Model) -> str:
        return reverse(
            f"admin:{self.opts.app_label}_{self.opts.model_name}_change", args=[quote(obj.pk)]
        )

    def _action_path(self, action: str, view: Callable[..., HttpResponse]) -> URLPattern:
        return path(
            f"<path:object_id>/{action}/",
            self.admin_site.admin_view(view),
            name=self._url_name(action),
        )

    def _object(self, request: HttpRequest, object_id: str) -> Any:
        obj = self.get_object(request, unquote(object_id))
        if obj is None:
            raise Http404(f"No {self.opts.verbose_name} with this id.")
        return obj

    def _permitted_object(self, request: HttpRequest, object_id: str, permitted: bool) -> Any:
        """The object (404 if there is none), refused with 403 unless ``permitted``."""
        obj = self._object(request, object_id)
        if not permitted:
            raise PermissionDenied
        return obj

    def _render_form(
        self,
        request: HttpRequest,
        form: forms.Form,
        *,
        title: str,
        obj: Model | None = None,
        submit_label: str = "",
        summary: str = "",
        cancel_url: str = "",
    ) -> TemplateResponse:
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "original": obj,
            "title": title,
            "form": form,
            "media": form.media,
            "summary": summary,
            "submit_label": submit_label or title,
            "cancel_url": cancel_url
            or (
                self._change_url(obj)
                if obj is not None
                else reverse(f"admin:{self.opts.app_label}_{self.opts.model_name}_changelist")
            ),
        }
        return TemplateResponse(request, ACTION_FORM_TEMPLATE, context)

    def _service_form_view(
        self,
        request: HttpRequest,
        obj: Any,
        form: forms.Form,
        perform: Callable[[dict[str, Any]], str],
        *,
        title: str,
        submit_label: str = "",
        summary: str = "",
        done_url: str = "",
    ) -> HttpResponse:
        """Validate ``form``; on success call ``perform`` and go back to the object."""
        if request.method == "POST" and form.is_valid():
            try:
                message = perform(form.cleaned_data)
            except (DomainError, ValidationError) as exc:
                text = describe_error(exc)
                form.add_error(None, text)
                self.message_user(request, text, messages.ERROR)
            else:
                self.message_user(request, message, messages.SUCCESS)
                return HttpResponseRedirect(done_url or self._change_url(obj))
        return self._render_form(
            request, form, title=title, obj=obj, submit_label=submit_label, summary=summary
        )

    def _run_for_each(
        self,
        request: HttpRequest,
        queryset: Iterable[Any],
        call: Callable[[Any], object],
        done: str,
    ) -> None:
        """Call a service for each selected record; report successes and each refusal."""
        succeeded = 0
        for obj in queryset:
            try:
                call(obj)
            except (DomainError, ValidationError) as exc:
                self.message_user(request, f"{obj}: {describe_error(exc)}", messages.ERROR)
            else:
                succeeded += 1
        if succeeded:
            self.message_user(request, done % {"count": succeeded}, messages.SUCCESS)

    def change_view(
        self,
        request: HttpRequest,
        object_id: str,
        form_url: str = "",
        extra_context: dict[str, Any] | None = None,
    ) -> HttpResponse:
        obj = self.get_object(request, unquote(object_id))
        tools = self.object_tools(request, obj) if obj is not None else []
        extra = {
            "billing_tools": tools,
            "show_save": False,
            "show_save_and_continue": False,
            "show_save_and_add_another": False,
            **(extra_context or {}),
        }
        return super().change_view(request, object_id, form_url, extra)  # type: ignore[misc]
