"""The hosted pay page as a browser meets it: its referrer policy keeps the link private
without breaking the CSRF check, a new card only replaces the card on file once it has
paid, one clear error for a card number, the amount paid with a receipt for each invoice,
and the gym's phone a tap away.  (tests/browser/test_pay_page.py drives it in Chromium.)"""

from __future__ import annotations

import re

import pytest
from django.test import Client
from django.urls import reverse

from billing.gateways import get_gateway
from billing.models import Invoice, InvoiceStatus, LineKind, PaymentMethod, PaymentMethodStatus
from billing.services import invoices as inv
from billing.services.payments import default_payment_method
from dunning.links import make_token
from members.models import Member
from tests.billing.factories import card
from tests.factories import MemberFactory

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _fresh_bank() -> None:
    get_gateway("sandbox").reset()


def owed(member: Member, amount: int = 80_000, what: str = "Membership") -> Invoice:
    return inv.invoice_create(
        member=member,
        currency="THB",
        reason="manual",
        specs=[inv.LineSpec(LineKind.OTHER, what, amount, 700, inclusive=True)],
    )


def page_url(member: Member, invoice: Invoice) -> str:
    return reverse("dunning:pay", args=[make_token(member.pk, invoice.pk)])


def test_the_page_keeps_the_link_private_but_its_own_forms_keep_their_origin(gym):
    member = MemberFactory()
    url = page_url(member, owed(member))
    client = Client(enforce_csrf_checks=True)
    response = client.get(url)
    assert response["Referrer-Policy"] == "same-origin"
    assert '<meta name="referrer" content="same-origin">' in response.content.decode()

    token = client.cookies["csrftoken"].value
    # What a browser sends under this policy: the page's own origin, so the check passes
    # (under "no-referrer" Chromium sent "Origin: null" and every payment was refused).
    refused = client.post(
        url, {"action": "pay_saved", "csrfmiddlewaretoken": token}, HTTP_ORIGIN="null"
    )
    assert refused.status_code == 403
    accepted = client.post(
        url,
        {"action": "pay_saved", "csrfmiddlewaretoken": token},
        HTTP_ORIGIN="http://testserver",
    )
    assert accepted.status_code == 200


def test_paying_shows_the_amount_and_a_receipt_for_each_invoice(gym):
    member = MemberFactory()
    card(member)
    first = owed(member, 80_000)
    url = page_url(member, first)

    response = Client().post(url, {"action": "pay_saved"})

    text = response.content.decode()
    assert "Paid now: ฿800.00" in text
    receipts = re.findall(r'href="(/pay/[^"]+/receipt/\d+/)"', text)
    assert receipts == [reverse("dunning:receipt", args=[url.split("/")[2], first.pk])]
    receipt = Client().get(receipts[0])
    assert receipt.status_code == 200
    page = receipt.content.decode()
    assert first.number in page and "฿800.00" in page and "Paid in full" in page
    assert "Visa •••• " in page or "Mastercard •••• " in page


def test_a_receipt_opens_only_for_the_links_member_and_a_paid_invoice(gym):
    member, other = MemberFactory(), MemberFactory()
    invoice, theirs = owed(member), owed(other)
    token = make_token(member.pk, invoice.pk)

    unpaid = Client().get(reverse("dunning:receipt", args=[token, invoice.pk]))
    assert unpaid.status_code == 404 and "no payment on this invoice" in unpaid.content.decode()
    assert Client().get(reverse("dunning:receipt", args=[token, theirs.pk])).status_code == 404
    assert Client().get(reverse("dunning:receipt", args=[token, "x1"])).status_code == 404
    forged = reverse("dunning:receipt", args=[token[:-2] + "xx", invoice.pk])
    assert Client().get(forged).status_code == 400


def test_a_receipt_is_in_the_members_language_with_the_buddhist_year(gym):
    member = MemberFactory(language="th")
    card(member)
    invoice = owed(member)
    url = page_url(member, invoice)
    Client().post(url, {"action": "pay_saved"})
    invoice.refresh_from_db()

    page = Client().get(reverse("dunning:receipt", args=[url.split("/")[2], invoice.pk]))

    text = page.content.decode()
    assert "ใบเสร็จรับเงิน" in text and "ชำระครบแล้ว" in text
    assert str(invoice.issued_at.year + 543) in text


def test_a_declined_new_card_never_replaces_the_card_on_file(gym):
    member = MemberFactory()
    on_file = card(member)
    url = page_url(member, owed(member))

    response = Client().post(
        url, {"action": "pay_new", "card_token": "tok_decline_insufficient_funds.new"}
    )

    assert "declined" in response.content.decode()
    assert default_payment_method(member.pk) == on_file
    declined = PaymentMethod.objects.get(token__startswith="tok_decline_insufficient_funds")
    assert declined.status == PaymentMethodStatus.DETACHED and not declined.is_default


def test_a_new_card_that_pays_becomes_the_card_on_file(gym):
    member = MemberFactory()
    card(member, "tok_decline_insufficient_funds")
    invoice = owed(member)

    Client().post(page_url(member, invoice), {"action": "pay_new", "card_token": "tok_ok.new"})

    invoice.refresh_from_db()
    assert invoice.status == InvoiceStatus.PAID
    assert default_payment_method(member.pk).token.startswith("tok_ok.new")


@pytest.mark.parametrize(("answer", "becomes_default"), [("approve", True), ("refuse", False)])
def test_a_new_card_waiting_for_the_bank_replaces_the_card_on_file_only_if_confirmed(
    gym, answer, becomes_default
):
    member = MemberFactory()
    on_file = card(member)
    url = page_url(member, owed(member))
    client = Client()
    asked = client.post(url, {"action": "pay_new", "card_token": "tok_requires_action.new"})
    attempt = re.search(r'name="attempt" value="(\d+)"', asked.content.decode())
    assert attempt is not None
    assert default_payment_method(member.pk) == on_file  # not while the bank decides

    done = client.post(url, {"action": "authenticated", "attempt": attempt[1], "answer": answer})

    new = PaymentMethod.objects.get(token__startswith="tok_requires_action")
    if becomes_default:
        assert "Paid now: ฿800.00" in done.content.decode()
        assert default_payment_method(member.pk) == new
    else:
        assert default_payment_method(member.pk) == on_file
        assert new.status == PaymentMethodStatus.DETACHED


def test_a_card_number_gets_one_clear_error(gym):
    member = MemberFactory()
    url = page_url(member, owed(member))

    response = Client().post(url, {"action": "pay_new", "card_token": "4242 4242 4242 4242"})

    errors = re.findall(r"<li>([^<]+)</li>", response.content.decode())
    assert errors == ["Never type a card number here. Use the secure card form."]
    empty = Client().post(url, {"action": "pay_new", "card_token": ""})
    assert re.findall(r"<li>([^<]+)</li>", empty.content.decode()) == ["Enter the new card first."]


def test_the_gyms_phone_is_a_tap_to_call_link(gym):
    member = MemberFactory()
    page = Client().get(page_url(member, owed(member))).content.decode()
    assert '<a href="tel:+6621234567" id="gym-phone">+66 2 123 4567</a>' in page
