"""The till in Chromium, in English and in Thai: open with a counted float, scan three
items and take cash with change, sell a pack to a member who then enters at the gate,
take what is owed by PromptPay in the sandbox bank, refund as a manager, and close with
the Z report."""

from __future__ import annotations

import re
from typing import Any

from playwright.sync_api import Page, expect

from billing.models import Pack, PromptPayRequest
from members import roles
from pos.models import Category, Product, Sale, SaleStatus, Station, TillSession
from pos.services.stock import stock_receive
from pos.services.tills import till_start_and_open
from tests.factories import MemberFactory

from .desk import gate, suspended_for_an_unpaid_charge, with_card

SCAN = {
    "en": "Scan or type a barcode or SKU, then Enter",
    "th": "สแกนหรือพิมพ์บาร์โค้ดหรือรหัสสินค้า แล้วกด Enter",
}
CHANGE = {"en": "Change given", "th": "เงินทอน"}
SOLD = {"en": "Sold", "th": "ขาย"}


def shelf(location: Any, user: Any) -> tuple[Station, Product]:
    station = Station.objects.create(name="Front desk", code="front", location=location)
    drinks = Category.objects.create(name="Drinks", name_th="เครื่องดื่ม")
    water = Product.objects.create(
        name="Water",
        name_th="น้ำดื่ม",
        category=drinks,
        sku="water",
        barcode="8850999320014",
        price=2_000,
    )
    stock_receive(water, location, 20, user=user)
    return station, water


def test_open_scan_three_sell_for_cash_and_close_with_z(
    desk: Page, lang: str, server: str, login: Any, make_staff: Any
) -> None:
    from billing.models import Location

    clerk = make_staff(roles.FRONT_DESK)
    _, water = shelf(Location.objects.create(name="Silom", time_zone="Asia/Bangkok"), clerk)
    login(desk, clerk)
    desk.goto("/admin/pos/tillsession/sell/")
    desk.fill("#id_open-d50000", "2")
    desk.fill("#id_open-d10000", "5")
    desk.locator("#open-till input[type=submit]").click()
    scan = desk.get_by_label(SCAN[lang])
    expect(scan).to_be_focused()
    for _ in range(3):
        scan.fill(water.barcode)
        scan.press("Enter")
        expect(desk.locator("#message")).to_have_text("")
    expect(desk.locator("#total")).to_have_text("60.00")
    scan.press("Enter")  # empty: on to the cash box
    expect(desk.locator("#cash")).to_be_focused()
    desk.locator("#cash").fill("100")
    desk.locator("#cash").press("Enter")
    expect(desk.locator("#message")).to_contain_text(CHANGE[lang])
    expect(desk.locator("#message")).to_contain_text("40.00")
    sale = Sale.objects.get()
    assert (sale.status, sale.total, sale.change_given) == (SaleStatus.COMPLETED, 6_000, 4_000)
    expect(desk.locator("#receipt-link")).to_have_text(sale.number)

    desk.locator("#close-till").click()
    desk.fill("#id_close-d50000", "2")
    desk.fill("#id_close-d10000", "5")
    desk.fill("#id_close-d2000", "3")
    desk.locator("input[type=submit]").click()
    till = TillSession.objects.get()
    assert till.z_number == 1 and till.difference == 0
    expect(desk.locator("#report-total")).to_have_text("฿60.00")
    expect(desk.locator("#report-difference")).to_have_text("฿0.00")


def test_a_pack_sold_at_the_till_opens_the_gate(
    desk: Page, lang: str, server: str, login: Any, make_staff: Any
) -> None:
    site = gate()
    clerk = make_staff(roles.FRONT_DESK)
    station, _ = shelf(site.zone.location, clerk)
    till_start_and_open(station, count={}, user=clerk)
    Pack.objects.create(
        code="day", name="Day pass", kind="day_pass", quantity=1, valid_days=1, price=25_000
    )
    member = MemberFactory()
    uid = with_card(member, "04C0FFEE02")
    assert site.check(desk, server, uid)["granted"] is False
    login(desk, clerk)
    desk.goto(f"/admin/pos/tillsession/sell/?member={member.pk}")
    desk.locator(".add-pack").first.click()
    expect(desk.locator("#total")).to_have_text("250.00")
    desk.locator("#scan").press("Enter")
    desk.locator("#cash").press("Enter")
    expect(desk.locator("#last-sale")).to_contain_text(SOLD[lang])
    assert site.check(desk, server, uid)["granted"] is True


def test_pay_owing_by_promptpay_in_the_sandbox(
    desk: Page, lang: str, server: str, login: Any, make_staff: Any
) -> None:
    site = gate()
    clerk = make_staff(roles.FRONT_DESK)
    station, _ = shelf(site.zone.location, clerk)
    till_start_and_open(station, count={}, user=clerk)
    membership = suspended_for_an_unpaid_charge()
    uid = with_card(membership.member, "04C0FFEE03")
    assert site.check(desk, server, uid)["granted"] is False
    login(desk, clerk)
    desk.goto(f"/admin/members/member/{membership.member.pk}/change/")
    desk.locator("#member-actions a[href*='tillsession/sell']").first.click()
    desk.locator("#owing-promptpay").click()
    # The QR is asked of the (sandbox) gateway first: allow a loaded machine some time.
    expect(desk).to_have_url(re.compile(r".*/admin/billing/promptpayrequest/\d+/"), timeout=30_000)
    request = PromptPayRequest.objects.get()
    desk.goto(f"/sandbox-bank/promptpay/{request.gateway_reference}/")
    desk.locator("#bank-pay").click()
    expect(desk.locator("body")).to_contain_text("฿800.00")
    sale = Sale.objects.get()
    assert sale.status == SaleStatus.COMPLETED and sale.number.startswith("RC-")
    answer = site.check(desk, server, uid)
    assert (answer["granted"], answer["reason"]) == (True, "granted")


def test_refund_as_a_manager(
    desk: Page, lang: str, server: str, login: Any, make_staff: Any
) -> None:
    from billing.models import Location
    from pos.services.sales import LineIn, TenderIn, sale_submit

    boss = make_staff(roles.MANAGER)
    station, water = shelf(Location.objects.create(name="Ari", time_zone="Asia/Bangkok"), boss)
    till = till_start_and_open(station, count={}, user=boss)
    sale = sale_submit(
        till=till,
        user=boss,
        idempotency_key="browser-refund",
        lines=[LineIn(product_id=water.pk, quantity=2)],
        tenders=[TenderIn("cash", 4_000)],
    )
    login(desk, boss)
    desk.goto(f"/admin/pos/sale/{sale.pk}/refund/")
    desk.fill("#id_reason", "Warm")
    desk.locator("input[type=submit]").click()
    expect(desk.locator("#credit-note-total")).to_have_text("฿40.00")
    assert sale.refunds.get().number.startswith("CN-")
