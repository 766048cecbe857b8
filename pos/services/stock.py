"""Stock: every change is a movement, and the level is their sum.

A sale takes stock with one conditional ``UPDATE`` on the level row (``quantity >=
wanted`` unless the product may go below zero), so two tills selling the last item at
the same moment can never both take it: the second update finds nothing to change.
"""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.db.models import F

from billing.places import Location
from config import clock

from ..errors import ManagerNeeded, SaleRefused, StockRefused
from ..models import MovementKind, Product, SaleLine, StockLevel, StockMovement

MAX_QUANTITY = 100_000


def _staff(user: Any) -> Any:
    return user if getattr(user, "is_authenticated", False) else None


def _level(product: Product, location: Location) -> None:
    StockLevel.objects.get_or_create(product=product, location=location)


def _move(
    product: Product,
    location: Location,
    kind: str,
    quantity: int,
    *,
    reason: str = "",
    user: Any = None,
    sale_line: SaleLine | None = None,
) -> StockMovement:
    return StockMovement.objects.create(
        product=product,
        location=location,
        kind=kind,
        quantity=quantity,
        reason=reason[:200],
        sale_line=sale_line,
        created_by=_staff(user),
        created_at=clock.now(),
    )


def _check_quantity(quantity: Any, *, allow_zero: bool = False) -> int:
    if not isinstance(quantity, int) or isinstance(quantity, bool):
        raise StockRefused(reason="bad_quantity")
    low = 0 if allow_zero else 1
    if not low <= quantity <= MAX_QUANTITY:
        raise StockRefused(reason="bad_quantity")
    return quantity


@transaction.atomic
def stock_receive(
    product: Product, location: Location, quantity: int, *, user: Any, reason: str = ""
) -> StockMovement:
    """Goods in (the front desk may do this)."""
    quantity = _check_quantity(quantity)
    _level(product, location)
    StockLevel.objects.filter(product=product, location=location).update(
        quantity=F("quantity") + quantity
    )
    return _move(product, location, MovementKind.RECEIVED, quantity, reason=reason, user=user)


@transaction.atomic
def stock_adjust(
    product: Product, location: Location, change: int, *, user: Any, reason: str
) -> StockMovement:
    """A manager's correction (breakage, theft, a free sample), with its reason."""
    if not user.has_perm("pos.adjust_stock"):
        raise ManagerNeeded(reason="stock_adjust")
    if not reason.strip():
        raise StockRefused(reason="reason_required")
    if not isinstance(change, int) or change == 0 or abs(change) > MAX_QUANTITY:
        raise StockRefused(reason="bad_quantity")
    _level(product, location)
    level = StockLevel.objects.select_for_update().get(product=product, location=location)
    if level.quantity + change < 0 and not product.allow_negative_stock:
        raise StockRefused(reason="negative")
    level.quantity += change
    level.save(update_fields=["quantity"])
    return _move(product, location, MovementKind.ADJUSTED, change, reason=reason, user=user)


@transaction.atomic
def stock_count(
    product: Product, location: Location, counted: int, *, user: Any, reason: str = ""
) -> StockMovement | None:
    """A stocktake: the movement that makes the level what was counted (``None`` if equal)."""
    if not user.has_perm("pos.adjust_stock"):
        raise ManagerNeeded(reason="stock_adjust")
    counted = _check_quantity(counted, allow_zero=True)
    _level(product, location)
    level = StockLevel.objects.select_for_update().get(product=product, location=location)
    change = counted - level.quantity
    if change == 0:
        return None
    level.quantity = counted
    level.save(update_fields=["quantity"])
    return _move(
        product, location, MovementKind.COUNTED, change, reason=reason or "Stocktake", user=user
    )


def stock_take_for_sale(line: SaleLine, location: Location, *, user: Any) -> None:
    """Take a sale line's items (inside the sale's transaction); refuse if not enough."""
    product = line.product
    if product is None or not product.track_stock:
        return
    _level(product, location)
    levels = StockLevel.objects.filter(product=product, location=location)
    if not product.allow_negative_stock:
        levels = levels.filter(quantity__gte=line.quantity)
    if not levels.update(quantity=F("quantity") - line.quantity):
        raise SaleRefused(reason="out_of_stock", product=product.name)
    _move(product, location, MovementKind.SOLD, -line.quantity, user=user, sale_line=line)


def stock_return(
    line: SaleLine, location: Location, quantity: int, *, user: Any, reason: str
) -> None:
    """Items back on the shelf (a refund, or a sale voided before it was paid)."""
    product = line.product
    if product is None or not product.track_stock or quantity <= 0:
        return
    _level(product, location)
    StockLevel.objects.filter(product=product, location=location).update(
        quantity=F("quantity") + quantity
    )
    _move(
        product,
        location,
        MovementKind.RETURNED,
        quantity,
        reason=reason,
        user=user,
        sale_line=line,
    )
