"""Stock movements and who may make them; the roles' permissions."""

from __future__ import annotations

import pytest

from pos.errors import ManagerNeeded, StockRefused
from pos.models import MovementKind, StockLevel, StockMovement
from pos.selectors import stock_levels
from pos.services.stock import stock_adjust, stock_count, stock_receive

pytestmark = pytest.mark.django_db


def test_front_desk_receives_stock_but_cannot_adjust_or_count(desk, location, make_product):
    product = make_product(stock=0)
    stock_receive(product, location, 24, user=desk, reason="Delivery")
    with pytest.raises(ManagerNeeded):
        stock_adjust(product, location, -1, user=desk, reason="Broken")
    with pytest.raises(ManagerNeeded):
        stock_count(product, location, 20, user=desk)
    assert StockLevel.objects.get(product=product).quantity == 24


def test_manager_adjusts_with_a_reason_and_counts(manager, location, make_product):
    product = make_product(stock=10)
    with pytest.raises(StockRefused):
        stock_adjust(product, location, -2, user=manager, reason="")
    with pytest.raises(StockRefused) as negative:
        stock_adjust(product, location, -11, user=manager, reason="Broken")
    assert negative.value.reason == "negative"
    stock_adjust(product, location, -2, user=manager, reason="Broken bottles")
    stock_count(product, location, 5, user=manager)
    kinds = list(
        StockMovement.objects.filter(product=product).order_by("pk").values_list("kind", "quantity")
    )
    assert kinds == [
        (MovementKind.RECEIVED, 10),
        (MovementKind.ADJUSTED, -2),
        (MovementKind.COUNTED, -3),
    ]
    assert StockLevel.objects.get(product=product).quantity == 5 == sum(q for _, q in kinds)


def test_stock_levels_flag_what_to_reorder(location, make_product):
    low = make_product(stock=2, reorder_level=5)
    fine = make_product(stock=20, reorder_level=5)
    rows = {row["product"]: row for row in stock_levels(location.pk)}
    assert rows[low.pk]["reorder"] is True and rows[fine.pk]["reorder"] is False


def test_roles(desk, manager):
    for perm in (
        "pos.add_sale",
        "pos.add_tillsession",
        "pos.change_tillsession",
        "pos.receive_stock",
    ):
        assert desk.has_perm(perm) and manager.has_perm(perm)
    for perm in (
        "pos.refund_sale",
        "pos.discount_sale",
        "pos.change_product",
        "pos.adjust_stock",
        "pos.approve_difference",
    ):
        assert not desk.has_perm(perm)
        assert manager.has_perm(perm)
