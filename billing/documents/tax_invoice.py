"""The PDF tax invoice (ใบกำกับภาษี / Tax Invoice) of an issued invoice.

A full tax invoice under Thai rules (``shared/reference/thailand.md``) shows:
- "ใบกำกับภาษี" prominently;
- the seller's name, address, 13-digit tax ID and branch ("สำนักงานใหญ่", or a 5-digit
  branch number: ``POS_SELLER_BRANCH``, the gym's one setting for its branch);
- the buyer's name, and their address and tax ID (with branch) when they gave them;
- the invoice's sequential number and its date of issue;
- each line with quantity and value, VAT shown apart from the price, by rate;
- the total in Thai words.

The invoice's number is the tax invoice's: billing numbers invoices in one sequence
when it issues them, so the tax point is the date of issue.  A paid invoice is also the
receipt (ใบเสร็จรับเงิน), an unpaid one the bill (ใบแจ้งหนี้); a void one says so across
the page.  The document is bilingual, Thai first, whatever the reader's language.

Reads only: it never changes the invoice.  Drafts have no tax invoice.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.http import HttpResponse
from django.template.loader import render_to_string
from django.utils import timezone, translation

from config import dates
from members.models import GymProfile, Member

from ..models import Invoice, InvoiceBuyer, InvoiceStatus
from ..money import format_amount, format_rate
from .pdf import FAMILY, html_to_pdf
from .thai_words import baht_text

TEMPLATE = "billing/documents/tax_invoice.html"


class TaxInvoiceNotAvailable(Exception):
    """A draft invoice has no tax invoice (it has no number yet)."""


@dataclass(frozen=True)
class Party:
    """A seller or buyer as the tax invoice names them."""

    name: str
    address: str = ""
    tax_id: str = ""
    branch: str = ""


@dataclass(frozen=True)
class VatRow:
    rate: str
    net: str
    vat: str


def seller(invoice: Invoice) -> Party:
    """The gym, with the tax ID frozen on the invoice when it was issued."""
    gym = GymProfile.objects.first()
    return Party(
        name=(gym.legal_name or gym.name) if gym else "",
        address=gym.address if gym else "",
        tax_id=invoice.seller_tax_id or (gym.tax_id if gym else ""),
        branch=str(settings.POS_SELLER_BRANCH or ""),
    )


def member_postal_address(member: Member) -> str:
    parts = [
        member.address_line1,
        member.address_line2,
        member.city,
        member.province,
        member.postal_code,
    ]
    return " ".join(part.strip() for part in parts if part and part.strip())


def buyer(member: Member) -> Party:
    """The member who pays the invoice, with the tax details they gave for invoices (a
    company's name, address, tax ID and branch) in place of their own where set."""
    return Party(
        name=member.tax_name or member.full_name,
        address=member.tax_address or member_postal_address(member),
        tax_id=member.tax_id,
        branch=(member.tax_branch or "สำนักงานใหญ่") if member.tax_id else "",
    )


def invoice_buyer(invoice: Invoice) -> Party:
    """The buyer this invoice names: as frozen when the member's data was erased (kept
    unchanged for the retention period), else as the member's details say."""
    frozen = InvoiceBuyer.objects.filter(invoice_id=invoice.pk).first()
    if frozen is not None:
        return Party(
            name=frozen.name, address=frozen.address, tax_id=frozen.tax_id, branch=frozen.branch
        )
    return buyer(invoice.member)


def _both_dates(value: dt.date | dt.datetime | None) -> tuple[str, str]:
    """The date in Thai (Buddhist year where the gym uses it) and in English."""
    if value is None:
        return "", ""
    with timezone.override(settings.GYM_TIME_ZONE):
        with translation.override("th"):
            thai = dates.format_date(value)
        with translation.override("en"):
            english = dates.format_date(value)
    return thai, english


def _titles(invoice: Invoice) -> tuple[str, str]:
    if invoice.status == InvoiceStatus.PAID:
        return "ใบเสร็จรับเงิน", "Receipt"
    return "ใบแจ้งหนี้", "Invoice"


def _vat_rows(invoice: Invoice, lines: list[Any]) -> list[VatRow]:
    by_rate: dict[int, list[int]] = {}
    for line in lines:
        row = by_rate.setdefault(line.tax_rate_bp, [0, 0])
        row[0] += line.net_amount
        row[1] += line.tax_amount
    money = invoice.currency
    return [
        VatRow(format_rate(rate), format_amount(net, money), format_amount(vat, money))
        for rate, (net, vat) in sorted(by_rate.items())
    ]


def tax_invoice_context(invoice: Invoice) -> dict[str, Any]:
    """What the document shows (also the page that shows it on screen)."""
    if invoice.status == InvoiceStatus.DRAFT or not invoice.number:
        raise TaxInvoiceNotAvailable
    lines = list(invoice.lines.all())
    money = invoice.currency
    subtitle_th, subtitle_en = _titles(invoice)
    issued_th, issued_en = _both_dates(invoice.issued_at)
    paid_th, paid_en = _both_dates(invoice.paid_at)
    due_th, due_en = _both_dates(invoice.due_on)
    period_th = period_en = ""
    if invoice.period_start and invoice.period_end:
        starts, ends = _both_dates(invoice.period_start), _both_dates(invoice.period_end)
        period_th, period_en = f"{starts[0]} – {ends[0]}", f"{starts[1]} – {ends[1]}"
    return {
        "invoice": invoice,
        "font_family": FAMILY,
        "subtitle_th": subtitle_th,
        "subtitle_en": subtitle_en,
        "void": invoice.status == InvoiceStatus.VOID,
        "paid": invoice.status == InvoiceStatus.PAID,
        "seller": seller(invoice),
        "buyer": invoice_buyer(invoice),
        "issued_th": issued_th,
        "issued_en": issued_en,
        "paid_th": paid_th,
        "paid_en": paid_en,
        "due_th": due_th,
        "due_en": due_en,
        "period_th": period_th,
        "period_en": period_en,
        "lines": [
            {
                "description": line.description,
                "quantity": line.quantity,
                "unit": format_amount(line.unit_amount, money),
                "amount": format_amount(line.amount, money),
            }
            for line in lines
        ],
        "vat_rows": _vat_rows(invoice, lines),
        "subtotal": format_amount(invoice.subtotal, money),
        "vat_total": format_amount(invoice.tax_total, money),
        "total": format_amount(invoice.total, money),
        "credited": format_amount(invoice.amount_credited, money)
        if invoice.amount_credited
        else "",
        "paid_amount": format_amount(invoice.amount_paid, money),
        "due": format_amount(invoice.amount_due, money),
        "total_words": baht_text(invoice.total) if money.upper() == "THB" else "",
    }


def tax_invoice_filename(invoice: Invoice) -> str:
    return f"tax-invoice-{invoice.number}.pdf"


def tax_invoice_pdf(invoice: Invoice) -> bytes:
    """The invoice's tax invoice as PDF bytes (:class:`TaxInvoiceNotAvailable` for a
    draft).  ``invoice`` should come with its member (``select_related``)."""
    context = tax_invoice_context(invoice)
    return html_to_pdf(render_to_string(TEMPLATE, context))


def tax_invoice_response(invoice: Invoice) -> HttpResponse:
    """The tax invoice as a download (the desk's and the portal's)."""
    response = HttpResponse(tax_invoice_pdf(invoice), content_type="application/pdf")
    response["Content-Disposition"] = f'attachment; filename="{tax_invoice_filename(invoice)}"'
    return response
