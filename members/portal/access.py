"""Who the portal is showing: the signed-in member, and the dependants they manage.

Every portal view is wrapped in :func:`member_required` (or uses
:class:`MemberRequiredMixin`): it sends a visitor who is not signed in to the sign-in
page, answers 404 to anyone signed in who is not a member (staff included), and sets
``request.member``.  A view that takes a member's id in its URL resolves it with
:func:`member_in_reach`, which answers 404 for anyone but the member and their
dependants, so another member's id can never show anything.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.contrib.auth.views import redirect_to_login
from django.db.models import Q, QuerySet
from django.http import Http404, HttpRequest, HttpResponse
from django.urls import reverse
from django.utils.cache import add_never_cache_headers

from ..models import Member


class PortalRequest(HttpRequest):
    """A request inside the portal (for type checkers): ``member`` is set."""

    member: Member


def is_portal_user(user: Any) -> bool:
    """A login the portal accepts: active, not staff, and a member's."""
    return bool(
        user is not None
        and user.is_authenticated
        and user.is_active
        and not user.is_staff
        and not user.is_superuser
    )


def portal_member(user: Any) -> Member | None:
    """The member signed in as ``user``, or ``None`` (staff and strangers)."""
    if not is_portal_user(user):
        return None
    return Member.objects.select_related("household").filter(user=user).first()


def dependants_of(member: Member) -> QuerySet[Member]:
    """The members ``member`` manages: those in the household they pay for, and those
    they are the guardian of."""
    return (
        Member.objects.filter(Q(household__payer=member) | Q(guardian=member))
        .exclude(pk=member.pk)
        .order_by("first_name", "last_name", "pk")
    )


def portal_dependants(request: HttpRequest) -> list[Member]:
    """``request.member``'s dependants, read once per request."""
    cached = request.__dict__.get("_portal_dependants")
    if cached is None:
        cached = list(dependants_of(request.member))  # type: ignore[attr-defined]
        request.__dict__["_portal_dependants"] = cached
    return cached


def member_in_reach(request: HttpRequest, member_id: Any) -> Member:
    """The member ``member_id`` names if the signed-in member may see them (themselves or
    a dependant); otherwise 404, exactly as for an id that does not exist."""
    me: Member = request.member  # type: ignore[attr-defined]
    try:
        wanted = int(member_id)
    except (TypeError, ValueError):
        raise Http404 from None
    if wanted == me.pk:
        return me
    for dependant in portal_dependants(request):
        if dependant.pk == wanted:
            return dependant
    raise Http404


def _enter(request: HttpRequest) -> HttpResponse | None:
    """Sign-in redirect, 404, or ``None`` with ``request.member`` set."""
    if not request.user.is_authenticated:
        return redirect_to_login(request.get_full_path(), reverse("account_login"))
    member = portal_member(request.user)
    if member is None:
        raise Http404
    request.member = member  # type: ignore[attr-defined]
    return None


def member_required(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """A portal page: for the signed-in member only (see the module's docstring).

    Its answers are never cached: they are one member's own data."""

    @wraps(view)
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        response = _enter(request) or view(request, *args, **kwargs)
        add_never_cache_headers(response)
        return response

    return wrapped


class MemberRequiredMixin:
    """:func:`member_required` for class-based views (put it first among the bases)."""

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        response = _enter(request) or super().dispatch(request, *args, **kwargs)  # type: ignore[misc]
        add_never_cache_headers(response)
        return response
