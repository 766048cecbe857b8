"""The PDF tax invoice: Thai rules, read back out of the PDF as text."""

from __future__ import annotations

import io
import re
import unicodedata

import pytest
from pypdf import PdfReader

from billing.documents.tax_invoice import (
    TaxInvoiceNotAvailable,
    tax_invoice_filename,
    tax_invoice_pdf,
)
from billing.models import Invoice, InvoiceStatus, LineKind
from billing.services import invoices as inv
from members.models import GymProfile
from tests.factories import MemberFactory

pytestmark = pytest.mark.django_db

SELLER_TAX_ID = "0105561234567"


@pytest.fixture(autouse=True)
def _gym():
    GymProfile.objects.create(
        name="Demo Gym",
        legal_name="บริษัท เดโม ยิม จำกัด",
        tax_id=SELLER_TAX_ID,
        address="99 ถนนสุขุมวิท แขวงคลองเตย กรุงเทพมหานคร 10110",
    )


def text_of(pdf: bytes) -> str:
    """The PDF's text as a reader copies it: NFKC (the PDF gives "ำ" as "ํา") and without
    white space (Thai breaks lines inside words)."""
    reader = PdfReader(io.BytesIO(pdf))
    text = "".join(page.extract_text() for page in reader.pages)
    return re.sub(r"\s+", "", unicodedata.normalize("NFKC", text))


def said(phrase: str) -> str:
    return re.sub(r"\s+", "", unicodedata.normalize("NFKC", phrase))


def issued(member=None, *, specs=None) -> Invoice:
    member = member or MemberFactory(first_name="สมชาย", last_name="ใจดี")
    invoice = inv.invoice_create(
        member=member,
        currency="THB",
        reason="manual",
        specs=specs or [inv.LineSpec(LineKind.OTHER, "Personal training", 85_600, 700, True)],
    )
    return Invoice.objects.select_related("member").get(pk=invoice.pk)


def test_an_issued_invoice_is_a_full_thai_tax_invoice():
    invoice = issued()
    pdf = tax_invoice_pdf(invoice)
    assert pdf.startswith(b"%PDF-")
    text = text_of(pdf)
    for phrase in [
        "ใบกำกับภาษี / Tax Invoice",
        "บริษัท เดโม ยิม จำกัด",
        "99 ถนนสุขุมวิท แขวงคลองเตย กรุงเทพมหานคร 10110",
        f"เลขประจำตัวผู้เสียภาษี / Tax ID: {SELLER_TAX_ID}",
        "สาขา / Branch: สำนักงานใหญ่ / Head office",
        "ผู้ซื้อ / Buyer",
        "สมชาย ใจดี",
        f"เลขที่ / No.: {invoice.number}",
        "Personal training",
        # ฿856.00 with 7% VAT inside: ฿800.00 before VAT and ฿56.00 of VAT, apart.
        "มูลค่าสินค้า/บริการก่อนภาษี / Amount before VAT ฿800.00",
        "ภาษีมูลค่าเพิ่ม / VAT 7%",
        "฿56.00",
        "จำนวนเงินรวมทั้งสิ้น / Total ฿856.00",
        "แปดร้อยห้าสิบหกบาทถ้วน",
        "ใบแจ้งหนี้ / Invoice",
    ]:
        assert said(phrase) in text, phrase
    assert said("ใบเสร็จรับเงิน") not in text


def test_the_date_is_the_gyms_day_with_the_buddhist_year_in_thai(settings):
    invoice = issued()
    invoice.issued_at = invoice.issued_at.replace(year=2026, month=12, day=31, hour=18)
    invoice.save(update_fields=["issued_at"])  # 18:00 UTC is 1 January in Bangkok
    text = text_of(tax_invoice_pdf(invoice))
    assert said("วันที่ / Date: 1 มกราคม 2570 / 1 January 2027") in text


def test_the_buyers_address_is_shown_when_they_gave_one():
    member = MemberFactory(
        first_name="Anna",
        last_name="Smith",
        address_line1="12/3 ซอยอารีย์",
        city="พญาไท",
        province="กรุงเทพมหานคร",
        postal_code="10400",
    )
    text = text_of(tax_invoice_pdf(issued(member)))
    assert said("Anna Smith") in text
    assert said("12/3 ซอยอารีย์ พญาไท กรุงเทพมหานคร 10400") in text


def test_without_a_buyer_tax_id_no_tax_id_or_branch_is_printed_for_the_buyer():
    text = text_of(tax_invoice_pdf(issued()))
    assert text.count(said("เลขประจำตัวผู้เสียภาษี")) == 1  # the seller's only


def test_a_paid_invoice_is_also_the_receipt_with_satang_in_words():
    invoice = issued(specs=[inv.LineSpec(LineKind.OTHER, "Shake", 8_025, 700, True)])
    inv.payment_record(invoice, amount=8_025, source="cash")
    invoice = Invoice.objects.select_related("member").get(pk=invoice.pk)
    assert invoice.status == InvoiceStatus.PAID
    text = text_of(tax_invoice_pdf(invoice))
    assert said("ใบเสร็จรับเงิน / Receipt") in text
    assert said("แปดสิบบาทยี่สิบห้าสตางค์") in text
    assert said("ยอดค้างชำระ") not in text


def test_vat_is_shown_per_rate_when_lines_differ():
    invoice = issued(
        specs=[
            inv.LineSpec(LineKind.OTHER, "Membership", 107_000, 700, True),
            inv.LineSpec(LineKind.OTHER, "Exempt class", 50_000, 0, True),
        ]
    )
    text = text_of(tax_invoice_pdf(invoice))
    assert said("VAT 0% (ฐาน / on ฿500.00) ฿0.00") in text
    assert said("VAT 7% (ฐาน / on ฿1,000.00) ฿70.00") in text
    assert said("หนึ่งพันห้าร้อยเจ็ดสิบบาทถ้วน") in text


def test_a_void_invoice_says_so():
    invoice = issued()
    inv.invoice_void(invoice)
    invoice = Invoice.objects.select_related("member").get(pk=invoice.pk)
    assert said("ยกเลิก / VOID") in text_of(tax_invoice_pdf(invoice))


def test_a_draft_has_no_tax_invoice():
    invoice = issued()
    Invoice.objects.filter(pk=invoice.pk).update(status="draft")
    invoice.refresh_from_db()
    with pytest.raises(TaxInvoiceNotAvailable):
        tax_invoice_pdf(invoice)


def test_the_file_is_named_by_the_number():
    invoice = issued()
    assert tax_invoice_filename(invoice) == f"tax-invoice-{invoice.number}.pdf"


def test_the_desk_downloads_an_invoices_tax_invoice_from_its_page(make_staff):
    from django.test import Client

    from members import roles

    invoice = issued()
    desk = Client()
    desk.force_login(make_staff(roles.FRONT_DESK))
    page = desk.get(f"/admin/billing/invoice/{invoice.pk}/change/")
    url = f"/admin/billing/invoice/{invoice.pk}/tax-invoice/"
    assert url in page.content.decode()
    response = desk.get(url)
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert f"tax-invoice-{invoice.number}.pdf" in response["Content-Disposition"]
    assert said("ใบกำกับภาษี") in text_of(response.content)
    assert desk.get("/admin/billing/invoice/999999/tax-invoice/").status_code == 404
    assert Client().get(url).status_code == 302  # to the sign-in page


def test_a_buyers_tax_details_for_invoices_name_them_with_tax_id_and_branch():
    member = MemberFactory(
        first_name="Anna",
        last_name="Smith",
        tax_name="บริษัท สมิธ เทรดดิ้ง จำกัด",
        tax_address="1 ถนนสีลม บางรัก กรุงเทพมหานคร 10500",
        tax_id="0105550000011",
        tax_branch="00002",
    )
    text = text_of(tax_invoice_pdf(issued(member)))
    assert said("บริษัท สมิธ เทรดดิ้ง จำกัด") in text
    assert said("1 ถนนสีลม บางรัก กรุงเทพมหานคร 10500") in text
    assert said("เลขประจำตัวผู้เสียภาษี / Tax ID: 0105550000011") in text
    assert said("สาขา / Branch: 00002") in text
