"""Shared fixtures for the POS tests: a location with a station, staff in each role, an
open till, and products on the shelf."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from billing.gateways import get_gateway
from billing.models import Location, Pack
from pos.models import Category, Product, Station, TillSession
from pos.services.stock import stock_receive
from pos.services.tills import till_start_and_open

FLOAT = {"50000": 2, "10000": 5, "2000": 10, "1000": 10}  # ฿2,000.00


@pytest.fixture(autouse=True)
def _clean_bank() -> None:
    get_gateway("sandbox").reset()


@pytest.fixture
def location(db: None) -> Location:
    return Location.objects.create(name="Sukhumvit", time_zone="Asia/Bangkok")


@pytest.fixture
def station(location: Location) -> Station:
    return Station.objects.create(name="Front desk 1", code="desk-1", location=location)


@pytest.fixture
def desk(make_staff: Callable[..., Any]) -> Any:
    return make_staff("Front desk", "desk")


@pytest.fixture
def manager(make_staff: Callable[..., Any]) -> Any:
    return make_staff("Manager", "manager")


@pytest.fixture
def till(station: Station, desk: Any) -> TillSession:
    return till_start_and_open(station, count=FLOAT, user=desk)


@pytest.fixture
def drinks(db: None) -> Category:
    return Category.objects.create(name="Drinks", name_th="เครื่องดื่ม")


@pytest.fixture
def make_product(drinks: Category, location: Location, manager: Any) -> Callable[..., Product]:
    counter = iter(range(1, 10_000))

    def make(price: int = 2_000, stock: int = 10, **fields: Any) -> Product:
        n = next(counter)
        fields.setdefault("name", f"Water {n}")
        fields.setdefault("sku", f"sku-{n}")
        product = Product.objects.create(category=drinks, price=price, **fields)
        if stock and product.track_stock:
            stock_receive(product, location, stock, user=manager)
        return product

    return make


@pytest.fixture
def water(make_product: Callable[..., Product]) -> Product:
    return make_product(
        price=2_000, stock=10, name="Water", name_th="น้ำดื่ม", barcode="8850999320014"
    )


@pytest.fixture
def day_pass(db: None) -> Pack:
    return Pack.objects.create(
        code="day-pass", name="Day pass", kind="day_pass", quantity=1, valid_days=1, price=30_000
    )
