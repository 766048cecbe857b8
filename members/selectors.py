"""Reads of the members domain that other apps and views use."""

from __future__ import annotations

import datetime as dt

from django.db.models import Case, IntegerField, Q, QuerySet, Value, When

from . import hooks
from .models import Member, MemberNote, StaffSettings
from .phones import try_normalize_phone

# How well a member matched a search (``search_rank``): smaller ranks list first.
RANK_NUMBER, RANK_EXACT, RANK_NAME, RANK_OTHER = 0, 1, 2, 9


def _clean(term: str) -> str:
    return (term or "").replace("\x00", "").strip()  # PostgreSQL text holds no NUL


def _hook_terms(term: str) -> list[Q]:
    return [extra for extension in hooks.member_search_terms if (extra := extension(term))]


def member_search(term: str, queryset: QuerySet[Member] | None = None) -> QuerySet[Member]:
    """Find members by name, nickname, email, phone in any format, member number, or
    whatever the ``member_search_terms`` hooks add (card UIDs)."""
    qs = queryset if queryset is not None else Member.objects.all()
    term = _clean(term)
    if not term:
        return qs
    condition = Q()
    for word in term.split():
        condition &= (
            Q(first_name__icontains=word)
            | Q(last_name__icontains=word)
            | Q(nickname__icontains=word)
            | Q(email__icontains=word)
        )
    if term.isdigit() and len(term) <= 9:
        condition |= Q(member_number=int(term))
    if term.isdigit():
        condition |= Q(phone__contains=term)
    phone = try_normalize_phone(term)
    if phone:
        condition |= Q(phone=phone) | Q(emergency_contact_phone=phone)
    for extra in _hook_terms(term):
        condition |= extra
    return qs.filter(condition)


def member_search_ranked(term: str, queryset: QuerySet[Member] | None = None) -> QuerySet[Member]:
    """:func:`member_search`, annotated with ``search_rank``: the member whose number is
    exactly the term first (searching "1002" finds member 1002 before #1202 or a phone
    number containing it), then exact phone, card or full-name matches, then the rest."""
    found = member_search(term, queryset)
    term = _clean(term)
    if not term:
        return found.annotate(search_rank=Value(RANK_OTHER, output_field=IntegerField()))
    whens = []
    if term.isdigit() and len(term) <= 9:
        whens.append(When(member_number=int(term), then=Value(RANK_NUMBER)))
    phone = try_normalize_phone(term)
    if phone:
        whens.append(When(phone=phone, then=Value(RANK_EXACT)))
    whens += [When(extra, then=Value(RANK_EXACT)) for extra in _hook_terms(term)]
    words = term.split()
    if len(words) == 2:
        first, last = words
        whens.append(When(first_name__iexact=first, last_name__iexact=last, then=Value(RANK_NAME)))
    whens.append(When(Q(first_name__iexact=term) | Q(nickname__iexact=term), then=RANK_NAME))
    rank = Case(*whens, default=Value(RANK_OTHER), output_field=IntegerField())
    return found.annotate(search_rank=rank)


def member_open_alerts(member: Member) -> list[str]:
    return list(
        MemberNote.objects.filter(member=member, is_alert=True, resolved_at__isnull=True)
        .order_by("-created_at")
        .values_list("body", flat=True)
    )


def member_open_alert_notes(member: Member) -> list[MemberNote]:
    """The member's unresolved alerts, newest first, with who wrote them."""
    return list(
        MemberNote.objects.filter(member=member, is_alert=True, resolved_at__isnull=True)
        .select_related("author")
        .order_by("-created_at", "-pk")
    )


def members_alerts(member_ids: set[int]) -> dict[int, list[str]]:
    """Each member's open alerts, newest first, in one query (for lists and feeds)."""
    found: dict[int, list[str]] = {}
    if not member_ids:
        return found
    rows = (
        MemberNote.objects.filter(member_id__in=member_ids, is_alert=True, resolved_at__isnull=True)
        .order_by("-created_at", "-pk")
        .values_list("member_id", "body")
    )
    for member_id, body in rows:
        found.setdefault(member_id, []).append(body)
    return found


def members_with_birthday(day: dt.date, limit: int = 20) -> list[Member]:
    """Members born on ``day``'s month and day (29 February counts on 28 February in
    other years), excluding those who have left, youngest last."""
    days = [day.day]
    if (day.month, day.day) == (2, 28) and not _leap(day.year):
        days.append(29)
    return list(
        Member.objects.filter(date_of_birth__month=day.month, date_of_birth__day__in=days)
        .exclude(status__in=["cancelled", "ended"])
        .order_by("date_of_birth", "member_number")[:limit]
    )


def _leap(year: int) -> bool:
    return year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)


def staff_language(user_id: int) -> str:
    """The language a staff member chose to work in ("" if they never chose)."""
    return (
        StaffSettings.objects.filter(user_id=user_id).values_list("language", flat=True).first()
        or ""
    )
