"""Receipts and Thai tax documents: what a sale's paper or email shows, and sending it.

- A sale of goods or services is a tax invoice: abbreviated (ใบกำกับภาษีอย่างย่อ) by
  default, full (ใบกำกับภาษีเต็มรูป) with the buyer's name, address, tax ID and branch
  on request.  VAT is shown separately, by rate.
- A payment of what is owed, or a deposit, is a receipt (its invoices are the tax
  documents).
- A refund is a credit note (ใบลดหนี้) that names the sale it corrects.

The email goes once per sale (a unique key), in the member's language, by the shared
outbox's steps (:mod:`billing.messaging.outbox`): the key is claimed and committed, the
email is sent outside any transaction under the reference ``notification-<id>``, and the
outcome is recorded.  A send a killed worker interrupted is settled by billing's
``notifications_settle_interrupted``, which asks the provider: never resent blindly, and
sent again once (:func:`receipt_released`) only if the provider never got it.
"""

from __future__ import annotations

import logging
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.template.loader import render_to_string
from django.utils import translation

from billing.messaging.outbox import send_email
from billing.models import Notification
from billing.services.notifications import notification_reference
from config import clock
from members.models import GymProfile

from ..models import Sale, SaleKind, SaleRefund, SaleStatus, TaxDocument

logger = logging.getLogger(__name__)

RECEIPT_KIND = "pos_receipt"
RECEIPT_KIND_KEY = "pos-receipt"


def seller() -> dict[str, str]:
    gym = GymProfile.objects.first()
    return {
        "name": (gym.legal_name or gym.name) if gym else "",
        "trading_name": gym.name if gym else "",
        "address": gym.address if gym else "",
        "tax_id": gym.tax_id if gym else "",
        "phone": gym.phone if gym else "",
        # "สำนักงานใหญ่" (head office) or a 5-digit branch number.
        "branch": str(getattr(settings, "POS_SELLER_BRANCH", "") or ""),
    }


def vat_by_rate(sale: Sale) -> list[dict[str, int]]:
    rates: dict[int, dict[str, int]] = {}
    for line in sale.lines.all():
        row = rates.setdefault(
            line.tax_rate_bp, {"rate_bp": line.tax_rate_bp, "net": 0, "tax": 0, "gross": 0}
        )
        row["net"] += line.net_amount
        row["tax"] += line.tax_amount
        row["gross"] += line.amount
    return [rates[rate] for rate in sorted(rates)]


def document_title(sale: Sale) -> tuple[str, str]:
    """The document's Thai and English title."""
    if sale.kind != SaleKind.SALE:
        return "ใบเสร็จรับเงิน", "Receipt"
    if sale.document == TaxDocument.FULL:
        return "ใบกำกับภาษี", "Tax Invoice"
    return "ใบกำกับภาษีอย่างย่อ", "Tax Invoice (ABB)"


def receipt_context(sale: Sale) -> dict[str, Any]:
    title_th, title_en = document_title(sale)
    return {
        "sale": sale,
        "lines": list(sale.lines.all()),
        "tenders": list(sale.tenders.filter(status="succeeded")),
        "vat": vat_by_rate(sale),
        "seller": seller(),
        "title_th": title_th,
        "title_en": title_en,
        "is_tax_invoice": sale.kind == SaleKind.SALE,
        "full": sale.document == TaxDocument.FULL,
        "refunds": list(sale.refunds.all()),
    }


def credit_note_context(refund: SaleRefund) -> dict[str, Any]:
    return {
        "refund": refund,
        "sale": refund.sale,
        "lines": list(refund.lines.select_related("line")),
        "payouts": list(refund.payouts.all()),
        "seller": seller(),
        "title_th": "ใบลดหนี้",
        "title_en": "Credit Note",
    }


def receipt_email_enqueue(sale_id: int) -> None:
    from ..tasks import send_receipt

    send_receipt.delay(sale_id)


def receipt_email_send(sale_id: int) -> bool:
    """Email the sale's receipt to its member once, in their language; ``True`` if sent."""
    sale = Sale.objects.select_related("member").filter(pk=sale_id).first()
    if sale is None or sale.status != SaleStatus.COMPLETED or sale.member is None:
        return False
    member = sale.member
    if not member.email or not member.transactional_email:
        return False
    language = member.language if member.language in {"en", "th"} else "en"
    with translation.override(language):
        text = render_to_string(f"emails/pos/receipt.{language}.txt", receipt_context(sale)).strip()
    subject, _, body = text.partition("\n")
    try:  # the claim, committed before the provider is called
        with transaction.atomic():
            note = Notification.objects.create(
                member=member,
                kind=RECEIPT_KIND,
                key=f"{RECEIPT_KIND_KEY}:{sale.pk}",
                subject=subject,
            )
    except IntegrityError:
        return False  # sent before (or being sent)
    try:
        send_email(notification_reference(note), member.email, subject.strip(), body.strip() + "\n")
    except Exception as exc:  # the outbox records it; staff can resend
        logger.warning("Receipt for sale %s not sent: %s", sale.pk, exc)
        Notification.objects.filter(pk=note.pk).update(error=str(exc)[:300])
        return False
    Notification.objects.filter(pk=note.pk).update(sent_at=clock.now())
    return True


def receipt_released(kind: str, key: str) -> None:
    """billing's ``notification_released`` hook: a sale's receipt that never reached the
    provider (its send was interrupted) is sent again, once."""
    prefix, _, sale_id = key.partition(":")
    if kind == RECEIPT_KIND and prefix == RECEIPT_KIND_KEY and sale_id.isdigit():
        receipt_email_send(int(sale_id))
