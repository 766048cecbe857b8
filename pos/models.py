"""Products and stock, stations and tills, sales with their lines and tenders, refunds.

Invariants live here as constraints; every workflow lives in ``pos.services``.  Money is
integer minor units with a currency beside it; tax rates are basis points.  A stock
level is the sum of its movements (``StockLevel`` keeps that sum, updated in the same
transaction as each movement, so levels read fast and a sale can take the last item with
one conditional update).
"""

from __future__ import annotations

from django.conf import settings
from django.core.validators import MaxValueValidator
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from billing.fields import MoneyField, PositiveMoneyField, RateField
from billing.models import Invoice, LedgerEntry, Pack, PackPurchase, PaymentMethod
from billing.models import PromptPayRequest as BillingPromptPayRequest
from billing.money import format_amount
from billing.places import Location
from config import clock
from members.models import Member

from .barcodes import validate_barcode


def default_currency() -> str:
    return settings.GYM_CURRENCY


class Category(models.Model):
    name = models.CharField(_("name"), max_length=80, unique=True)
    name_th = models.CharField(_("name (Thai)"), max_length=80, blank=True)

    class Meta:
        verbose_name = _("product category")
        verbose_name_plural = _("product categories")
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Product(models.Model):
    name = models.CharField(_("name"), max_length=120)
    name_th = models.CharField(_("name (Thai)"), max_length=120, blank=True)
    category = models.ForeignKey(
        Category, on_delete=models.PROTECT, related_name="products", verbose_name=_("category")
    )
    sku = models.SlugField(_("SKU"), max_length=40, unique=True)
    barcode = models.CharField(
        _("barcode"),
        max_length=14,
        blank=True,
        validators=[validate_barcode],
        help_text=_("EAN-13 or UPC-A, with its check digit."),
    )
    price = PositiveMoneyField(_("price"))
    currency = models.CharField(_("currency"), max_length=3, default=default_currency)
    prices_include_tax = models.BooleanField(_("price includes tax"), default=True)
    tax_rate_bp = RateField(
        _("tax rate"),
        default=700,
        validators=[MaxValueValidator(5000)],
        help_text=_("For example 7 for 7% VAT."),
    )
    track_stock = models.BooleanField(_("track stock"), default=True)
    allow_negative_stock = models.BooleanField(_("may sell below zero"), default=False)
    reorder_level = models.PositiveIntegerField(_("reorder level"), default=0)
    is_active = models.BooleanField(_("on sale"), default=True)
    created_at = models.DateTimeField(_("created"), default=clock.now)

    class Meta:
        verbose_name = _("product")
        verbose_name_plural = _("products")
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(
                fields=["barcode"], condition=~Q(barcode=""), name="pos_product_barcode_once"
            )
        ]
        permissions = [
            ("adjust_stock", "Can adjust and count stock"),
            ("receive_stock", "Can receive stock"),
        ]

    def __str__(self) -> str:
        return self.name

    def display_name(self, language: str = "en") -> str:
        return self.name_th if language == "th" and self.name_th else self.name


class MovementKind(models.TextChoices):
    RECEIVED = "received", _("Received")
    SOLD = "sold", _("Sold")
    RETURNED = "returned", _("Returned")
    ADJUSTED = "adjusted", _("Adjusted")
    COUNTED = "counted", _("Counted at stocktake")


class StockLevel(models.Model):
    """The sum of a product's movements at a location, kept with each movement."""

    product = models.ForeignKey(
        Product, on_delete=models.CASCADE, related_name="levels", verbose_name=_("product")
    )
    location = models.ForeignKey(
        Location, on_delete=models.CASCADE, related_name="+", verbose_name=_("location")
    )
    quantity = models.IntegerField(_("in stock"), default=0)

    class Meta:
        verbose_name = _("stock level")
        verbose_name_plural = _("stock levels")
        constraints = [
            models.UniqueConstraint(fields=["product", "location"], name="pos_level_once")
        ]

    def __str__(self) -> str:
        return f"{self.product} @ {self.location}: {self.quantity}"


class StockMovement(models.Model):
    product = models.ForeignKey(
        Product, on_delete=models.PROTECT, related_name="movements", verbose_name=_("product")
    )
    location = models.ForeignKey(
        Location, on_delete=models.PROTECT, related_name="+", verbose_name=_("location")
    )
    kind = models.CharField(_("kind"), max_length=10, choices=MovementKind.choices)
    quantity = models.IntegerField(_("quantity change"))
    reason = models.CharField(_("reason"), max_length=200, blank=True)
    sale_line = models.ForeignKey(
        "SaleLine",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("sale line"),
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("by"),
    )
    created_at = models.DateTimeField(_("when"), default=clock.now)

    class Meta:
        verbose_name = _("stock movement")
        verbose_name_plural = _("stock movements")
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["product", "location"], name="pos_movement_product")]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.quantity:+d} {self.product}"


class Station(models.Model):
    name = models.CharField(_("name"), max_length=80)
    code = models.SlugField(_("code"), max_length=20, unique=True)
    location = models.ForeignKey(
        Location, on_delete=models.PROTECT, related_name="+", verbose_name=_("location")
    )
    max_difference = PositiveMoneyField(
        _("allowed cash difference"),
        default=10_000,
        help_text=_("A count that differs more than this needs a manager."),
    )
    currency = models.CharField(_("currency"), max_length=3, default=default_currency)
    is_active = models.BooleanField(_("in use"), default=True)

    class Meta:
        verbose_name = _("station")
        verbose_name_plural = _("stations")
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class TillStatus(models.TextChoices):
    OPENING = "opening", _("Counting the float")
    OPEN = "open", _("Open")
    CLOSING = "closing", _("Counting the cash")
    CLOSED = "closed", _("Closed")


class TillSession(models.Model):
    """A till from its opening count to its Z report.  Closed, it never changes."""

    station = models.ForeignKey(
        Station, on_delete=models.PROTECT, related_name="tills", verbose_name=_("station")
    )
    status = models.CharField(
        _("status"), max_length=8, choices=TillStatus.choices, default=TillStatus.OPENING
    )
    currency = models.CharField(_("currency"), max_length=3)
    opened_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("opened by"),
    )
    started_at = models.DateTimeField(_("started"), default=clock.now)
    opened_at = models.DateTimeField(_("opened"), null=True, blank=True)
    opening_float = PositiveMoneyField(_("opening float"), default=0)
    opening_count = models.JSONField(_("opening count"), default=dict, blank=True)
    closing_started_at = models.DateTimeField(_("closing started"), null=True, blank=True)
    expected_cash = MoneyField(_("expected cash"), null=True, blank=True)
    counted_cash = PositiveMoneyField(_("counted cash"), null=True, blank=True)
    closing_count = models.JSONField(_("closing count"), default=dict, blank=True)
    difference = MoneyField(_("difference"), null=True, blank=True)
    difference_approved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("difference approved by"),
    )
    closed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("closed by"),
    )
    closed_at = models.DateTimeField(_("closed"), null=True, blank=True)
    z_number = models.PositiveIntegerField(_("Z number"), null=True, blank=True)
    z_report = models.JSONField(_("Z report"), default=dict, blank=True)

    class Meta:
        verbose_name = _("till session")
        verbose_name_plural = _("till sessions")
        ordering = ["-started_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["station"], condition=~Q(status="closed"), name="pos_one_live_till"
            ),
            models.UniqueConstraint(
                fields=["station", "z_number"],
                condition=Q(z_number__isnull=False),
                name="pos_z_number_once",
            ),
            models.CheckConstraint(
                condition=~Q(status="closed") | Q(z_number__isnull=False, closed_at__isnull=False),
                name="pos_closed_till_has_z",
            ),
        ]
        permissions = [("approve_difference", "Can close a till with a cash difference")]

    def __str__(self) -> str:
        return str(_("%(station)s till #%(id)s") % {"station": self.station, "id": self.pk or "–"})


class CashMovementKind(models.TextChoices):
    IN = "in", _("Cash in")
    OUT = "out", _("Cash out")


class CashMovement(models.Model):
    till = models.ForeignKey(
        TillSession, on_delete=models.PROTECT, related_name="cash_movements", verbose_name=_("till")
    )
    kind = models.CharField(_("kind"), max_length=3, choices=CashMovementKind.choices)
    amount = PositiveMoneyField(_("amount"), currency_field="till.currency")
    reason = models.CharField(_("reason"), max_length=200)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("by"),
    )
    created_at = models.DateTimeField(_("when"), default=clock.now)

    class Meta:
        verbose_name = _("cash in or out")
        verbose_name_plural = _("cash in and out")
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {format_amount(self.amount, self.till.currency)}"


class SaleKind(models.TextChoices):
    SALE = "sale", _("Sale")
    OWING = "owing", _("Payment of what is owed")
    DEPOSIT = "deposit", _("Deposit to account")


class SaleStatus(models.TextChoices):
    PENDING = "pending", _("Waiting for payment")
    COMPLETED = "completed", _("Completed")
    VOIDED = "voided", _("Voided")


class TaxDocument(models.TextChoices):
    ABBREVIATED = "abbreviated", _("Abbreviated tax invoice")
    FULL = "full", _("Full tax invoice")
    RECEIPT = "receipt", _("Receipt")


class Sale(models.Model):
    """One submission at the till: lines, tenders, and the document it issued."""

    number = models.CharField(_("number"), max_length=30, unique=True, null=True, blank=True)
    kind = models.CharField(_("kind"), max_length=8, choices=SaleKind.choices, default="sale")
    status = models.CharField(
        _("status"), max_length=10, choices=SaleStatus.choices, default=SaleStatus.PENDING
    )
    till = models.ForeignKey(
        TillSession, on_delete=models.PROTECT, related_name="sales", verbose_name=_("till")
    )
    member = models.ForeignKey(
        Member,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="pos_sales",
        verbose_name=_("member"),
    )
    idempotency_key = models.CharField(_("submission key"), max_length=80, unique=True)
    request_hash = models.CharField(_("request fingerprint"), max_length=64, blank=True)
    currency = models.CharField(_("currency"), max_length=3)
    subtotal = MoneyField(_("net"), default=0)
    tax_total = MoneyField(_("VAT"), default=0)
    total = MoneyField(_("total"), default=0)
    discount_total = PositiveMoneyField(_("discounts"), default=0)
    discount_approved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("discount approved by"),
    )
    change_given = PositiveMoneyField(_("change"), default=0)
    document = models.CharField(
        _("document"), max_length=12, choices=TaxDocument.choices, default="abbreviated"
    )
    buyer_name = models.CharField(_("buyer's name"), max_length=200, blank=True)
    buyer_address = models.TextField(_("buyer's address"), max_length=500, blank=True)
    buyer_tax_id = models.CharField(_("buyer's tax ID"), max_length=13, blank=True)
    buyer_branch = models.CharField(_("buyer's branch"), max_length=40, blank=True)
    seller_tax_id = models.CharField(_("seller's tax ID"), max_length=30, blank=True)
    void_reason = models.CharField(_("why voided"), max_length=200, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("sold by"),
    )
    created_at = models.DateTimeField(_("started"), default=clock.now)
    completed_at = models.DateTimeField(_("completed"), null=True, blank=True)

    class Meta:
        verbose_name = _("sale")
        verbose_name_plural = _("sales")
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(total=models.F("subtotal") + models.F("tax_total")),
                name="pos_sale_total_is_net_plus_tax",
            ),
            models.CheckConstraint(
                condition=~Q(status="completed") | Q(number__isnull=False),
                name="pos_completed_sale_numbered",
            ),
        ]
        indexes = [
            models.Index(fields=["till", "status"], name="pos_sale_till_status"),
            models.Index(fields=["completed_at"], name="pos_sale_completed"),
        ]
        permissions = [
            ("refund_sale", "Can refund a sale"),
            ("discount_sale", "Can give a large discount"),
        ]

    def __str__(self) -> str:
        return self.number or str(_("sale #%(id)s") % {"id": self.pk})


class LineKind(models.TextChoices):
    PRODUCT = "product", _("Product")
    PACK = "pack", _("Pack or pass")
    GENERAL = "general", _("General item")
    OWING = "owing", _("Invoice paid")
    DEPOSIT = "deposit", _("Deposit")


class SaleLine(models.Model):
    """``amount`` is what the line costs the buyer (after its discount, tax included)."""

    sale = models.ForeignKey(
        Sale, on_delete=models.CASCADE, related_name="lines", verbose_name=_("sale")
    )
    kind = models.CharField(_("kind"), max_length=8, choices=LineKind.choices)
    product = models.ForeignKey(
        Product, on_delete=models.PROTECT, null=True, blank=True, verbose_name=_("product")
    )
    pack = models.ForeignKey(
        Pack, on_delete=models.PROTECT, null=True, blank=True, verbose_name=_("pack or pass")
    )
    pack_purchase = models.ForeignKey(
        PackPurchase,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("pack held"),
    )
    invoice = models.ForeignKey(
        Invoice,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("invoice"),
    )
    description = models.CharField(_("description"), max_length=200)
    category = models.CharField(_("category"), max_length=80, blank=True)
    quantity = models.PositiveIntegerField(_("quantity"), default=1)
    unit_price = PositiveMoneyField(_("unit price"), currency_field="sale.currency")
    prices_include_tax = models.BooleanField(_("price includes tax"), default=True)
    discount = PositiveMoneyField(_("discount"), default=0, currency_field="sale.currency")
    reason = models.CharField(_("reason"), max_length=200, blank=True)
    amount = MoneyField(_("amount"), currency_field="sale.currency")
    net_amount = MoneyField(_("net"), currency_field="sale.currency")
    tax_rate_bp = RateField(_("tax rate"), default=0)
    tax_amount = MoneyField(_("VAT"), default=0, currency_field="sale.currency")
    refunded_quantity = models.PositiveIntegerField(_("refunded"), default=0)

    class Meta:
        verbose_name = _("sale line")
        verbose_name_plural = _("sale lines")
        ordering = ["id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(refunded_quantity__lte=models.F("quantity")),
                name="pos_line_refund_within_sold",
            ),
            models.CheckConstraint(
                condition=Q(amount=models.F("net_amount") + models.F("tax_amount")),
                name="pos_line_amount_is_net_plus_tax",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.quantity} × {self.description}"


class TenderKind(models.TextChoices):
    CASH = "cash", _("Cash")
    CARD = "card", _("Card on file")
    TERMINAL = "terminal", _("Card terminal")
    PROMPTPAY = "promptpay", _("PromptPay QR")
    ACCOUNT = "account", _("Member's account")


class TenderStatus(models.TextChoices):
    PENDING = "pending", _("Waiting")
    SUCCEEDED = "succeeded", _("Paid")
    FAILED = "failed", _("Not paid")


class Tender(models.Model):
    """How part of a sale was paid.  ``amount`` counts toward the sale; for cash,
    ``tendered`` is what was handed over and ``change`` what went back."""

    sale = models.ForeignKey(
        Sale, on_delete=models.CASCADE, related_name="tenders", verbose_name=_("sale")
    )
    kind = models.CharField(_("paid by"), max_length=10, choices=TenderKind.choices)
    amount = PositiveMoneyField(_("amount"), currency_field="sale.currency")
    tendered = PositiveMoneyField(_("handed over"), default=0, currency_field="sale.currency")
    change = PositiveMoneyField(_("change"), default=0, currency_field="sale.currency")
    status = models.CharField(
        _("status"), max_length=10, choices=TenderStatus.choices, default="pending"
    )
    reference = models.CharField(_("reference"), max_length=120, blank=True)
    payment_method = models.ForeignKey(
        PaymentMethod,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("card"),
    )
    gateway = models.CharField(_("gateway"), max_length=20, blank=True)
    promptpay_request = models.OneToOneField(
        BillingPromptPayRequest,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="pos_tender",
        verbose_name=_("PromptPay request"),
    )
    ledger_entry = models.OneToOneField(
        LedgerEntry,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("account entry"),
    )
    message = models.CharField(_("message"), max_length=300, blank=True)

    class Meta:
        verbose_name = _("tender")
        verbose_name_plural = _("tenders")
        ordering = ["id"]
        indexes = [models.Index(fields=["sale", "kind"], name="pos_tender_sale_kind")]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {format_amount(self.amount, self.sale.currency)}"


class RefundDestination(models.TextChoices):
    ORIGINAL = "original", _("The original way of paying")
    ACCOUNT = "account", _("Credit to the member's account")


class SaleRefund(models.Model):
    """A credit note (ใบลดหนี้) on a sale, and where the money went."""

    number = models.CharField(_("credit note number"), max_length=30, unique=True)
    sale = models.ForeignKey(
        Sale, on_delete=models.PROTECT, related_name="refunds", verbose_name=_("sale")
    )
    till = models.ForeignKey(
        TillSession,
        on_delete=models.PROTECT,
        related_name="refunds",
        verbose_name=_("refunded at till"),
    )
    amount = PositiveMoneyField(_("amount"), currency_field="sale.currency")
    tax_amount = PositiveMoneyField(_("VAT"), default=0, currency_field="sale.currency")
    destination = models.CharField(
        _("money back to"), max_length=10, choices=RefundDestination.choices
    )
    reason = models.CharField(_("reason"), max_length=200)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("refunded by"),
    )
    created_at = models.DateTimeField(_("when"), default=clock.now)

    class Meta:
        verbose_name = _("refund (credit note)")
        verbose_name_plural = _("refunds (credit notes)")
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return self.number


class SaleRefundLine(models.Model):
    refund = models.ForeignKey(
        SaleRefund, on_delete=models.CASCADE, related_name="lines", verbose_name=_("refund")
    )
    line = models.ForeignKey(
        SaleLine, on_delete=models.PROTECT, related_name="refund_lines", verbose_name=_("line")
    )
    quantity = models.PositiveIntegerField(_("quantity"))
    amount = PositiveMoneyField(_("amount"), currency_field="refund.sale.currency")
    tax_amount = PositiveMoneyField(_("VAT"), default=0, currency_field="refund.sale.currency")

    class Meta:
        verbose_name = _("refunded line")
        verbose_name_plural = _("refunded lines")

    def __str__(self) -> str:
        return f"{self.quantity} × {self.line.description}"


class RefundPayout(models.Model):
    """Money given back by one route for a refund (cash from the till, a card refund…)."""

    refund = models.ForeignKey(
        SaleRefund, on_delete=models.CASCADE, related_name="payouts", verbose_name=_("refund")
    )
    kind = models.CharField(_("paid back by"), max_length=10, choices=TenderKind.choices)
    amount = PositiveMoneyField(_("amount"), currency_field="refund.sale.currency")
    tender = models.ForeignKey(
        Tender, on_delete=models.PROTECT, null=True, blank=True, verbose_name=_("tender")
    )
    reference = models.CharField(_("reference"), max_length=120, blank=True)

    class Meta:
        verbose_name = _("money paid back")
        verbose_name_plural = _("money paid back")

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {format_amount(self.amount, self.refund.sale.currency)}"
