"""Invoices, the member account, credit notes, refunds, card updates and notifications."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core import mail

from billing.errors import InvoiceImmutable, PaymentNotAllowed, RefundNotAllowed
from billing.gateways import get_gateway
from billing.models import (
    CreditNote,
    Invoice,
    InvoiceStatus,
    LedgerKind,
    LineKind,
    MembershipStatus,
    Notification,
    PaymentMethod,
)
from billing.services import invoices as inv
from billing.services import notifications, payments, refunds
from billing.services.run import billing_run
from billing.services.webhooks import webhook_receive
from members.services import member_update
from tests.billing.factories import PlanFactory, card, signed_up
from tests.factories import MemberFactory

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def _fresh_bank():
    get_gateway("sandbox").reset()


def towel(amount=10_000):
    return inv.LineSpec(LineKind.OTHER, "Towel", amount, 700, inclusive=True)


def test_issued_invoice_has_number_tax_and_seller_id():
    from members.models import GymProfile

    GymProfile.objects.create(name="Gym", tax_id="0105500000000")
    invoice = inv.invoice_create(
        member=MemberFactory(), currency="THB", reason="manual", specs=[towel(107_00)]
    )
    assert invoice.number.startswith("INV-") and invoice.status == InvoiceStatus.OPEN
    assert (invoice.subtotal, invoice.tax_total, invoice.total) == (10_000, 700, 10_700)
    assert invoice.seller_tax_id == "0105500000000"


def test_account_charges_and_credit_are_applied_to_the_next_invoice():
    membership = signed_up()
    payer = membership.payer
    inv.ledger_post(
        payer,
        kind=LedgerKind.ACCOUNT_CHARGE,
        amount=25_000,
        currency="THB",
        description="Protein shake",
        reference="pos:1",
    )
    inv.ledger_post(
        payer,
        kind=LedgerKind.ACCOUNT_CHARGE,
        amount=25_000,
        currency="THB",
        description="Protein shake",
        reference="pos:1",
    )  # same sale twice: once
    assert inv.account_balance(payer, "THB") == 25_000
    billing_run(membership.next_billing_date, fan_out=False)
    renewal = Invoice.objects.get(membership=membership, billing_reason="cycle")
    assert renewal.total == membership.plan.price + 25_000
    assert inv.account_balance(payer, "THB") == 0
    inv.ledger_post(
        payer,
        kind=LedgerKind.DEPOSIT,
        amount=40_000,
        currency="THB",
        description="Deposit",
        reference="pos:2",
    )
    invoice = inv.invoice_create(member=payer, currency="THB", reason="manual", specs=[towel()])
    assert invoice.total == 0 and invoice.status == InvoiceStatus.PAID
    assert inv.account_balance(payer, "THB") == -30_000


def test_partial_and_over_payments():
    invoice = inv.invoice_create(
        member=MemberFactory(), currency="THB", reason="manual", specs=[towel(10_000)]
    )
    inv.payment_record_manual(invoice, amount=4_000, source="cash")
    invoice.refresh_from_db()
    assert (invoice.status, invoice.amount_due) == (InvoiceStatus.OPEN, 6_000)
    # More than is owed is refused at the desk (a typo, not credit), and nothing is saved.
    with pytest.raises(PaymentNotAllowed) as refused:
        inv.payment_record_manual(invoice, amount=7_000, source="promptpay")
    assert refused.value.reason == "amount_above_due"
    assert invoice.payments.count() == 1
    inv.payment_record_manual(invoice, amount=6_000, source="promptpay")
    invoice.refresh_from_db()
    assert invoice.status == InvoiceStatus.PAID
    assert inv.account_balance(invoice.member, "THB") == 0
    with pytest.raises(PaymentNotAllowed):
        inv.payment_record_manual(invoice, amount=1_000, source="cash")
    with pytest.raises(PaymentNotAllowed):
        inv.payment_record_manual(invoice, amount=1_000, source="card")


def test_void_and_credit_note_rules():
    invoice = inv.invoice_create(
        member=MemberFactory(), currency="THB", reason="manual", specs=[towel(10_000)]
    )
    note = inv.credit_note_issue(invoice, amount=10_000, reason="Waived")
    invoice.refresh_from_db()
    assert note.number.startswith("CN-") and invoice.status == InvoiceStatus.PAID
    with pytest.raises(InvoiceImmutable):
        inv.credit_note_issue(invoice, amount=1, reason="too much")
    with pytest.raises(InvoiceImmutable):
        inv.invoice_void(invoice)
    other = inv.invoice_create(
        member=MemberFactory(), currency="THB", reason="manual", specs=[towel()]
    )
    assert inv.invoice_void(other).status == InvoiceStatus.VOID
    with pytest.raises(InvoiceImmutable):
        inv.invoice_issue(other)


def test_card_refund_goes_through_the_gateway_with_a_credit_note():
    membership = signed_up()
    invoice = Invoice.objects.get(membership=membership)
    payment = invoice.payments.get()
    refund = refunds.payment_refund(payment, amount=50_000, reason="Goodwill")
    assert refund.succeeded
    assert CreditNote.objects.get(refund=refund).amount == 50_000
    sandbox = get_gateway("sandbox")
    assert sandbox.total_refunded(payment.attempt.gateway_reference) == 50_000
    with pytest.raises(RefundNotAllowed):
        refunds.payment_refund(payment, amount=invoice.total, reason="More than paid")


def test_card_updater_event_refreshes_the_stored_card():
    member = MemberFactory()
    method = card(member, "tok_ok.cu1")
    sandbox = get_gateway("sandbox")
    event = sandbox.simulate_card_update(method.token, exp_month=9, exp_year=2031)
    payload = sandbox.event_payload(event)
    assert webhook_receive("sandbox", payload, sandbox.sign_webhook(payload)) == "card_updated"
    method.refresh_from_db()
    assert (method.exp_month, method.exp_year) == (9, 2031)
    assert webhook_receive("sandbox", payload, sandbox.sign_webhook(payload)) == "duplicate"


def test_default_payment_method_is_unique_per_payer():
    member = MemberFactory()
    first, second = card(member, "tok_ok.d1"), card(member, "tok_ok.d2")
    assert list(PaymentMethod.objects.filter(member=member, is_default=True)) == [second]
    payments.payment_method_set_default(first)
    assert list(PaymentMethod.objects.filter(member=member, is_default=True)) == [first]


def test_renewal_reminder_for_quarterly_plans_three_days_ahead_in_both_languages():
    plan = PlanFactory(interval_count=3, price=429_000)
    english = signed_up(plan=plan)
    thai = signed_up(plan=plan)
    member_update(thai.member, language="th")
    monthly = signed_up()
    mail.outbox.clear()
    day = english.next_billing_date - dt.timedelta(days=3)
    assert notifications.renewal_reminders_send(day) == 2
    assert notifications.renewal_reminders_send(day) == 0  # once only
    subjects = sorted(m.subject for m in mail.outbox)
    assert any("renews on" in s for s in subjects)
    assert any("ต่ออายุ" in s for s in subjects)
    assert not Notification.objects.filter(member=monthly.member, kind="renewal_reminder").exists()


def test_card_expiring_reminders_at_thirty_and_seven_days():
    member = MemberFactory()
    card(member, "tok_ok.exp")
    method = PaymentMethod.objects.get(member=member)
    method.exp_month, method.exp_year = 3, 2027
    method.save()
    assert notifications.card_expiring_reminders_send(dt.date(2027, 2, 1)) == 0
    assert notifications.card_expiring_reminders_send(dt.date(2027, 3, 5)) == 1
    assert notifications.card_expiring_reminders_send(dt.date(2027, 3, 6)) == 0
    assert notifications.card_expiring_reminders_send(dt.date(2027, 3, 26)) == 1
    keys = set(Notification.objects.filter(kind="card_expiring").values_list("key", flat=True))
    assert len(keys) == 2


def test_every_billing_email_template_exists_in_english_and_thai():
    from django.template.loader import get_template

    for kind in ("receipt", "renewal_reminder", "card_expiring"):
        for language in ("en", "th"):
            assert get_template(f"emails/billing/{kind}.{language}.txt")


def test_thai_member_gets_a_thai_receipt():
    member = MemberFactory(language="th")
    mail.outbox.clear()
    signed_up(member=member)
    (receipt,) = [m for m in mail.outbox if m.to == [member.email]]
    assert "ใบเสร็จรับเงิน" in receipt.subject
    assert "฿" in receipt.body


def test_recovery_by_any_route_restores_the_membership():
    membership = signed_up()
    membership.payment_method = card(membership.member, "tok_decline_insufficient_funds.r1")
    membership.save()
    billing_run(membership.next_billing_date, fan_out=False)
    membership.refresh_from_db()
    assert membership.status == MembershipStatus.PAST_DUE
    unpaid = Invoice.objects.get(membership=membership, status=InvoiceStatus.OPEN)
    inv.payment_record_manual(unpaid, amount=unpaid.amount_due, source="cash")
    membership.refresh_from_db()
    assert membership.status == MembershipStatus.ACTIVE


def test_a_pack_is_sold_on_an_invoice_and_its_last_visit_is_taken_once():
    from billing.models import Pack
    from billing.services.packs import pack_purchase, pack_visit_take

    member = MemberFactory()
    card(member, "tok_ok.pack")
    pack = Pack.objects.create(
        code="v2", name="2 visits", kind="visits", quantity=2, valid_days=30, price=50_000
    )
    purchase = pack_purchase(member, pack)
    purchase.invoice.refresh_from_db()
    assert purchase.invoice.status == InvoiceStatus.PAID
    assert purchase.expires_on - purchase.valid_from == dt.timedelta(days=30)
    assert [pack_visit_take(purchase.pk) for _ in range(3)] == [True, True, False]
    purchase.refresh_from_db()
    assert purchase.remaining == 0


def test_paying_the_overdue_invoice_restores_even_with_a_future_invoice_open():
    membership = signed_up()
    membership.payment_method = card(membership.member, "tok_decline_insufficient_funds.s1")
    membership.save()
    billing_run(membership.next_billing_date, fan_out=False)
    overdue = Invoice.objects.get(membership=membership, status=InvoiceStatus.OPEN)
    later = inv.invoice_create(
        member=membership.payer,
        currency="THB",
        reason="fee",
        specs=[towel()],
        membership_id=membership.pk,
        issue=False,
    )
    later.due_on = overdue.due_on + dt.timedelta(days=60)
    inv.invoice_issue(later)
    inv.payment_record_manual(overdue, amount=overdue.amount_due, source="cash")
    membership.refresh_from_db()
    assert membership.status == MembershipStatus.ACTIVE


def test_a_new_default_card_takes_over_pinned_memberships_and_detached_cards_fall_back():
    membership = signed_up()
    old = card(membership.member, "tok_ok.pin-old")
    membership.payment_method = old
    membership.save()
    new = card(membership.member, "tok_ok.pin-new")
    membership.refresh_from_db()
    assert membership.payment_method == new
    payments.payment_method_detach(new)
    membership.refresh_from_db()
    assert membership.payment_method is None


def test_no_receipt_for_an_invoice_settled_by_credit_alone():
    invoice = inv.invoice_create(
        member=MemberFactory(), currency="THB", reason="manual", specs=[towel()]
    )
    inv.credit_note_issue(invoice, amount=invoice.total, reason="Waived")
    assert not Notification.objects.filter(key=f"receipt:{invoice.pk}").exists()


def test_receipts_for_a_batch_go_out_once_in_a_fixed_number_of_queries():
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    def paid_invoices(count):
        return [signed_up().member.invoices.get() for _ in range(count)]

    def queries_for(invoices):
        Notification.objects.filter(key__in=[f"receipt:{i.pk}" for i in invoices]).delete()
        mail.outbox.clear()
        with CaptureQueriesContext(connection) as captured:
            assert notifications.receipts_send([i.pk for i in invoices]) == len(invoices)
        assert sorted(m.to[0] for m in mail.outbox) == sorted(i.member.email for i in invoices)
        return len(captured)

    one, three = paid_invoices(1), paid_invoices(3)
    assert queries_for(one) == queries_for(three)
    mail.outbox.clear()
    assert notifications.receipts_send([i.pk for i in three]) == 0  # each key once
    assert not mail.outbox
    note = Notification.objects.get(key=f"receipt:{three[0].pk}")
    assert note.sent_at is not None and note.kind == "receipt" and note.subject
