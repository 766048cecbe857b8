"""Invoices and receipts: the history, each invoice on screen and as its PDF tax invoice.

A fixed number of queries per page, however long the history (paginated)."""

from __future__ import annotations

from django.core.paginator import Paginator
from django.db.models import F, Sum
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from members.portal.access import member_required

from ..documents.tax_invoice import tax_invoice_response
from ..models import InvoiceStatus
from .scope import invoice_in_reach, me, visible_invoices

PER_PAGE = 24
SECTION = "billing"


@member_required
def invoice_list(request: HttpRequest) -> HttpResponse:
    request.portal_section = SECTION  # type: ignore[attr-defined]
    invoices = visible_invoices(request)
    page = Paginator(invoices, PER_PAGE).get_page(request.GET.get("page"))
    owed = (
        invoices.filter(status=InvoiceStatus.OPEN, member=me(request))
        .values("currency")
        .annotate(due=Sum(F("total") - F("amount_paid") - F("amount_credited")))
        .order_by("currency")
    )
    return render(
        request,
        "billing/portal/invoices.html",
        {"page": page, "owed": [row for row in owed if row["due"] > 0]},
    )


@member_required
def invoice_detail(request: HttpRequest, invoice_id: int) -> HttpResponse:
    request.portal_section = SECTION  # type: ignore[attr-defined]
    invoice = invoice_in_reach(request, invoice_id)
    return render(
        request,
        "billing/portal/invoice.html",
        {
            "invoice": invoice,
            "lines": list(invoice.lines.all()),
            "payments": list(invoice.payments.order_by("received_at", "pk")),
            "credit_notes": list(invoice.credit_notes.order_by("issued_at", "pk")),
            "payable": invoice.status == InvoiceStatus.OPEN
            and invoice.amount_due > 0
            and invoice.member_id == me(request).pk,
        },
    )


@member_required
def invoice_pdf(request: HttpRequest, invoice_id: int) -> HttpResponse:
    """The invoice's PDF tax invoice (ใบกำกับภาษี / Tax Invoice), as a download."""
    return tax_invoice_response(invoice_in_reach(request, invoice_id))
