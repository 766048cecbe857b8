"""Refunds: a manager's, with a credit note; stock back; never more than was paid."""

from __future__ import annotations

import re
import uuid

import pytest

from billing.gateways import get_gateway
from billing.models import PackPurchase
from billing.services.invoices import account_balance
from pos.errors import ManagerNeeded, RefundRefused
from pos.models import LineKind, StockLevel, TenderKind
from pos.services.refunds import sale_refund
from pos.services.sales import LineIn, TenderIn, sale_submit
from tests.billing.factories import card
from tests.factories import MemberFactory

pytestmark = pytest.mark.django_db


def sell(till, user, lines, tenders, **extra):
    return sale_submit(
        till=till,
        user=user,
        idempotency_key=uuid.uuid4().hex,
        lines=lines,
        tenders=tenders,
        **extra,
    )


def test_front_desk_cannot_refund(till, desk, water):
    sale = sell(till, desk, [LineIn(product_id=water.pk)], [TenderIn(TenderKind.CASH, 2_000)])
    with pytest.raises(ManagerNeeded):
        sale_refund(sale, till=till, user=desk, reason="Warm")


def test_a_refund_is_a_credit_note_with_stock_back(till, desk, manager, water):
    sale = sell(
        till, desk, [LineIn(product_id=water.pk, quantity=3)], [TenderIn(TenderKind.CASH, 6_000)]
    )
    line = sale.lines.get()
    refund = sale_refund(sale, till=till, user=manager, reason="Warm", quantities={line.pk: 2})
    assert re.fullmatch(r"CN-\d{4}-\d{5}", refund.number)
    assert (refund.amount, refund.tax_amount) == (4_000, 262)
    assert StockLevel.objects.get(product=water).quantity == 9
    assert [(p.kind, p.amount) for p in refund.payouts.all()] == [("cash", 4_000)]


def test_refunds_never_exceed_what_was_paid(till, desk, manager, make_product):
    odd = make_product(price=3_333, stock=10, prices_include_tax=False)
    sale = sell(
        till, desk, [LineIn(product_id=odd.pk, quantity=3)], [TenderIn(TenderKind.CASH, 10_699)]
    )
    line = sale.lines.get()
    parts = [
        sale_refund(sale, till=till, user=manager, reason="r", quantities={line.pk: 1})
        for _ in range(3)
    ]
    assert sum(p.amount for p in parts) == sale.total == 10_699
    assert sum(p.tax_amount for p in parts) == sale.tax_total
    with pytest.raises(RefundRefused) as refused:
        sale_refund(sale, till=till, user=manager, reason="again", quantities={line.pk: 1})
    assert refused.value.reason in {"more_than_sold", "nothing"}
    with pytest.raises(RefundRefused):
        sale_refund(sale, till=till, user=manager, reason="again")


def test_a_whole_refund_cannot_be_repeated(till, desk, manager, water):
    sale = sell(
        till, desk, [LineIn(product_id=water.pk, quantity=2)], [TenderIn(TenderKind.CASH, 4_000)]
    )
    sale_refund(sale, till=till, user=manager, reason="Wrong item")
    with pytest.raises(RefundRefused):
        sale_refund(sale, till=till, user=manager, reason="Wrong item")
    line = sale.lines.get()
    with pytest.raises(RefundRefused):
        sale_refund(sale, till=till, user=manager, reason="x", quantities={line.pk: 5})


def test_card_money_goes_back_to_the_card(till, desk, manager, water):
    member = MemberFactory()
    method = card(member)
    sale = sell(
        till,
        desk,
        [LineIn(product_id=water.pk, quantity=2)],
        [TenderIn(TenderKind.CARD, 4_000)],
        member=member,
    )
    tender = sale.tenders.get()
    refund = sale_refund(sale, till=till, user=manager, reason="Changed mind")
    (payout,) = refund.payouts.all()
    assert payout.kind == TenderKind.CARD and payout.amount == 4_000
    assert get_gateway("sandbox").total_refunded(tender.reference) == 4_000
    assert get_gateway("sandbox").total_charged(method.token) == 4_000


def test_refund_as_account_credit_and_a_pack_emptied(till, desk, manager, day_pass):
    member = MemberFactory()
    sale = sell(
        till,
        desk,
        [LineIn(kind=LineKind.PACK, pack_id=day_pass.pk)],
        [TenderIn(TenderKind.CASH, 30_000)],
        member=member,
    )
    sale_refund(sale, till=till, user=manager, reason="Could not come", destination="account")
    assert account_balance(member, "THB") == -30_000
    assert PackPurchase.objects.get(member=member).remaining == 0
