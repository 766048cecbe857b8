"""Benchmark the till's reports: a Z report over a year of one station's sales, and stock
levels for every product.

    .venv/bin/python benchmarks/pos.py
    .venv/bin/python benchmarks/pos.py --sales 100000 --products 5000

One command: it recreates its own PostgreSQL database (``gym_bench_pos``;
``--database-url``), migrates it, and bulk-inserts one till holding ``--sales`` completed
sales (two lines and one or two tenders each, three tax rates, five categories, a few
refunds, voids and cash movements) and ``--products`` products with a stock level each.

It then times, best of ``--repeat`` runs:

- ``till_report`` on that till (what the Z report freezes at close): target <= 1 s;
- ``stock_levels`` for the location: target <= 1 s;

beside the floor measured in the same run on the same rows: one ``SUM`` over the till's
sales (the least any report of them must read) and one read of every product's id.
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks._harness import (  # noqa: E402  (after the project is importable)
    add_service_args,
    django_environment,
    django_ready,
)

BATCH = 5000


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--sales", type=int, default=100_000)
    parser.add_argument("--products", type=int, default=5_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument(
        "--reuse",
        action="store_true",
        help="keep the database a previous run seeded (no drop, no seed) when it has the data",
    )
    add_service_args(parser, database="gym_bench_pos", redis_db=13, redis_env="REDIS_URL")
    return parser.parse_args()


def configure(args: argparse.Namespace) -> None:
    django_ready(
        django_environment(
            args,
            cache_prefix="gym-bench-pos",
        ),
        fresh_database=not args.reuse,
    )


def seed(sales: int, products: int) -> tuple[Any, Any]:
    from django.contrib.auth import get_user_model
    from django.db import connection, transaction

    from billing.models import Location
    from config import clock
    from pos.models import (
        CashMovement,
        Category,
        Product,
        Sale,
        SaleLine,
        SaleRefund,
        Station,
        StockLevel,
        Tender,
        TillSession,
    )

    rng = random.Random(7)
    user = get_user_model().objects.create_user("bench", password="bench-only-pw")
    location = Location.objects.create(name="Bench site", time_zone="Asia/Bangkok")
    station = Station.objects.create(name="Desk", code="desk", location=location)
    categories = [Category.objects.create(name=f"Category {n}") for n in range(5)]
    now = clock.now()
    till = TillSession.objects.create(
        station=station,
        currency="THB",
        opened_by=user,
        status="open",
        opened_at=now,
        opening_float=200_000,
    )
    rates = [0, 700, 1000]
    for start in range(0, products, BATCH):
        with transaction.atomic():
            made = Product.objects.bulk_create(
                Product(
                    name=f"Product {n:05d}",
                    category=categories[n % 5],
                    sku=f"p-{n}",
                    price=1_000 + n % 50_000,
                    tax_rate_bp=rates[n % 3],
                    reorder_level=5,
                )
                for n in range(start, min(start + BATCH, products))
            )
            StockLevel.objects.bulk_create(
                StockLevel(product=p, location=location, quantity=rng.randint(0, 50)) for p in made
            )
    for start in range(0, sales, BATCH):
        size = min(BATCH, sales - start)
        with transaction.atomic():
            rows = []
            for n in range(start, start + size):
                rows.append(
                    Sale(
                        number=f"INV-2026-{n + 1:06d}",
                        kind="sale",
                        status="completed" if n % 200 else "voided",
                        till=till,
                        idempotency_key=f"bench-{n}",
                        currency="THB",
                        subtotal=0,
                        tax_total=0,
                        total=0,
                        created_by=user,
                        created_at=now,
                        completed_at=now,
                    )
                )
            made_sales = Sale.objects.bulk_create(rows)
            lines, tenders = [], []
            for sale in made_sales:
                net_total = tax_total = 0
                for k in range(2):
                    rate = rates[(sale.pk + k) % 3]
                    net = rng.randint(1_000, 50_000)
                    tax = net * rate // 10_000
                    net_total += net
                    tax_total += tax
                    lines.append(
                        SaleLine(
                            sale=sale,
                            kind="product",
                            description="Item",
                            category=f"Category {(sale.pk + k) % 5}",
                            quantity=1,
                            unit_price=net + tax,
                            amount=net + tax,
                            net_amount=net,
                            tax_rate_bp=rate,
                            tax_amount=tax,
                        )
                    )
                sale.subtotal, sale.tax_total = net_total, tax_total
                sale.total = net_total + tax_total
                if sale.pk % 3:
                    tenders.append(
                        Tender(sale=sale, kind="cash", amount=sale.total, status="succeeded")
                    )
                else:
                    half = sale.total // 2
                    tenders.append(Tender(sale=sale, kind="cash", amount=half, status="succeeded"))
                    tenders.append(
                        Tender(
                            sale=sale,
                            kind="terminal",
                            amount=sale.total - half,
                            status="succeeded",
                            reference="EDC",
                        )
                    )
            Sale.objects.bulk_update(made_sales, ["subtotal", "tax_total", "total"])
            SaleLine.objects.bulk_create(lines)
            Tender.objects.bulk_create(tenders)
    for n, sale in enumerate(Sale.objects.filter(till=till, status="completed")[:50]):
        SaleRefund.objects.create(
            number=f"CN-2026-{n + 1:05d}",
            sale=sale,
            till=till,
            amount=100,
            destination="original",
            reason="bench",
            created_by=user,
        )
    for n in range(20):
        CashMovement.objects.create(
            till=till, kind="out" if n % 2 else "in", amount=1_000, reason="bench", created_by=user
        )
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    return till, location


def best(call: Callable[[], Any], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        call()
        times.append(time.perf_counter() - started)
    return min(times)


def main() -> None:
    args = parse_args()
    configure(args)
    from django.db import connection
    from django.db.models import Sum

    from pos.models import Product, Sale, TillSession
    from pos.selectors import stock_levels, till_report

    started = time.perf_counter()
    seeded = TillSession.objects.select_related("station__location").first()
    if args.reuse and seeded is not None:
        till, location = seeded, seeded.station.location
    else:
        till, location = seed(args.sales, args.products)
    print(
        f"{'reused' if args.reuse and seeded else 'seeded'} {args.sales:,} sales and "
        f"{args.products:,} products in {time.perf_counter() - started:.1f} s"
    )

    def floor_report() -> Any:
        return Sale.objects.filter(till=till).aggregate(s=Sum("total"))

    def floor_stock() -> Any:
        return list(Product.objects.values_list("pk", flat=True))

    report = till_report(till)
    tendered = sum(t["amount"] for t in report["tenders"].values())
    assert tendered == report["sales"]["total"], "tenders do not add up to the sales"
    levels = stock_levels(location.pk)
    assert len(levels) == args.products

    connection.ensure_connection()
    z = best(lambda: till_report(till), args.repeat)
    z_floor = best(floor_report, args.repeat)
    stock = best(lambda: stock_levels(location.pk), args.repeat)
    stock_floor = best(floor_stock, args.repeat)
    print(
        f"Z report over {args.sales:,} sales: {z * 1000:.0f} ms "
        f"(floor, one SUM over the till's sales: {z_floor * 1000:.0f} ms; target <= 1000 ms)"
        f" {'OK' if z <= 1 else 'OVER'}"
    )
    print(
        f"stock levels for {args.products:,} products: {stock * 1000:.0f} ms "
        f"(floor, every product's id: {stock_floor * 1000:.0f} ms; target <= 1000 ms)"
        f" {'OK' if stock <= 1 else 'OVER'}"
    )
    print(
        f"report: {report['sales']['count']:,} sales, {report['voids']['count']:,} voids, "
        f"total {report['sales']['total']:,} satang = tenders {tendered:,} satang"
    )


if __name__ == "__main__":
    main()
