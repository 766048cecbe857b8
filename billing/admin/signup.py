"""Signing a member up at the desk, in one flow (the membership admin's "Add").

1. Choose: the member (pre-filled from the member page), the plan, with its price and
   every fee shown as money, a start date and a coupon.
2. Sign and pay: what is due today and what follows (worked out by the sign-up itself),
   the agreement in the member's language, signed on the desk's screen (typed name and
   consent; the time and the device are recorded), and how the first invoice is paid:
   a new card through the gateway's form, the card on file, cash, or later at the desk.

``billing.services.desk.desk_sign_up`` does the work; a refusal comes back on the page.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, cast

from django import forms
from django.contrib import messages
from django.contrib.admin.widgets import AdminDateWidget
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, QueryDict
from django.template.response import TemplateResponse
from django.utils import translation
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from config import clock
from config.dates import format_date
from config.errors import DomainError
from members.models import Member
from members.profile import status_badge

from ..gateways.interface import GatewayError
from ..models import Membership, Plan
from ..money import format_amount
from ..plan_terms import plan_name, plan_offer
from ..services import desk
from .base import describe_error
from .desk import (
    NO_CONTROL_CHARACTERS,
    card_form_context,
    decline_words,
    new_request_key,
    profile_url,
)
from .forms import BillingForm, use_autocomplete

SIGN_UP_TEMPLATE = "admin/billing/sign_up.html"
CHOOSE, SIGN = "choose", "sign"


# --- Forms ------------------------------------------------------------------------------


class ChooseForm(BillingForm):
    member = forms.ModelChoiceField(label=_("Member"), queryset=Member.objects.all())
    plan = forms.ModelChoiceField(
        label=_("Plan"),
        queryset=Plan.objects.filter(is_active=True).order_by("price"),
        widget=forms.RadioSelect,
        error_messages={"required": _("Choose a plan.")},
    )
    start_on = forms.DateField(
        label=_("Start on"), required=False, widget=AdminDateWidget, help_text=_("Empty: today.")
    )
    coupon_code = forms.CharField(
        label=_("Coupon code"), max_length=40, required=False, validators=[NO_CONTROL_CHARACTERS]
    )

    def __init__(self, *args: Any, admin_site: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        use_autocomplete(self.fields["member"], Membership, admin_site)

    def clean_start_on(self) -> Any:
        start = self.cleaned_data.get("start_on")
        today = clock.today()
        if start is not None and start < today:
            raise ValidationError(_("The start cannot be in the past."))
        if start is not None and (start - today).days > 366:
            raise ValidationError(_("Start within a year from today."))
        return start


class SignForm(BillingForm):
    signer_name = forms.CharField(
        label=_("Signed by"),
        max_length=160,
        validators=[NO_CONTROL_CHARACTERS],
        help_text=_("The member types their full name (a guardian's, for a minor)."),
    )
    consent = forms.BooleanField(
        label=_("I have read the agreement above and accept it, with the fees shown."),
        error_messages={"required": _("The member must accept the agreement to sign up.")},
    )
    payment = forms.ChoiceField(label=_("First payment"), widget=forms.RadioSelect)
    card_token = forms.CharField(max_length=120, required=False)
    request_key = forms.CharField(widget=forms.HiddenInput, max_length=64)

    def __init__(self, *args: Any, card_label: str = "", **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        choices: list[tuple[str, Any]] = [(desk.SIGN_UP_NEW_CARD, _("A new card, charged now"))]
        if card_label:
            choices.append(
                (
                    desk.SIGN_UP_CARD_ON_FILE,
                    gettext("The card on file (%(card)s), charged now") % {"card": card_label},
                )
            )
        choices += [
            (desk.SIGN_UP_CASH, _("Cash, now")),
            (desk.SIGN_UP_NO_PAYMENT, _("Later, at the desk (the first invoice stays open)")),
        ]
        payment = self.fields["payment"]
        assert isinstance(payment, forms.ChoiceField)
        payment.choices = choices

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("payment") == desk.SIGN_UP_NEW_CARD and not data.get("card_token"):
            self.add_error("card_token", _("Take the card in the card form first."))
        return data


def _prefilled_member(request: HttpRequest) -> str:
    """The member the page was opened for: ``?member=``, or the filter of the list the
    desk came from (the "Add" button of "Memberships of …")."""
    member = request.GET.get("member", "")
    if not member:
        filters = QueryDict(request.GET.get("_changelist_filters", ""))
        member = filters.get("member__id__exact", "") or ""
    return member if member.isdigit() and len(member) <= 18 else ""


# --- The page ---------------------------------------------------------------------------


class SignUpPages:
    """The membership admin's "Add": the desk's sign-up flow."""

    admin_site: Any
    opts: Any
    has_add_permission: Any
    message_user: Any

    def add_view(
        self, request: HttpRequest, form_url: str = "", extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        if not self.has_add_permission(request):
            raise PermissionDenied
        if request.method != "POST":
            choose = ChooseForm(
                initial={"member": _prefilled_member(request)}, admin_site=self.admin_site
            )
            return self._choose_page(request, choose)
        choose = ChooseForm(request.POST, admin_site=self.admin_site)
        quote = self._quote(choose)
        if quote is None:
            return self._choose_page(request, choose)
        member: Member = choose.cleaned_data["member"]
        card = desk.desk_card(member)
        card_label = f"{card.brand.capitalize()} •••• {card.last4}" if card else ""
        if request.POST.get("step") != SIGN:
            sign = SignForm(
                card_label=card_label,
                initial={
                    "payment": desk.SIGN_UP_NEW_CARD,
                    "request_key": new_request_key(),
                },
            )
            return self._sign_page(request, choose, sign, quote)
        sign = SignForm(request.POST, card_label=card_label)
        if sign.is_valid():
            done = self._sign_up(request, choose.cleaned_data, sign.cleaned_data)
            if done is not None:
                return done
            data = cast(QueryDict, sign.data).copy()
            data["request_key"] = new_request_key()  # the old one is spent
            sign.data = data
        return self._sign_page(request, choose, sign, quote)

    def _quote(self, choose: ChooseForm) -> desk.SignUpQuote | None:
        """What the sign-up would bill, or ``None`` (with the refusal on the form)."""
        if not choose.is_valid():
            return None
        data = choose.cleaned_data
        try:
            return desk.sign_up_quote(
                data["member"],
                data["plan"],
                start_on=data.get("start_on"),
                coupon_code=data.get("coupon_code") or "",
            )
        except (DomainError, ValidationError) as exc:
            choose.add_error(None, describe_error(exc))
            return None

    def _sign_up(
        self, request: HttpRequest, choice: dict[str, Any], data: dict[str, Any]
    ) -> HttpResponse | None:
        member: Member = choice["member"]
        plan: Plan = choice["plan"]
        try:
            result = desk.desk_sign_up(
                member,
                plan,
                signature=desk.DeskSignature(
                    signer_name=data["signer_name"],
                    consent=data["consent"],
                    ip_address=request.META.get("REMOTE_ADDR"),
                    user_agent=request.META.get("HTTP_USER_AGENT", ""),
                ),
                payment=data["payment"],
                card_token=data.get("card_token", ""),
                start_on=choice.get("start_on"),
                coupon_code=choice.get("coupon_code") or "",
                user=request.user,
                request_key=data["request_key"],
            )
        except GatewayError:
            self.message_user(
                request,
                gettext("The payment gateway does not recognise this card."),
                messages.ERROR,
            )
            return None
        except (DomainError, ValidationError) as exc:
            self.message_user(request, describe_error(exc), messages.ERROR)
            return None
        self._report(request, member, plan, result)
        return HttpResponseRedirect(profile_url(member))

    def _report(
        self, request: HttpRequest, member: Member, plan: Plan, result: desk.DeskSignUp
    ) -> None:
        names = {"member": member.full_name, "plan": plan_name(plan)}
        invoice, payment = result.invoice, result.payment
        if invoice is None:
            self.message_user(
                request, gettext("%(member)s is signed up to %(plan)s.") % names, messages.SUCCESS
            )
        elif payment is None:
            self.message_user(
                request,
                gettext(
                    "%(member)s is signed up to %(plan)s. The first invoice %(number)s "
                    "(%(amount)s) is open: take the payment at the desk."
                )
                % {
                    **names,
                    "number": invoice.number,
                    "amount": format_amount(invoice.amount_due, invoice.currency),
                },
                messages.WARNING,
            )
        elif payment.declined is not None:
            self.message_user(
                request,
                gettext("%(member)s is signed up to %(plan)s, but the first payment failed.")
                % names
                + " "
                + decline_words(payment.declined),
                messages.WARNING,
            )
        else:
            self.message_user(
                request,
                gettext("%(member)s is signed up to %(plan)s: %(amount)s paid.")
                % {**names, "amount": format_amount(payment.amount, payment.currency)},
                messages.SUCCESS,
            )

    # --- rendering ----------------------------------------------------------------------

    def _context(self, request: HttpRequest, choose: ChooseForm, step: str) -> dict[str, Any]:
        member = (
            choose.cleaned_data.get("member") if choose.is_bound and choose.is_valid() else None
        )
        return {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": gettext("Sign a member up"),
            "step": step,
            "choose": choose,
            "member": member,
            "badge": status_badge(member) if member else "",
            "member_url": profile_url(member) if member else "",
            "back_url": profile_url(member) if member else "",
        }

    def _choose_page(self, request: HttpRequest, choose: ChooseForm) -> TemplateResponse:
        chosen = str(choose["plan"].value() or "")
        context = {
            **self._context(request, choose, CHOOSE),
            "offers": [
                {**plan_offer(plan), "checked": str(plan.pk) == chosen}
                for plan in Plan.objects.filter(is_active=True).order_by("price")
            ],
            "media": choose.media,
        }
        return TemplateResponse(request, SIGN_UP_TEMPLATE, context)

    def _sign_page(
        self, request: HttpRequest, choose: ChooseForm, sign: SignForm, quote: desk.SignUpQuote
    ) -> TemplateResponse:
        member: Member = choose.cleaned_data["member"]
        plan: Plan = choose.cleaned_data["plan"]
        language = member.language if member.language in ("en", "th") else "en"
        agreements = [
            {"title": version.title, "version": version.version, "body": version.body_for(language)}
            for version in desk.agreements_to_sign()
        ]
        key = str(sign["request_key"].value() or new_request_key())
        context = {
            **self._context(request, choose, SIGN),
            "form": sign,
            "offer": plan_offer(plan),
            "quote": quote,
            "quote_lines": [
                {
                    "label": line.label,
                    "period": _period(line.period_start, line.period_end),
                    "amount": format_amount(line.amount, quote.currency),
                }
                for line in quote.lines
            ],
            "quote_total": format_amount(quote.total, quote.currency),
            "next_charge": (
                {
                    "amount": format_amount(quote.next_charge.amount, quote.next_charge.currency),
                    "on": format_date(quote.next_charge.on, "short"),
                }
                if quote.next_charge
                else None
            ),
            "trial_ends_on": format_date(quote.trial_ends_on, "short")
            if quote.trial_ends_on
            else "",
            "agreements": agreements,
            "agreement_language": translation.get_language_info(language)["name_local"],
            "minor": member.is_minor,
            **card_form_context(member, key),
            "media": choose.media + sign.media,
        }
        return TemplateResponse(request, SIGN_UP_TEMPLATE, context)


def _period(start: Any, end: Any) -> str:
    if not start or not end:
        return ""
    last = end - dt.timedelta(days=1)
    return f"{format_date(start, 'short')} – {format_date(last, 'short')}"
