"""PromptPay on the hosted pay page, and in the dunning messages.

The acceptance story first: an overdue, suspended member opens the link, pays by
PromptPay in the sandbox bank, and the gate lets them in at the very next check.
"""

from __future__ import annotations

import datetime as dt
import re

import pytest
from django.core import mail
from django.test import Client
from django.urls import reverse

from access_control.services import credential_issue, device_create
from billing.gateways import get_gateway
from billing.models import (
    InvoiceStatus,
    Location,
    MembershipStatus,
    Payment,
    PaymentSource,
    PromptPayRequest,
    PromptPayStatus,
    Zone,
)
from billing.promptpay.payload import parse_payload
from billing.services import promptpay as pp
from dunning.links import make_token, pay_url
from dunning.models import CaseStatus, RecoveryRoute, RetryStatus
from dunning.sms import locmem
from tests.access_control.helpers import check, device_client
from tests.dunning.conftest import local
from tests.dunning.helpers import case_of, fail_renewal, run_at

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def _promptpay_by_gateway(settings):
    settings.PROMPTPAY_ROUTE = "auto"
    settings.PROMPTPAY_ID = ""


def _path(url: str) -> str:
    return re.sub(r"^https://gym\.example", "", url)


def _start_promptpay(client: Client, link: str) -> str:
    """Press "Pay by PromptPay" on the pay page; the QR page's path."""
    started = client.post(link, {"action": "pay_promptpay"})
    assert started.status_code == 303, started.content
    assert started["Referrer-Policy"] == "same-origin"
    return started["Location"]


def _bank_pays(client: Client, qr_page: str) -> None:
    """The member opens the sandbox bank app from the QR page and pays."""
    page = client.get(qr_page).content.decode()
    bank = re.search(r'href="(/sandbox-bank/promptpay/[^"]+/)"', page)
    assert bank is not None, "the sandbox bank link is on the QR page"
    opened = client.get(bank.group(1))
    assert opened.status_code == 200 and "Sandbox Bank" in opened.content.decode()
    paid = client.post(bank.group(1), {"action": "pay"})
    assert paid.status_code == 200
    assert 'id="bank-result"' in paid.content.decode()


def test_an_overdue_member_pays_by_promptpay_and_the_gate_admits_them(failing_member, time_machine):
    membership = failing_member("tok_decline_lost_card")
    member = membership.member
    zone = Zone.objects.create(
        location=Location.objects.create(name="Sukhumvit", time_zone="Asia/Bangkok"),
        code="gym-floor",
        name="Gym floor",
    )
    _, key = device_create(zone=zone, name="Turnstile in")
    turnstile = device_client(key)
    uid = f"04{member.pk:06X}AB"
    credential_issue(member, kind="rfid", value=uid, input_format="hex")

    # A hard decline: the notice leads with PromptPay, and carries the link.
    fail_renewal(time_machine)
    case = case_of(membership)
    (notice,) = [m for m in mail.outbox if "didn't go through" in m.subject]
    assert notice.subject.endswith("pay by PromptPay or add a new card")
    link = re.search(r"https://gym\.example(/pay/[^\s]+/)", notice.body)
    assert link is not None
    (sms,) = locmem.outbox
    assert "Pay by PromptPay or add a new card:" in sms.body

    # Ten days on the access is suspended: the gate refuses.
    run_at(time_machine, local(2026, 4, 15, 0, 5))
    membership.refresh_from_db()
    assert membership.status == MembershipStatus.SUSPENDED
    assert check(turnstile, uid, direction="in")["reason"] == "membership_suspended"

    # The member opens the link on their phone: PromptPay is offered, first.
    time_machine.move_to(local(2026, 4, 15, 18), tick=False)
    client = Client()
    page = client.get(link.group(1)).content.decode()
    assert "Pay ฿1,500.00 by PromptPay" in page
    assert page.index('id="promptpay-offer"') < page.index("Add a new card and pay")

    qr_page = _start_promptpay(client, link.group(1))
    shown = client.get(qr_page).content.decode()
    assert "<svg" in shown and 'aria-label="PromptPay QR code for ฿1,500.00"' in shown
    [request] = PromptPayRequest.objects.all()
    assert parse_payload(request.qr_data).amount == 150_000
    status_url = reverse("dunning:promptpay_status", args=[link.group(1).split("/")[2], request.pk])
    assert client.get(status_url).json()["status"] == "pending"

    mail.outbox = []
    _bank_pays(client, qr_page)

    # The page's poll hears it; the page thanks the member with the amount and a receipt.
    assert client.get(status_url).json()["status"] == "paid"
    thanked = client.get(qr_page).content.decode()
    assert "We received your PromptPay payment of ฿1,500.00" in thanked
    receipt_url = re.search(r'href="([^"]+/receipt/)"', thanked)
    assert receipt_url is not None
    receipt = client.get(receipt_url.group(1))
    assert receipt.status_code == 200 and "฿1,500.00" in receipt.content.decode()

    # Dunning ended, the member's own payment online; access is back at the next check.
    case.refresh_from_db()
    assert case.status == CaseStatus.RECOVERED
    assert case.recovered_route == RecoveryRoute.MEMBER
    assert case.retries.filter(status=RetryStatus.PENDING).count() == 0
    case.invoice.refresh_from_db()
    assert case.invoice.status == InvoiceStatus.PAID
    [payment] = Payment.objects.filter(invoice=case.invoice, source=PaymentSource.PROMPTPAY)
    assert payment.amount == 150_000
    welcome = check(turnstile, uid, direction="in")
    assert welcome["granted"] is True and welcome["warnings"] == []
    assert any(m.subject.startswith("Thank you") for m in mail.outbox)


def test_the_page_speaks_thai_with_money_as_baht(failing_member, time_machine):
    membership = failing_member("tok_decline_expired_card", language="th")
    fail_renewal(time_machine)
    case = case_of(membership)
    link = _path(pay_url(case.member_id, case.invoice_id))
    client = Client()
    page = client.get(link).content.decode()
    assert "ชำระ ฿1,500.00 ผ่านพร้อมเพย์" in page
    qr_page = client.get(_start_promptpay(client, link)).content.decode()
    assert "ชำระผ่านพร้อมเพย์" in qr_page and "฿1,500.00" in qr_page
    notice = mail.outbox[-1]
    assert "ชำระผ่านพร้อมเพย์หรือเพิ่มบัตรใหม่" in notice.subject


def test_a_funds_decline_offers_promptpay_without_leading_with_it(failing_member, time_machine):
    membership = failing_member("tok_decline_insufficient_funds")
    fail_renewal(time_machine)
    (notice,) = [m for m in mail.outbox if "didn't go through" in m.subject]
    assert "PromptPay" not in notice.subject
    assert "Pay now (card or PromptPay) or update your card:" in notice.body
    case = case_of(membership)
    page = Client().get(_path(pay_url(case.member_id, case.invoice_id))).content.decode()
    # The card on file can still pay: it comes first, PromptPay beside it.
    assert page.index("Pay with the card on file") < page.index('id="promptpay-offer"')


def test_the_gyms_own_id_waits_for_staff_then_the_page_thanks_the_member(
    failing_member, time_machine, settings, make_staff
):
    settings.PROMPTPAY_ID = "081-234-5678"
    membership = failing_member("tok_decline_lost_card")
    fail_renewal(time_machine)
    case = case_of(membership)
    link = _path(pay_url(case.member_id, case.invoice_id))
    client = Client()
    qr_page = _start_promptpay(client, link)
    shown = client.get(qr_page).content.decode()
    assert "xxx-xxx-5678" in shown and 'id="promptpay-sandbox-bank"' not in shown
    [request] = PromptPayRequest.objects.all()
    assert parse_payload(request.qr_data).target.value == "0812345678"

    reported = client.post(qr_page, {"action": "report_paid"})
    assert 'id="promptpay-reported"' in reported.content.decode()
    pp.promptpay_request_confirm_transfer(
        request, amount=150_000, bank_reference="KBANK 0415", user=make_staff("Front desk")
    )
    assert "We received your PromptPay payment of ฿1,500.00" in client.get(qr_page).content.decode()
    case.refresh_from_db()
    assert (case.status, case.recovered_route) == (CaseStatus.RECOVERED, RecoveryRoute.MEMBER)


def test_an_expired_qr_says_nothing_was_taken_and_offers_a_new_one(failing_member, time_machine):
    membership = failing_member("tok_decline_lost_card")
    fail_renewal(time_machine)
    case = case_of(membership)
    link = _path(pay_url(case.member_id, case.invoice_id))
    client = Client()
    qr_page = _start_promptpay(client, link)
    time_machine.move_to(local(2026, 4, 5, 11), tick=False)
    pp.promptpay_requests_expire()
    page = client.get(qr_page).content.decode()
    assert "This QR code has expired. Nothing was taken." in page
    # Asking again makes a new QR; the expired one is never shown again.
    again = _start_promptpay(client, link)
    assert again != qr_page
    assert PromptPayRequest.objects.filter(status=PromptPayStatus.PENDING).count() == 1


def test_paying_another_way_withdraws_the_qr(failing_member, time_machine):
    membership = failing_member("tok_decline_lost_card")
    fail_renewal(time_machine)
    case = case_of(membership)
    link = _path(pay_url(case.member_id, case.invoice_id))
    client = Client()
    qr_page = _start_promptpay(client, link)
    back = client.post(qr_page, {"action": "withdraw"})
    assert (back.status_code, back["Location"]) == (303, link)
    [request] = PromptPayRequest.objects.all()
    assert request.status == PromptPayStatus.CANCELLED
    bank = get_gateway("sandbox")
    assert bank.promptpay_status(request.gateway_reference).decline_code == "canceled"


# --- hostile input --------------------------------------------------------------------


@pytest.fixture
def someone_elses_request(failing_member, time_machine):
    other = failing_member("tok_decline_lost_card")
    fail_renewal(time_machine)
    other_case = case_of(other)
    return pp.promptpay_request_create(
        invoices=[other_case.invoice], channel="pay_page"
    ), failing_member


def test_another_members_request_ids_and_garbage_answer_404_with_a_code(
    someone_elses_request, time_machine
):
    theirs, failing_member = someone_elses_request
    mine = failing_member("tok_decline_lost_card", email="me@example.com", phone="+66811111111")
    fail_renewal(time_machine, at=local(2026, 4, 5, 10, 30))
    case = case_of(mine)
    token = make_token(case.member_id, case.invoice_id)
    client = Client()
    for request_id in (str(theirs.pk), "abc", "-1", "0", "9" * 30, "1%00", "%E0%B8%81", "1.5"):
        page = client.get(f"/pay/{token}/promptpay/{request_id}/")
        assert page.status_code == 404, request_id
        assert "We could not find this payment" in page.content.decode()
        status = client.get(f"/pay/{token}/promptpay/{request_id}/status/")
        assert (status.status_code, status.json()) == (
            404,
            {"code": "promptpay_request_not_found"},
        )
        assert client.get(f"/pay/{token}/promptpay/{request_id}/receipt/").status_code == 404
        posted = client.post(f"/pay/{token}/promptpay/{request_id}/", {"action": "withdraw"})
        assert posted.status_code == 404
    theirs.refresh_from_db()
    assert theirs.status == PromptPayStatus.PENDING  # untouched


def test_tampered_and_expired_links_answer_400_and_410(someone_elses_request, time_machine):
    theirs, _ = someone_elses_request
    token = make_token(theirs.member_id, theirs.lines.get().invoice_id)
    client = Client()
    tampered = f"/pay/{token[:-2]}xx/promptpay/{theirs.pk}/"
    assert client.get(tampered).status_code == 400
    assert client.get(tampered + "status/").json() == {"code": "link_invalid"}
    time_machine.move_to(local(2026, 5, 30, 10), tick=False)
    assert client.get(f"/pay/{token}/promptpay/{theirs.pk}/").status_code == 410
    expired = client.get(f"/pay/{token}/promptpay/{theirs.pk}/status/")
    assert (expired.status_code, expired.json()) == (410, {"code": "link_expired"})


def test_unknown_actions_and_methods_are_refused_cleanly(someone_elses_request):
    theirs, _ = someone_elses_request
    token = make_token(theirs.member_id, theirs.lines.get().invoice_id)
    client = Client()
    page = f"/pay/{token}/promptpay/{theirs.pk}/"
    assert client.post(page, {"action": "pay\x00"}).status_code == 400
    assert client.post(page, {"action": "report_paid"}).status_code == 200  # gateway: no-op
    assert client.post(page + "status/").status_code == 405
    assert client.delete(page).status_code == 405
    theirs.refresh_from_db()
    assert theirs.member_reported_at is None
    # A receipt exists only once paid.
    assert client.get(page + "receipt/").status_code == 404


def test_the_sandbox_bank_exists_only_with_the_sandbox_gateway(settings, someone_elses_request):
    theirs, _ = someone_elses_request
    client = Client()
    assert client.get("/sandbox-bank/promptpay/sbx_pp_unknown/").status_code == 404
    assert (
        client.post(
            f"/sandbox-bank/promptpay/{theirs.gateway_reference}/", {"action": "x"}
        ).status_code
        == 400
    )
    settings.PAYMENT_GATEWAY = "stripe"
    settings.STRIPE_SECRET_KEY = "sk_test_x"
    from billing.gateways import clear_gateway_cache

    clear_gateway_cache()
    try:
        assert client.get(f"/sandbox-bank/promptpay/{theirs.gateway_reference}/").status_code == 404
    finally:
        clear_gateway_cache()


def test_a_request_stays_in_the_members_timezone_and_money_format(someone_elses_request):
    theirs, _ = someone_elses_request
    token = make_token(theirs.member_id, theirs.lines.get().invoice_id)
    page = Client().get(f"/pay/{token}/promptpay/{theirs.pk}/").content.decode()
    local_time = theirs.expires_at.astimezone(dt.timezone(dt.timedelta(hours=7)))
    assert f"until {local_time:%H:%M}" in page
    assert "฿1,500.00" in page and "150000" not in page


def test_polling_the_status_costs_a_fixed_number_of_queries(
    someone_elses_request, django_assert_max_num_queries
):
    theirs, _ = someone_elses_request
    token = make_token(theirs.member_id, theirs.lines.get().invoice_id)
    client = Client()
    url = f"/pay/{token}/promptpay/{theirs.pk}/status/"
    client.get(url)  # the first asks the gateway; the next are within its interval
    with django_assert_max_num_queries(12):
        assert client.get(url).json()["status"] == "pending"


def test_no_promptpay_offer_when_it_is_off(failing_member, time_machine, settings):
    settings.PROMPTPAY_ROUTE = "off"
    membership = failing_member("tok_decline_lost_card")
    fail_renewal(time_machine)
    (notice,) = [m for m in mail.outbox if "didn't go through" in m.subject]
    assert "PromptPay" not in notice.subject and "please add a new card" in notice.subject
    case = case_of(membership)
    link = _path(pay_url(case.member_id, case.invoice_id))
    client = Client()
    assert 'id="promptpay-offer"' not in client.get(link).content.decode()
    refused = client.post(link, {"action": "pay_promptpay"})
    assert refused.status_code == 200
    assert "PromptPay cannot be used for this payment just now" in refused.content.decode()
    assert not PromptPayRequest.objects.exists()
