"""Tills: opening count, cash in and out, X and Z reports, closing with a manager."""

from __future__ import annotations

import uuid

import pytest

from pos.errors import ManagerNeeded, SaleRefused, TillNotOpen
from pos.models import (
    CashMovement,
    LineKind,
    Sale,
    TenderKind,
    TillSession,
    TillStatus,
)
from pos.selectors import till_report
from pos.services.refunds import sale_refund
from pos.services.sales import LineIn, TenderIn, sale_submit
from pos.services.tills import (
    cash_move,
    till_begin_close,
    till_close,
    till_open,
    till_start,
)
from tests.factories import MemberFactory

pytestmark = pytest.mark.django_db


def sell(till, user, lines, tenders, **extra) -> Sale:
    return sale_submit(
        till=till,
        user=user,
        idempotency_key=uuid.uuid4().hex,
        lines=lines,
        tenders=tenders,
        **extra,
    )


def test_a_till_opens_with_its_float_counted_by_denomination(station, desk):
    till = till_start(station, user=desk)
    assert till.status == TillStatus.OPENING
    with pytest.raises(SaleRefused):
        till_open(till, count={"300": 1}, user=desk)  # no ฿3 coin
    with pytest.raises(SaleRefused):
        till_open(till, count={"100000": -1}, user=desk)
    opened = till_open(till, count={"100000": 1, "2000": 5, "25": 4}, user=desk)
    assert opened.status == TillStatus.OPEN and opened.opening_float == 111_000 - 1_000 + 100
    with pytest.raises(TillNotOpen) as twice:
        till_start(station, user=desk)
    assert twice.value.reason == "already_open"


def test_cash_in_and_out_need_a_reason(till, desk):
    with pytest.raises(SaleRefused):
        cash_move(till, kind="out", amount=5_000, reason=" ", user=desk)
    cash_move(till, kind="out", amount=5_000, reason="Ice from 7-Eleven", user=desk)
    cash_move(till, kind="in", amount=1_000, reason="Change from the safe", user=desk)
    report = till_report(till)
    assert (report["cash"]["cash_out"], report["cash"]["cash_in"]) == (5_000, 1_000)


def test_z_totals_equal_the_tenders_to_the_satang(
    till, desk, manager, water, make_product, day_pass
):
    shake = make_product(price=8_990, stock=20, prices_include_tax=False, name="Shake")
    member = MemberFactory()
    sales = [
        sell(
            till,
            desk,
            [LineIn(product_id=water.pk, quantity=3), LineIn(product_id=shake.pk)],
            [TenderIn(TenderKind.CASH, 15_619, tendered=20_000)],
        ),
        sell(
            till,
            desk,
            [LineIn(product_id=shake.pk, quantity=2, discount=333, reason="Promo")],
            [
                TenderIn(TenderKind.TERMINAL, 10_000, reference="EDC-1"),
                TenderIn(TenderKind.CASH, 8_882),
            ],
        ),
        sell(
            till,
            desk,
            [LineIn(kind=LineKind.PACK, pack_id=day_pass.pk)],
            [TenderIn(TenderKind.ACCOUNT, 30_000)],
            member=member,
        ),
    ]
    sale_refund(
        sales[0],
        till=till,
        user=manager,
        reason="Warm",
        quantities={sales[0].lines.get(product=water).pk: 1},
    )
    cash_move(till, kind="out", amount=2_500, reason="Cleaner", user=desk)
    x = till_report(till)
    tendered = sum(t["amount"] for t in x["tenders"].values())
    assert tendered == sum(s.total for s in sales) == x["sales"]["total"]
    assert x["sales"]["net"] + x["sales"]["tax"] == x["sales"]["total"]
    assert sum(r["gross"] for r in x["tax_rates"]) == x["sales"]["total"]
    assert sum(c["amount"] for c in x["categories"]) == x["sales"]["total"]
    assert x["sales"]["discounts"] == 333
    assert x["refunds"] == {"count": 1, "amount": 2_000, "tax": 131, "paid_back": {"cash": 2_000}}
    cash = x["cash"]
    assert cash["expected"] == till.opening_float + 15_619 + 8_882 - 2_500 - 2_000

    till_begin_close(till, user=desk)
    closed = till_close(till, count={"100000": 2, "10000": 2}, user=manager)
    z = closed.z_report
    assert closed.status == TillStatus.CLOSED and closed.z_number == 1
    assert z["tenders"] == x["tenders"] and z["sales"]["total"] == x["sales"]["total"]
    assert z["cash"]["counted"] == 220_000
    assert z["cash"]["difference"] == 220_000 - cash["expected"] == closed.difference


def test_a_difference_over_the_allowed_amount_needs_a_manager(till, desk, manager, station):
    station.max_difference = 10_000
    station.save()
    till_begin_close(till, user=desk)
    short = {"50000": 2, "10000": 5, "2000": 10}  # ฿100 short of the ฿1,800 float
    with pytest.raises(ManagerNeeded) as refused:
        till_close(till, count={"50000": 2, "10000": 4}, user=desk)  # ฿400 short
    assert refused.value.reason == "difference"
    within = till_close(till, count=short, user=desk)  # ฿100: within what is allowed
    assert within.status == TillStatus.CLOSED and within.difference == -10_000
    assert within.difference_approved_by is None


def test_a_manager_approves_a_large_difference(till, desk, manager):
    till_begin_close(till, user=desk)
    closed = till_close(till, count={}, user=desk, approver=manager)
    assert closed.difference == -till.opening_float
    assert closed.difference_approved_by == manager and closed.closed_by == desk


def test_a_closed_till_cannot_change(till, desk, manager, water):
    sale = sell(till, desk, [LineIn(product_id=water.pk)], [TenderIn(TenderKind.CASH, 2_000)])
    till_begin_close(till, user=desk)
    with pytest.raises(TillNotOpen):
        sell(till, desk, [LineIn(product_id=water.pk)], [TenderIn(TenderKind.CASH, 2_000)])
    closed = till_close(till, count={"50000": 2, "10000": 5, "2000": 11}, user=desk)
    frozen = dict(closed.z_report)
    attempts = [
        lambda: sell(till, desk, [LineIn(product_id=water.pk)], [TenderIn(TenderKind.CASH, 2_000)]),
        lambda: cash_move(till, kind="in", amount=100, reason="late", user=desk),
        lambda: till_begin_close(till, user=desk),
        lambda: till_close(till, count={}, user=manager),
        lambda: till_open(till, count={}, user=desk),
        lambda: sale_refund(sale, till=till, user=manager, reason="late"),
    ]
    for attempt in attempts:
        with pytest.raises(TillNotOpen) as refused:
            attempt()
        assert refused.value.reason == "closed"
    closed.refresh_from_db()
    assert closed.z_report == frozen and closed.status == TillStatus.CLOSED
    assert not CashMovement.objects.filter(till=till).exists()
    assert Sale.objects.filter(till=till).count() == 1


def test_z_numbers_follow_on_per_station(station, desk):
    from pos.services.tills import till_start_and_open

    numbers = []
    for _ in range(3):
        till = till_start_and_open(station, count={}, user=desk)
        till_begin_close(till, user=desk)
        numbers.append(till_close(till, count={}, user=desk).z_number)
    assert numbers == [1, 2, 3]
    assert TillSession.objects.filter(station=station, status=TillStatus.CLOSED).count() == 3


def test_pending_sales_hold_the_close(till, desk, water, django_capture_on_commit_callbacks):
    from pos.services.sales import sale_void

    with django_capture_on_commit_callbacks(execute=True):
        pending = sell(
            till, desk, [LineIn(product_id=water.pk)], [TenderIn(TenderKind.PROMPTPAY, 2_000)]
        )
    with pytest.raises(TillNotOpen) as refused:
        till_begin_close(till, user=desk)
    assert refused.value.reason == "pending_sales"
    sale_void(pending, reason="Member left", user=desk)
    till_begin_close(till, user=desk)
    assert till_report(till)["voids"] == {"count": 1, "total": 2_000}


def test_report_query_count_does_not_grow_with_sales(
    till, desk, water, django_assert_max_num_queries
):
    for _ in range(5):
        sell(till, desk, [LineIn(product_id=water.pk)], [TenderIn(TenderKind.CASH, 2_000)])
    with django_assert_max_num_queries(12):
        till_report(till)
