"""Dunning at the front desk: on the member page, on "Today at the gym", the page that
sends a member a pay link, and the case page in words.

Members and billing never import dunning: these register into ``members.hooks``
(``DunningConfig.ready``), and billing's pages are reached by their URLs.
"""

from __future__ import annotations

import datetime as dt
import re
import secrets
from typing import Any, cast
from urllib.parse import urlencode

from django import forms
from django.contrib import messages
from django.contrib.admin.utils import quote
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Q
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect, QueryDict
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext

from billing.admin.member_page import take_payment_url
from billing.money import format_amount
from config import clock
from config.errors import DomainError
from members.hooks import ACTIONS, DANGER, RECORDS, WARN, MemberFact, MemberTool, TodayRow
from members.hooks import TodaySection as Section
from members.models import Member
from members.profile import safe_next, status_badge

from .models import ACTIVE_CASE_STATUSES, Channel, DeclineCategory, DunningCase
from .services.messages import channel_refusal
from .services.paylinks import pay_link_invoices, pay_link_send
from .services.retries import retry_window
from .timeline import local_date, local_time, next_action_label

SEND_LINK_TEMPLATE = "dunning/admin/send_pay_link.html"
SEND_LINK_PERMISSION = "billing.take_payment"


def case_url(case: DunningCase) -> str:
    return reverse("admin:dunning_dunningcase_change", args=[quote(case.pk)])


def profile_url(member: Any) -> str:
    return reverse("admin:members_member_change", args=[quote(member.pk)])


def send_link_url(member: Any, next_url: str = "") -> str:
    url = reverse("admin:dunning_dunningcase_send_pay_link", args=[quote(member.pk)])
    return f"{url}?{urlencode({'next': next_url})}" if next_url else url


def _open_case(request: HttpRequest, member: Any) -> DunningCase | None:
    cache: dict[int, Any] = request.__dict__.setdefault("_dunning_case", {})
    if member.pk not in cache:
        cache[member.pk] = (
            DunningCase.objects.filter(
                Q(member=member) | Q(membership__member=member), status__in=ACTIVE_CASE_STATUSES
            )
            .select_related("invoice")
            .order_by("opened_at", "pk")
            .first()
        )
    return cache[member.pk]


# --- The member page ---------------------------------------------------------------------


def member_page_facts(request: HttpRequest, member: Any) -> list[MemberFact]:
    if not request.user.has_perm("dunning.view_dunningcase"):
        return []
    case = _open_case(request, member)
    if case is None:
        return []
    return [
        MemberFact(
            _("Overdue"),
            format_amount(case.amount_due, case.currency),
            detail=_("%(status)s · since %(day)s")
            % {"status": case.get_status_display(), "day": local_date(case.opened_at)}
            + (f" · {case.stage}" if case.stage else ""),
            url=case_url(case),
            tone=DANGER,
            order=31,
        )
    ]


def member_page_tools(request: HttpRequest, member: Any) -> list[MemberTool]:
    """Send a pay link (when something is owed), and the member's dunning records."""
    user = request.user
    tools: list[MemberTool] = []
    if user.has_perm(SEND_LINK_PERMISSION) and pay_link_invoices(member):
        tools.append(
            MemberTool(
                _("Send pay link"), send_link_url(member, profile_url(member)), ACTIONS, "", 25
            )
        )
    if user.has_perm("dunning.view_dunningcase"):
        case = _open_case(request, member)
        if case is not None:
            tools.append(MemberTool(_("Dunning case"), case_url(case), RECORDS, order=12))
        url = reverse("admin:dunning_dunningevent_changelist")
        tools.append(
            MemberTool(
                _("Dunning timeline of %(name)s") % {"name": member.full_name},
                f"{url}?{urlencode({'member__id__exact': member.pk})}",
                RECORDS,
                order=30,
            )
        )
    return tools


# --- Today at the gym --------------------------------------------------------------------


def today_sections(request: HttpRequest) -> list[Section]:
    if not request.user.has_perm("dunning.view_dunningcase"):
        return []
    end = clock.local_midnight(clock.today() + dt.timedelta(days=1))
    due = DunningCase.objects.filter(status__in=ACTIVE_CASE_STATUSES, next_action_at__lt=end)
    cases = list(due.select_related("member").order_by("next_action_at", "pk")[:10])
    count = due.count()
    rows = [
        TodayRow(
            text=case.member.full_name,
            url=case_url(case),
            detail=f"{next_action_label(case)} · {format_amount(case.amount_due, case.currency)}",
            tone=DANGER if case.stage else WARN,
        )
        for case in cases
    ]
    queue = reverse("admin:dunning_dunningcase_changelist")
    return [
        Section(
            key="dunning",
            title=_("Dunning actions due today"),
            rows=rows,
            figure=str(count),
            figure_label=ngettext("case", "cases", count),
            empty=_("Nothing is due in dunning today."),
            links=((_("Dunning queue"), queue),),
            order=35,
            tone=WARN if rows else "",
        )
    ]


# --- Sending a pay link ------------------------------------------------------------------


class PayLinkForm(forms.Form):
    invoice = forms.TypedChoiceField(label=gettext_lazy("Invoice"), coerce=int)
    channel = forms.ChoiceField(label=gettext_lazy("Send by"), widget=forms.RadioSelect)
    request_key = forms.CharField(widget=forms.HiddenInput, max_length=64)

    def __init__(self, *args: Any, invoices: list[Any], channels: list[tuple[str, str]], **kw: Any):
        super().__init__(*args, **kw)
        invoice_field = self.fields["invoice"]
        assert isinstance(invoice_field, forms.TypedChoiceField)
        invoice_field.choices = [
            (
                invoice.pk,
                f"{invoice.number} · {format_amount(invoice.amount_due, invoice.currency)}",
            )
            for invoice in invoices
        ]
        channel_field = self.fields["channel"]
        assert isinstance(channel_field, forms.ChoiceField)
        channel_field.choices = channels


class PayLinkPages:
    """``send-pay-link/<member id>/`` on the dunning case admin."""

    admin_site: Any
    opts: Any
    message_user: Any

    def pay_link_urls(self) -> list[URLPattern]:
        return [
            path(
                "send-pay-link/<str:member_id>/",
                self.admin_site.admin_view(self.send_pay_link_view),
                name="dunning_dunningcase_send_pay_link",
            )
        ]

    def send_pay_link_view(self, request: HttpRequest, member_id: str) -> HttpResponse:
        if not request.user.has_perm(SEND_LINK_PERMISSION):
            raise PermissionDenied
        member = None
        if re.fullmatch(r"[0-9]{1,18}", member_id):
            member = Member.objects.filter(pk=member_id).first()
        if member is None:
            raise Http404(_("No member with this id."))
        back = safe_next(request, profile_url(member))
        invoices = pay_link_invoices(member)
        payee = invoices[0].member if invoices else member
        channels = [
            (Channel.EMAIL.value, f"{Channel.EMAIL.label} ({payee.email or '—'})"),
            (Channel.SMS.value, f"{Channel.SMS.label} ({payee.phone or '—'})"),
        ]
        usable = [code for code, _label in channels if not channel_refusal(payee, code)]
        form = PayLinkForm(
            request.POST if request.method == "POST" else None,
            invoices=invoices,
            channels=channels,
            initial={
                "invoice": invoices[0].pk if invoices else None,
                "channel": Channel.SMS.value if Channel.SMS.value in usable else usable[:1],
                "request_key": secrets.token_urlsafe(16),
            },
        )
        if request.method == "POST" and form.is_valid():
            chosen = next(i for i in invoices if i.pk == form.cleaned_data["invoice"])
            try:
                sent = pay_link_send(
                    member,
                    chosen,
                    channel=form.cleaned_data["channel"],
                    request_key=form.cleaned_data["request_key"],
                    user=request.user,
                )
            except (DomainError, ValidationError) as exc:
                form.add_error(None, str(getattr(exc, "message", exc)))
                data = cast(QueryDict, form.data).copy()
                data["request_key"] = secrets.token_urlsafe(16)
                form.data = data
            else:
                if sent.status == "failed":
                    self.message_user(
                        request,
                        _("The pay link could not be sent: %(error)s") % {"error": sent.error},
                        messages.ERROR,
                    )
                else:
                    self.message_user(
                        request,
                        _("Pay link sent by %(channel)s to %(to)s.")
                        % {"channel": sent.get_channel_display(), "to": sent.recipient},
                        messages.SUCCESS,
                    )
                return HttpResponseRedirect(back)
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": _("Send %(name)s a pay link") % {"name": member.full_name},
            "member": member,
            "payee": payee,
            "badge": status_badge(member),
            "member_url": profile_url(member),
            "back_url": back,
            "form": form,
            "invoices": invoices,
            "refusals": {code: channel_refusal(payee, code) for code, _label in channels},
        }
        return TemplateResponse(request, SEND_LINK_TEMPLATE, context)


# --- The case page -----------------------------------------------------------------------


def case_page_context(request: HttpRequest, case: DunningCase) -> dict[str, Any]:
    """What the case page shows besides the timeline: the member, the overdue alert and
    the desk's ways to collect."""
    member = case.member
    back = case_url(case)
    may_take = request.user.has_perm("billing.take_payment")
    return {
        "case_member": member,
        "case_member_badge": status_badge(member),
        "case_member_url": profile_url(member),
        "amount_at_risk": format_amount(case.amount_due, case.currency),
        "opened": local_time(case.opened_at),
        "ladder_day": case.ladder_day(clock.today()),
        "next_action_text": next_action_label(case) if case.next_action_at else "",
        "next_action_when": local_time(case.next_action_at) if case.next_action_at else "",
        "last_decline_text": _decline_text(case),
        "retry_window": retry_window(case),
        "take_payment_url": take_payment_url(member, back) if may_take and case.is_active else "",
        "send_link_url": send_link_url(member, back)
        if may_take and case.is_active and request.user.has_perm(SEND_LINK_PERMISSION)
        else "",
    }


def _decline_text(case: DunningCase) -> str:
    if not case.last_decline_category:
        return "—"
    label = str(case.last_decline_category)
    if label in DeclineCategory.values:
        label = str(DeclineCategory(label).label)
    return f"{label} ({case.last_decline_code or '—'})"
