"""Demo POS: products on the shelf (water, a protein shake, towel rental, Muay Thai gloves),
a station at the gym, yesterday's till closed with its Z report, and this morning's till
open with its sales.  Made through the POS services on the gym's clock; idempotent (a
second run finds the station's tills and leaves them)."""

from __future__ import annotations

import datetime as dt
import uuid

from django.contrib.auth import get_user_model

from billing.models import Location, Pack
from config import clock
from members.demo import SeedContext
from members.models import Member

from .models import Category, LineKind, Product, Station, TenderKind, TillSession
from .services.refunds import sale_refund
from .services.sales import LineIn, TenderIn, sale_submit
from .services.stock import stock_receive
from .services.tills import cash_move, till_begin_close, till_close, till_start_and_open

CATEGORIES = [("Drinks", "เครื่องดื่ม"), ("Rentals", "เช่า"), ("Gear", "อุปกรณ์")]
PRODUCTS = [
    # sku, name, name_th, category, price, barcode, track stock, stock
    (
        "water-600",
        "Drinking water 600 ml",
        "น้ำดื่ม 600 มล.",
        "Drinks",
        2_000,
        "8850999320014",
        True,
        96,
    ),
    ("shake-whey", "Protein shake", "โปรตีนเชค", "Drinks", 9_000, "8851234567898", True, 40),
    ("towel-rental", "Towel rental", "เช่าผ้าขนหนู", "Rentals", 3_000, "", False, 0),
    (
        "gloves-12oz",
        "Muay Thai gloves 12 oz",
        "นวมมวยไทย 12 ออนซ์",
        "Gear",
        189_000,
        "8859876543218",
        True,
        6,
    ),
]
FLOAT = {"50000": 2, "10000": 5, "2000": 10, "1000": 10}  # ฿1,800.00


def seed_products(location: Location, user: object) -> dict[str, Product]:
    categories = {
        name: Category.objects.get_or_create(name=name, defaults={"name_th": th})[0]
        for name, th in CATEGORIES
    }
    products = {}
    for sku, name, name_th, category, price, barcode, track, stock in PRODUCTS:
        product, created = Product.objects.get_or_create(
            sku=sku,
            defaults={
                "name": name,
                "name_th": name_th,
                "category": categories[category],
                "price": price,
                "barcode": barcode,
                "track_stock": track,
                "reorder_level": 10 if track else 0,
            },
        )
        if created and track:
            stock_receive(product, location, stock, user=user, reason="Opening stock")
        products[sku] = product
    return products


def _sell(
    till: TillSession, user: object, lines: list[LineIn], tenders: list[TenderIn], **kw: object
):
    return sale_submit(
        till=till,
        user=user,
        idempotency_key=f"demo-{uuid.uuid4().hex}",
        lines=lines,
        tenders=tenders,
        **kw,  # type: ignore[arg-type]
    )


def seed(ctx: SeedContext) -> None:
    users = get_user_model()
    desk = (
        users.objects.filter(username="frontdesk").first()
        or users.objects.filter(is_staff=True).first()
    )
    manager = users.objects.filter(username="manager").first() or desk
    location = Location.objects.order_by("pk").first()
    if desk is None or location is None:
        return
    products = seed_products(location, desk)
    station, _ = Station.objects.get_or_create(
        code="front-desk", defaults={"name": "Front desk", "location": location}
    )
    if TillSession.objects.filter(station=station).exists():
        return
    water, shake, towel, gloves = (products[sku] for sku, *_ in PRODUCTS)
    members = list(Member.objects.filter(status="active").order_by("pk")[:3])
    day_pass = Pack.objects.filter(is_active=True).order_by("price").first()
    today = clock.today()
    yesterday = today - dt.timedelta(days=1)

    def at(day: dt.date, hour: int, minute: int = 0) -> dt.datetime:
        return dt.datetime.combine(day, dt.time(hour, minute), tzinfo=clock.gym_tz())

    # Yesterday: a whole day, closed with its Z report.
    with clock.travel_to(at(yesterday, 6, 0)):
        till = till_start_and_open(station, count=FLOAT, user=desk)
    plan = [
        (7, [LineIn(product_id=water.pk, quantity=2)], [TenderIn(TenderKind.CASH, 4_000, 10_000)]),
        (
            9,
            [LineIn(product_id=shake.pk)],
            [TenderIn(TenderKind.TERMINAL, 9_000, reference="EDC 004512")],
        ),
        (
            12,
            [LineIn(product_id=towel.pk), LineIn(product_id=water.pk)],
            [TenderIn(TenderKind.CASH, 5_000)],
        ),
        (
            18,
            [LineIn(product_id=gloves.pk)],
            [TenderIn(TenderKind.TERMINAL, 189_000, reference="EDC 004533")],
        ),
    ]
    for hour, lines, tenders in plan:
        with clock.travel_to(at(yesterday, hour, 15)):
            _sell(till, desk, lines, tenders)
    with clock.travel_to(at(yesterday, 21, 30)):
        till_begin_close(till, user=desk)
        till_close(
            till, count={"50000": 2, "10000": 5, "2000": 13, "1000": 10, "500": 2}, user=desk
        )

    # This morning: the till is open with the morning's sales.
    morning = min(clock.now(), at(today, 11, 0))
    with clock.travel_to(at(today, 6, 0) if morning > at(today, 6, 0) else morning):
        till = till_start_and_open(station, count=FLOAT, user=desk)
    morning_sales: list[tuple[list[LineIn], list[TenderIn], Member | None]] = [
        (
            [LineIn(product_id=water.pk, quantity=3)],
            [TenderIn(TenderKind.CASH, 6_000, 10_000)],
            None,
        ),
        (
            [LineIn(product_id=shake.pk), LineIn(product_id=towel.pk)],
            [TenderIn(TenderKind.CASH, 12_000)],
            None,
        ),
    ]
    if members:
        morning_sales.append(
            (
                [LineIn(product_id=shake.pk, quantity=2)],
                [TenderIn(TenderKind.ACCOUNT, 18_000)],
                members[0],
            )
        )
    if day_pass is not None and len(members) > 1:
        morning_sales.append(
            (
                [LineIn(kind=LineKind.PACK, pack_id=day_pass.pk)],
                [TenderIn(TenderKind.CASH, day_pass.price)],
                members[1],
            )
        )
    sold = []
    for index, (lines, tenders, member) in enumerate(morning_sales):
        when = at(today, 6, 30) + dt.timedelta(minutes=25 * index)
        with clock.travel_to(min(when, clock.now())):
            sold.append(_sell(till, desk, lines, tenders, member=member))
    with clock.travel_to(min(at(today, 8, 45), clock.now())):
        cash_move(till, kind="out", amount=15_000, reason="Ice and cups from the shop", user=desk)
        if manager is not None and manager.has_perm("pos.refund_sale"):
            line = sold[0].lines.first()
            if line is not None:
                sale_refund(
                    sold[0],
                    till=till,
                    user=manager,
                    reason="Bottle was open",
                    quantities={line.pk: 1},
                )
    ctx.say(f"POS: {len(PRODUCTS)} products, a closed till with Z report 1, and an open till.")
