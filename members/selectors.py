"""Reads of the members domain that other apps and views use."""

from __future__ import annotations

from django.db.models import Q, QuerySet

from . import hooks
from .models import Member, MemberNote
from .phones import try_normalize_phone


def member_search(term: str, queryset: QuerySet[Member] | None = None) -> QuerySet[Member]:
    """Find members by name, nickname, email, phone in any format, member number, or
    whatever the ``member_search_terms`` hooks add (card UIDs)."""
    qs = queryset if queryset is not None else Member.objects.all()
    term = (term or "").replace("\x00", "").strip()  # PostgreSQL text holds no NUL
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
    for extension in hooks.member_search_terms:
        extra = extension(term)
        if extra is not None:
            condition |= extra
    return qs.filter(condition)


def member_open_alerts(member: Member) -> list[str]:
    return list(
        MemberNote.objects.filter(member=member, is_alert=True, resolved_at__isnull=True)
        .order_by("-created_at")
        .values_list("body", flat=True)
    )
