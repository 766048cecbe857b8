"""A first invoice with no card on file is not a failed payment.

A member signed up at the desk without a card has an open invoice to pay at the desk.
Nothing was ever charged, so nothing failed: no failed attempt, no "payment failed"
email or SMS, no dunning case.  A renewal with no card on file still fails as before
(``test_billing_run``).
"""

from __future__ import annotations

import pytest
from django.core import mail

from billing.errors import PaymentNotAllowed
from billing.models import (
    AttemptTrigger,
    Invoice,
    InvoiceStatus,
    MembershipStatus,
    PaymentAttempt,
    PaymentSource,
)
from billing.services import invoices, memberships, payments
from dunning.models import DunningCase, DunningEvent, DunningMessage
from dunning.services.run import dunning_run
from dunning.sms import locmem
from members.models import MemberStatus
from tests.billing.factories import PlanFactory, card
from tests.dunning.conftest import seed_policy
from tests.factories import MemberFactory

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def _quiet_outboxes(settings):
    seed_policy()
    settings.DUNNING_SMS_BACKEND = "dunning.sms.locmem.LocmemSmsBackend"
    settings.DUNNING_HOOK_ERRORS_RAISE = True
    mail.outbox = []
    locmem.outbox.clear()


def _nothing_failed() -> None:
    assert not PaymentAttempt.objects.exists()
    assert not DunningCase.objects.exists()
    assert not DunningEvent.objects.exists()
    assert not DunningMessage.objects.exists()
    assert [m.subject for m in mail.outbox] == []
    assert list(locmem.outbox) == []


def test_a_sign_up_without_a_card_leaves_an_open_invoice_and_no_failure():
    member = MemberFactory(transactional_sms=True, transactional_email=True)

    membership = memberships.membership_sign_up(member, PlanFactory(joining_fee=50_000))
    dunning_run()  # whatever dunning would do today, it does now

    membership.refresh_from_db()
    member.refresh_from_db()
    invoice = Invoice.objects.get(membership=membership)
    assert (invoice.status, invoice.amount_due) == (InvoiceStatus.OPEN, 200_000)
    assert membership.status == MembershipStatus.PENDING
    assert member.status == MemberStatus.PROSPECT
    _nothing_failed()


def test_charging_such_an_invoice_says_there_is_no_card_and_records_nothing():
    member = MemberFactory()
    membership = memberships.membership_sign_up(member, PlanFactory())
    invoice = Invoice.objects.get(membership=membership)

    with pytest.raises(PaymentNotAllowed) as refused:
        payments.invoice_charge(invoice, trigger=AttemptTrigger.STAFF)

    assert refused.value.reason == "no_payment_method"
    assert "no card on file" in refused.value.message
    _nothing_failed()


def test_paying_it_at_the_desk_activates_the_membership_without_any_dunning():
    member = MemberFactory()
    membership = memberships.membership_sign_up(member, PlanFactory())
    invoice = Invoice.objects.get(membership=membership)

    invoices.payment_record_manual(invoice, amount=invoice.amount_due, source=PaymentSource.CASH)

    membership.refresh_from_db()
    assert membership.status == MembershipStatus.ACTIVE
    assert not DunningCase.objects.exists()
    assert not PaymentAttempt.objects.exists()


def test_a_sign_up_with_a_card_is_still_charged_at_once():
    member = MemberFactory()
    card(member)

    membership = memberships.membership_sign_up(member, PlanFactory())

    membership.refresh_from_db()
    assert membership.status == MembershipStatus.ACTIVE
    assert PaymentAttempt.objects.get().status == "succeeded"
