"""Selling at the till: lines, tenders, idempotent submission, tax documents, numbers."""

from __future__ import annotations

import re
import uuid

import pytest
from django.core import mail
from django.core.exceptions import ValidationError

from billing.gateways import get_gateway
from billing.models import Invoice, LedgerEntry, Membership, PackPurchase, PromptPayRequest
from billing.services.invoices import account_balance
from billing.services.promptpay import promptpay_request_mark_paid
from members.models import GymProfile
from pos.barcodes import is_valid_barcode, validate_barcode
from pos.errors import ManagerNeeded, SaleRefused
from pos.models import (
    LineKind,
    MovementKind,
    Sale,
    SaleStatus,
    StockLevel,
    StockMovement,
    TaxDocument,
    TenderKind,
    TenderStatus,
)
from pos.services.receipts import receipt_context
from pos.services.sales import Buyer, LineIn, TenderIn, sale_submit
from tests.billing.factories import card, signed_up
from tests.concurrency import at_once
from tests.factories import MemberFactory

pytestmark = pytest.mark.django_db


def key() -> str:
    return uuid.uuid4().hex


def product_line(product, quantity=1, **extra) -> LineIn:
    return LineIn(kind=LineKind.PRODUCT, product_id=product.pk, quantity=quantity, **extra)


@pytest.mark.parametrize(
    ("code", "valid"),
    [
        ("8850999320014", True),  # EAN-13
        ("036000291452", True),  # UPC-A
        ("8850999320015", False),  # wrong check digit
        ("036000291453", False),
        ("12345", False),
        ("885099932001x", False),
    ],
)
def test_barcodes_are_checked(code, valid):
    assert is_valid_barcode(code) is valid
    if not valid:
        with pytest.raises(ValidationError):
            validate_barcode(code)


def test_three_scans_for_cash_with_change(till, desk, water, make_product):
    shake = make_product(price=9_000, stock=5, tax_rate_bp=700, prices_include_tax=False)
    sale = sale_submit(
        till=till,
        user=desk,
        idempotency_key=key(),
        lines=[product_line(water, 2), product_line(shake)],
        tenders=[TenderIn(TenderKind.CASH, amount=13_630, tendered=20_000)],
    )
    assert sale.status == SaleStatus.COMPLETED
    # Water ฿20 x2 tax included; shake ฿90 + 7% VAT = ฿96.30.
    assert (sale.total, sale.change_given) == (13_630, 6_370)
    assert sale.tax_total == 262 + 630  # 4000 incl. 7% -> 262 VAT; 9000 net -> 630 VAT
    assert sale.subtotal + sale.tax_total == sale.total
    assert re.fullmatch(r"INV-\d{4}-\d{5}", sale.number)
    assert StockLevel.objects.get(product=water).quantity == 8
    sold = StockMovement.objects.get(product=water, kind=MovementKind.SOLD)
    assert sold.quantity == -2 and sold.sale_line.sale == sale


def test_stock_level_is_the_sum_of_its_movements(till, desk, water):
    sale_submit(
        till=till,
        user=desk,
        idempotency_key=key(),
        lines=[product_line(water, 3)],
        tenders=[TenderIn(TenderKind.CASH, amount=6_000)],
    )
    movements = sum(StockMovement.objects.filter(product=water).values_list("quantity", flat=True))
    assert StockLevel.objects.get(product=water).quantity == movements == 7


@pytest.mark.django_db(transaction=True)
def test_two_tills_never_sell_the_last_item_twice(
    location, station, desk, make_product, make_staff
):
    from pos.models import Station
    from pos.services.tills import till_start_and_open

    last = make_product(price=5_000, stock=1)
    other = Station.objects.create(name="Bar", code="bar", location=location)
    tills = [
        till_start_and_open(station, count={}, user=desk),
        till_start_and_open(other, count={}, user=desk),
    ]
    turn = iter(tills)

    def sell():
        return sale_submit(
            till=next(turn),
            user=desk,
            idempotency_key=key(),
            lines=[product_line(last)],
            tenders=[TenderIn(TenderKind.CASH, amount=5_000)],
        ).status

    outcomes = at_once(sell, 2)
    assert sorted(outcomes) == ["completed", "out_of_stock"]
    assert StockLevel.objects.get(product=last).quantity == 0
    assert Sale.objects.filter(status=SaleStatus.COMPLETED).count() == 1


def test_a_product_may_allow_selling_below_zero(till, desk, make_product):
    towel = make_product(price=5_000, stock=0, allow_negative_stock=True)
    sale_submit(
        till=till,
        user=desk,
        idempotency_key=key(),
        lines=[product_line(towel, 2)],
        tenders=[TenderIn(TenderKind.CASH, amount=10_000)],
    )
    assert StockLevel.objects.get(product=towel).quantity == -2


def test_out_of_stock_sells_nothing(till, desk, water):
    with pytest.raises(SaleRefused) as refused:
        sale_submit(
            till=till,
            user=desk,
            idempotency_key=key(),
            lines=[product_line(water, 11)],
            tenders=[TenderIn(TenderKind.CASH, amount=22_000)],
        )
    assert refused.value.reason == "out_of_stock"
    assert not Sale.objects.exists()
    assert StockLevel.objects.get(product=water).quantity == 10


@pytest.mark.django_db(transaction=True)
def test_a_retried_card_sale_sells_once_and_charges_once(till, desk, water):
    member = MemberFactory()
    method = card(member)
    submission = {
        "till": till,
        "user": desk,
        "idempotency_key": key(),
        "member": member,
        "lines": [product_line(water, 2)],
        "tenders": [TenderIn(TenderKind.CARD, amount=4_000)],
    }
    # A double click: both submissions at the same moment, then a retry after a lost reply.
    outcomes = at_once(lambda: sale_submit(**submission).pk, 2)
    again = sale_submit(**submission)
    assert len(set(outcomes)) == 1 and again.pk == outcomes[0]
    assert Sale.objects.count() == 1
    assert again.status == SaleStatus.COMPLETED
    assert StockLevel.objects.get(product=water).quantity == 8
    assert get_gateway("sandbox").total_charged(method.token) == 4_000


def test_a_key_reused_for_another_sale_is_refused(till, desk, water):
    submitted = key()
    sale_submit(
        till=till,
        user=desk,
        idempotency_key=submitted,
        lines=[product_line(water)],
        tenders=[TenderIn(TenderKind.CASH, amount=2_000)],
    )
    with pytest.raises(SaleRefused) as refused:
        sale_submit(
            till=till,
            user=desk,
            idempotency_key=submitted,
            lines=[product_line(water, 2)],
            tenders=[TenderIn(TenderKind.CASH, amount=4_000)],
        )
    assert refused.value.reason == "idempotency_key_reused"
    assert Sale.objects.count() == 1


def test_a_declined_card_voids_the_sale_and_puts_stock_back(till, desk, water):
    member = MemberFactory()
    card(member, "tok_decline_insufficient_funds")
    sale = sale_submit(
        till=till,
        user=desk,
        idempotency_key=key(),
        member=member,
        lines=[product_line(water)],
        tenders=[TenderIn(TenderKind.CARD, amount=2_000)],
    )
    assert sale.status == SaleStatus.VOIDED and sale.number is None
    assert StockLevel.objects.get(product=water).quantity == 10


def test_split_tenders_cash_terminal_and_account(till, desk, water):
    member = MemberFactory()
    sale = sale_submit(
        till=till,
        user=desk,
        idempotency_key=key(),
        member=member,
        lines=[product_line(water, 3)],
        tenders=[
            TenderIn(TenderKind.TERMINAL, amount=2_000, reference="EDC-778812"),
            TenderIn(TenderKind.ACCOUNT, amount=2_000),
            TenderIn(TenderKind.CASH, amount=2_000, tendered=10_000),
        ],
    )
    assert sale.status == SaleStatus.COMPLETED and sale.change_given == 8_000
    assert account_balance(member, "THB") == 2_000  # owed, billed with the next invoice


def test_tenders_must_cover_the_total_and_only_cash_gives_change(till, desk, water):
    base = {"till": till, "user": desk, "lines": [product_line(water)]}
    with pytest.raises(SaleRefused) as short:
        sale_submit(**base, idempotency_key=key(), tenders=[TenderIn(TenderKind.CASH, 1_000)])
    assert short.value.reason == "tenders_short"
    with pytest.raises(SaleRefused) as over:
        sale_submit(
            **base,
            idempotency_key=key(),
            tenders=[TenderIn(TenderKind.TERMINAL, 3_000, reference="x1")],
        )
    assert over.value.reason == "tenders_over"
    with pytest.raises(SaleRefused) as cash_short:
        sale_submit(
            **base,
            idempotency_key=key(),
            tenders=[TenderIn(TenderKind.CASH, 2_000, tendered=1_000)],
        )
    assert cash_short.value.reason == "tenders_short"


def test_account_charges_are_refused_while_dunning_blocks_them(till, desk, water):
    membership = signed_up()
    Membership.objects.filter(pk=membership.pk).update(account_charges_blocked=True)
    with pytest.raises(SaleRefused) as refused:
        sale_submit(
            till=till,
            user=desk,
            idempotency_key=key(),
            member=membership.member,
            lines=[product_line(water)],
            tenders=[TenderIn(TenderKind.ACCOUNT, amount=2_000)],
        )
    assert refused.value.reason == "account_blocked"
    assert "blocked" in refused.value.message
    assert not LedgerEntry.objects.filter(member=membership.member, kind="charge").exists()
    # Cash is still fine.
    sale = sale_submit(
        till=till,
        user=desk,
        idempotency_key=key(),
        member=membership.member,
        lines=[product_line(water)],
        tenders=[TenderIn(TenderKind.CASH, amount=2_000)],
    )
    assert sale.status == SaleStatus.COMPLETED


def test_discounts_need_a_reason_and_a_manager_above_the_threshold(till, desk, manager, water):
    with pytest.raises(SaleRefused) as no_reason:
        sale_submit(
            till=till,
            user=desk,
            idempotency_key=key(),
            lines=[product_line(water, 5, discount=500)],
            tenders=[TenderIn(TenderKind.CASH, 9_500)],
        )
    assert no_reason.value.reason == "reason_required"
    small = sale_submit(
        till=till,
        user=desk,
        idempotency_key=key(),
        lines=[product_line(water, 5, discount=500, reason="Loyal member")],
        tenders=[TenderIn(TenderKind.CASH, 9_500)],
    )
    assert small.discount_total == 500 and small.total == 9_500
    big = {
        "till": till,
        "lines": [product_line(water, 1, discount=1_000, reason="Staff")],
        "tenders": [TenderIn(TenderKind.CASH, 1_000)],
    }
    with pytest.raises(ManagerNeeded):
        sale_submit(**big, user=desk, idempotency_key=key())
    approved = sale_submit(**big, user=manager, idempotency_key=key())
    assert approved.discount_approved_by == manager


def test_general_item_needs_a_reason(till, desk):
    with pytest.raises(SaleRefused):
        sale_submit(
            till=till,
            user=desk,
            idempotency_key=key(),
            lines=[LineIn(kind=LineKind.GENERAL, unit_price=15_000, description="Locker fee")],
            tenders=[TenderIn(TenderKind.CASH, 15_000)],
        )
    sale = sale_submit(
        till=till,
        user=desk,
        idempotency_key=key(),
        lines=[
            LineIn(
                kind=LineKind.GENERAL,
                unit_price=15_000,
                description="Locker fee",
                reason="Lost key",
            )
        ],
        tenders=[TenderIn(TenderKind.CASH, 15_000)],
    )
    assert sale.lines.get().reason == "Lost key"


def test_a_pack_sold_at_the_till_is_held_at_once(till, desk, day_pass):
    member = MemberFactory()
    sale = sale_submit(
        till=till,
        user=desk,
        idempotency_key=key(),
        member=member,
        lines=[LineIn(kind=LineKind.PACK, pack_id=day_pass.pk)],
        tenders=[TenderIn(TenderKind.CASH, 30_000)],
    )
    held = PackPurchase.objects.get(member=member)
    assert held.remaining == 1 and sale.lines.get().pack_purchase == held
    # The till's document is the tax invoice: billing issues no second one.
    assert not Invoice.objects.filter(member=member).exists()


def test_a_pack_needs_a_member(till, desk, day_pass):
    with pytest.raises(SaleRefused) as refused:
        sale_submit(
            till=till,
            user=desk,
            idempotency_key=key(),
            lines=[LineIn(kind=LineKind.PACK, pack_id=day_pass.pk)],
            tenders=[TenderIn(TenderKind.CASH, 30_000)],
        )
    assert refused.value.reason == "member_required"


def test_promptpay_tender_completes_when_paid(
    till, desk, water, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        sale = sale_submit(
            till=till,
            user=desk,
            idempotency_key=key(),
            lines=[product_line(water)],
            tenders=[TenderIn(TenderKind.PROMPTPAY, 2_000)],
        )
    assert sale.status == SaleStatus.PENDING and sale.number is None
    tender = sale.tenders.get()
    assert tender.promptpay_request.amount == 2_000 and tender.promptpay_request.qr_data
    with django_capture_on_commit_callbacks(execute=True):
        promptpay_request_mark_paid(tender.promptpay_request, amount=2_000)
    sale.refresh_from_db()
    assert sale.status == SaleStatus.COMPLETED and sale.number
    assert sale.tenders.get().status == TenderStatus.SUCCEEDED
    assert PromptPayRequest.objects.count() == 1


def test_deposit_and_account_statement(till, desk):
    from billing.selectors import account_statement

    member = MemberFactory()
    sale = sale_submit(
        till=till,
        user=desk,
        idempotency_key=key(),
        member=member,
        kind="deposit",
        deposit=50_000,
        tenders=[TenderIn(TenderKind.CASH, 50_000)],
    )
    assert sale.number.startswith("RC-") and sale.document == TaxDocument.RECEIPT
    assert account_balance(member, "THB") == -50_000  # credit
    (row,) = account_statement(member.pk, "THB")
    assert row["balance"] == -50_000 and row["entry"].kind == "deposit"


def test_tax_documents_carry_the_required_fields(till, desk, water, settings):
    settings.POS_SELLER_BRANCH = "สำนักงานใหญ่"
    GymProfile.objects.create(
        name="Lumpini Fitness",
        legal_name="Lumpini Fitness Co., Ltd.",
        tax_id="0105556012345",
        address="99 Rama IV Rd, Bangkok 10330",
    )
    member = MemberFactory(language="th", email="somchai@example.com")
    full = sale_submit(
        till=till,
        user=desk,
        idempotency_key=key(),
        member=member,
        lines=[product_line(water, 2)],
        tenders=[TenderIn(TenderKind.CASH, 4_000)],
        buyer=Buyer(
            name="Acme Co., Ltd.",
            address="1 Silom Rd, Bangkok",
            tax_id="0105551234567",
            branch="00001",
        ),
    )
    context = receipt_context(full)
    assert context["title_th"] == "ใบกำกับภาษี"
    assert context["seller"] == {
        "name": "Lumpini Fitness Co., Ltd.",
        "trading_name": "Lumpini Fitness",
        "address": "99 Rama IV Rd, Bangkok 10330",
        "tax_id": "0105556012345",
        "phone": "",
        "branch": "สำนักงานใหญ่",
    }
    assert (full.buyer_name, full.buyer_tax_id, full.buyer_branch) == (
        "Acme Co., Ltd.",
        "0105551234567",
        "00001",
    )
    assert full.number and full.completed_at
    (vat,) = context["vat"]
    assert (vat["rate_bp"], vat["net"], vat["tax"], vat["gross"]) == (700, 3_738, 262, 4_000)
    abbreviated = sale_submit(
        till=till,
        user=desk,
        idempotency_key=key(),
        lines=[product_line(water)],
        tenders=[TenderIn(TenderKind.CASH, 2_000)],
    )
    assert abbreviated.document == TaxDocument.ABBREVIATED
    assert receipt_context(abbreviated)["title_th"] == "ใบกำกับภาษีอย่างย่อ"


def test_receipt_email_in_the_members_language(
    till, desk, water, django_capture_on_commit_callbacks
):
    GymProfile.objects.create(name="Lumpini Fitness", tax_id="0105556012345")
    member = MemberFactory(language="th", email="somchai@example.com")
    mail.outbox = []
    with django_capture_on_commit_callbacks(execute=True):
        sale = sale_submit(
            till=till,
            user=desk,
            idempotency_key=key(),
            member=member,
            lines=[product_line(water, 2)],
            tenders=[TenderIn(TenderKind.CASH, 4_000)],
        )
    (email,) = mail.outbox
    assert email.subject.startswith("ใบกำกับภาษีอย่างย่อ " + sale.number)
    assert "ภาษีมูลค่าเพิ่ม 7% จากมูลค่า ฿37.38: ฿2.62" in email.body
    assert "฿40.00" in email.body


@pytest.mark.django_db(transaction=True)
def test_numbers_have_no_gaps_under_concurrency(location, desk, make_product):
    from pos.models import Station
    from pos.services.tills import till_start_and_open

    product = make_product(price=1_000, stock=100)
    tills = [
        till_start_and_open(
            Station.objects.create(name=f"Till {n}", code=f"t{n}", location=location),
            count={},
            user=desk,
        )
        for n in range(4)
    ]
    turn = iter(tills * 3)

    def sell():
        till = next(turn)
        return sale_submit(
            till=till,
            user=desk,
            idempotency_key=key(),
            lines=[product_line(product)],
            tenders=[TenderIn(TenderKind.CASH, 1_000)],
        ).number

    numbers = at_once(sell, 4) + at_once(sell, 4)
    # A billing invoice issued meanwhile shares the series.
    signed_up()
    invoice_numbers = list(Invoice.objects.exclude(number=None).values_list("number", flat=True))
    every = sorted(int(n.rsplit("-", 1)[1]) for n in numbers + invoice_numbers)
    assert every == list(range(1, len(every) + 1))
