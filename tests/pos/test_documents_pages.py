"""A full tax invoice asked for at the desk, and the member's account statement."""

from __future__ import annotations

import uuid

import pytest
from django.urls import reverse
from rest_framework.test import APIClient

from pos.models import TaxDocument, TenderKind
from pos.services.sales import LineIn, TenderIn, sale_submit
from tests.factories import MemberFactory

pytestmark = pytest.mark.django_db


def test_a_full_tax_invoice_on_request_keeps_the_number(client, desk, till, water):
    sale = sale_submit(
        till=till,
        user=desk,
        idempotency_key=uuid.uuid4().hex,
        lines=[LineIn(product_id=water.pk)],
        tenders=[TenderIn(TenderKind.CASH, 2_000)],
    )
    client.force_login(desk)
    url = reverse("admin:pos_sale_full_invoice", args=[sale.pk])
    bad = client.post(url, {"name": "Acme", "address": "Silom", "tax_id": "12"})
    assert bad.status_code == 200 and "tax_id" in bad.context["form"].errors
    done = client.post(
        url,
        {
            "name": "Acme Co., Ltd.",
            "address": "1 Silom Rd",
            "tax_id": "0105551234567",
            "branch": "00001",
        },
    )
    assert done.status_code == 302
    sale.refresh_from_db()
    assert sale.document == TaxDocument.FULL and sale.buyer_tax_id == "0105551234567"
    receipt = client.get(reverse("admin:pos_sale_receipt", args=[sale.pk])).content.decode()
    assert "ใบกำกับภาษี<br>" in receipt and "Acme Co., Ltd." in receipt and sale.number in receipt


def test_the_account_statement(till, desk):
    member = MemberFactory()
    for amount in (50_000, 20_000):
        sale_submit(
            till=till,
            user=desk,
            idempotency_key=uuid.uuid4().hex,
            member=member,
            kind="deposit",
            deposit=amount,
            tenders=[TenderIn(TenderKind.CASH, amount)],
        )
    api = APIClient()
    api.force_authenticate(desk)
    statement = api.get(f"/api/v1/pos/members/{member.pk}/statement/").json()
    assert statement["balance"] == -70_000
    assert [row["balance"] for row in statement["entries"]] == [-50_000, -70_000]
    assert api.get("/api/v1/pos/members/999999/statement/").status_code == 404
