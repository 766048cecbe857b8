"""What a portal member may see of billing: their own invoices and their dependants'."""

from __future__ import annotations

from django.http import Http404, HttpRequest

from members.models import Member
from members.portal.access import portal_dependants

from ..models import Invoice, InvoiceStatus


def me(request: HttpRequest) -> Member:
    member: Member = request.member  # type: ignore[attr-defined]
    return member


def member_ids_in_reach(request: HttpRequest) -> list[int]:
    """The signed-in member and the dependants they manage."""
    return [me(request).pk, *(dependant.pk for dependant in portal_dependants(request))]


def visible_invoices(request: HttpRequest):  # type: ignore[no-untyped-def]
    """Issued invoices billed to the member or a dependant, newest first."""
    return (
        Invoice.objects.filter(member_id__in=member_ids_in_reach(request))
        .exclude(status=InvoiceStatus.DRAFT)
        .select_related("member")
        .order_by("-issued_at", "-pk")
    )


def invoice_in_reach(request: HttpRequest, invoice_id: int) -> Invoice:
    """One of :func:`visible_invoices`, or 404 (exactly as for an id that does not exist)."""
    invoice = visible_invoices(request).filter(pk=invoice_id).first()
    if invoice is None:
        raise Http404
    return invoice
