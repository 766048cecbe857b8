"""The POS API (idempotent sales, roles, bad input) and the admin pages the desk uses."""

from __future__ import annotations

import pytest
from django.urls import reverse
from rest_framework.test import APIClient

from members import hooks
from pos.models import Sale, SaleStatus, StockLevel
from tests.factories import MemberFactory

pytestmark = pytest.mark.django_db


def client_for(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


def test_a_sale_through_the_api_is_idempotent(till, desk, water):
    api = client_for(desk)
    body = {
        "till": till.pk,
        "lines": [{"barcode": water.barcode, "quantity": 2}],
        "tenders": [{"kind": "cash", "amount": 4_000, "tendered": 5_000}],
    }
    first = api.post("/api/v1/pos/sales/", body, format="json", HTTP_IDEMPOTENCY_KEY="k-1")
    again = api.post("/api/v1/pos/sales/", body, format="json", HTTP_IDEMPOTENCY_KEY="k-1")
    assert first.status_code == 201, first.content
    assert again.json()["id"] == first.json()["id"]
    assert first.json()["change_given"] == 1_000 and first.json()["status"] == "completed"
    assert Sale.objects.count() == 1
    assert StockLevel.objects.get(product=water).quantity == 8


def test_the_api_refuses_bad_input_with_codes(till, desk, water):
    api = client_for(desk)
    no_key = api.post(
        "/api/v1/pos/sales/",
        {
            "till": till.pk,
            "lines": [{"product": water.pk}],
            "tenders": [{"kind": "cash", "amount": 2_000}],
        },
        format="json",
    )
    assert no_key.status_code == 400
    hostile = api.post(
        "/api/v1/pos/sales/",
        {"till": till.pk, "lines": [{"product": water.pk, "quantity": -5}], "tenders": "x"},
        format="json",
        HTTP_IDEMPOTENCY_KEY="k-2",
    )
    assert hostile.status_code == 400
    short = api.post(
        "/api/v1/pos/sales/",
        {
            "till": till.pk,
            "lines": [{"product": water.pk}],
            "tenders": [{"kind": "cash", "amount": 1}],
        },
        format="json",
        HTTP_IDEMPOTENCY_KEY="k-3",
    )
    assert short.status_code == 409 and short.json()["reason"] == "tenders_short"
    assert not Sale.objects.exists()


def test_roles_on_the_api(till, desk, manager, water, location):
    api = client_for(desk)
    sale = api.post(
        "/api/v1/pos/sales/",
        {
            "till": till.pk,
            "lines": [{"product": water.pk}],
            "tenders": [{"kind": "cash", "amount": 2_000}],
        },
        format="json",
        HTTP_IDEMPOTENCY_KEY="k-4",
    ).json()
    refund = {"till": till.pk, "reason": "Warm"}
    assert (
        api.post(f"/api/v1/pos/sales/{sale['id']}/refund/", refund, format="json").status_code
        == 403
    )
    assert (
        api.patch(f"/api/v1/pos/products/{water.pk}/", {"price": 1}, format="json").status_code
        == 403
    )
    stock = {"product": water.pk, "location": location.pk, "quantity": 5, "reason": "Delivery"}
    assert api.post("/api/v1/pos/stock/receive/", stock, format="json").status_code == 201
    assert api.post("/api/v1/pos/stock/adjust/", stock, format="json").status_code == 403
    boss = client_for(manager)
    done = boss.post(f"/api/v1/pos/sales/{sale['id']}/refund/", refund, format="json")
    assert done.status_code == 201 and done.json()["amount"] == 2_000
    assert boss.post("/api/v1/pos/stock/adjust/", stock, format="json").status_code == 201
    report = api.get(f"/api/v1/pos/tills/{till.pk}/report/").json()
    assert report["kind"] == "X" and report["refunds"]["amount"] == 2_000
    levels = api.get(f"/api/v1/pos/stock/?location={location.pk}").json()["levels"]
    assert levels[0]["quantity"] == 10 - 1 + 1 + 5 + 5
    found = api.get(f"/api/v1/pos/products/?code={water.barcode}").json()["results"]
    assert found[0]["id"] == water.pk
    assert api.get("/api/v1/pos/products/?code=000").status_code == 404


def test_pos_is_in_the_openapi_schema(desk, client):
    client.force_login(desk)
    schema = client.get("/api/schema/").content.decode()
    for path in (
        "/api/v1/pos/sales/",
        "/api/v1/pos/products/",
        "/api/v1/pos/tills/",
        "/api/v1/pos/stock/",
    ):
        assert path in schema
    assert "Idempotency-Key" in schema


@pytest.mark.parametrize("language", ["en", "th"])
def test_the_sell_screen_opens_for_the_front_desk(language, client, desk, till, water):
    client.force_login(desk)
    client.cookies["django_language"] = language
    member = MemberFactory()
    response = client.get(
        reverse("admin:pos_tillsession_sell") + f"?member={member.pk}",
        HTTP_ACCEPT_LANGUAGE=language,
    )
    assert response.status_code == 200
    page = response.content.decode()
    assert 'id="scan"' in page and member.full_name in page
    assert ("ขาย" in page) == (language == "th")


def test_member_page_and_today_show_the_till(rf, desk, till):
    member = MemberFactory()
    request = rf.get("/admin/")
    request.user = desk
    tools = hooks.tools_for(request, member)
    assert any(tool.url.endswith(f"member={member.pk}") for tool in tools)
    sections = [s for s in hooks.sections_for(request) if s.key == "pos"]
    assert sections and sections[0].rows[0].text == str(till.station)


def test_printable_receipt_and_z_report(client, desk, manager, till, water):
    from pos.services.sales import LineIn, TenderIn, sale_submit
    from pos.services.tills import till_begin_close, till_close

    sale = sale_submit(
        till=till,
        user=desk,
        idempotency_key="print-1",
        lines=[LineIn(product_id=water.pk)],
        tenders=[TenderIn("cash", 2_000, 5_000)],
    )
    client.force_login(desk)
    receipt = client.get(reverse("admin:pos_sale_receipt", args=[sale.pk])).content.decode()
    assert sale.number in receipt and "ใบกำกับภาษีอย่างย่อ" in receipt and "฿30.00" in receipt
    till_begin_close(till, user=desk)
    till_close(till, count={"50000": 2, "10000": 5, "2000": 11}, user=desk)
    z = client.get(reverse("admin:pos_tillsession_report", args=[till.pk])).content.decode()
    assert "Z report no. 1" in z and "฿20.00" in z
    assert sale.status == SaleStatus.COMPLETED
