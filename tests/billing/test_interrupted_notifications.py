"""Receipts and pay links whose send was interrupted: never sent twice, never lost silently.

A sender that dies between claiming a notification and recording its outcome leaves a
claim behind.  After a safe delay the provider (the sandbox outbox, which can be asked)
says whether it got the message: if it did, the claim is recorded as sent; if it did
not, the message goes again, once; where the provider cannot be asked, the row says so.
"""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from billing.models import Invoice, Notification
from billing.services.notifications import (
    INTERRUPTED_UNSURE,
    notification_reference,
    notifications_settle_interrupted,
    receipt_send,
)
from config import outbox
from dunning.models import PayLinkMessage, PayLinkStatus
from dunning.services.paylinks import pay_link_reference, pay_links_settle_interrupted
from tests.billing.factories import PlanFactory, signed_up

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def sandbox_provider(settings):
    settings.EMAIL_BACKEND = "config.outbox.SandboxEmailBackend"
    settings.DUNNING_SMS_BACKEND = "dunning.sms.sandbox.SandboxSmsBackend"
    outbox.reset()
    yield
    outbox.reset()


def paid_invoice() -> Invoice:
    membership = signed_up(plan=PlanFactory())
    return Invoice.objects.get(membership=membership)


def interrupted(note: Notification) -> None:
    """As a sender that died after its claim: unsent, no error, claimed long ago."""
    Notification.objects.filter(pk=note.pk).update(
        sent_at=None, error="", created_at=timezone.now() - dt.timedelta(minutes=30)
    )


def test_a_receipt_the_provider_never_got_is_sent_again_once(sandbox_provider):
    invoice = paid_invoice()
    Notification.objects.filter(key=f"receipt:{invoice.pk}").delete()
    # The claim was written, the process died before the email left.
    note = Notification.objects.create(
        member=invoice.member, kind="receipt", key=f"receipt:{invoice.pk}", subject="Receipt"
    )
    interrupted(note)
    assert notifications_settle_interrupted() == {"sent": 0, "resent": 1, "unsure": 0}
    again = Notification.objects.get(key=f"receipt:{invoice.pk}")
    assert again.sent_at is not None
    assert outbox.received(notification_reference(again)) == 1
    assert notifications_settle_interrupted() == {"sent": 0, "resent": 0, "unsure": 0}


def test_a_receipt_the_provider_has_is_recorded_as_sent_not_sent_again(sandbox_provider):
    invoice = paid_invoice()
    Notification.objects.filter(key=f"receipt:{invoice.pk}").delete()
    note = receipt_send(invoice)
    assert note is not None
    interrupted(note)  # sent, but the outcome was never recorded
    assert notifications_settle_interrupted() == {"sent": 1, "resent": 0, "unsure": 0}
    note.refresh_from_db()
    assert note.sent_at is not None
    assert outbox.received(notification_reference(note)) == 1


def test_where_the_provider_cannot_be_asked_the_notification_says_so(settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.dummy.EmailBackend"
    invoice = paid_invoice()
    note = Notification.objects.get(key=f"receipt:{invoice.pk}")
    interrupted(note)
    assert notifications_settle_interrupted()["unsure"] == 1
    note.refresh_from_db()
    assert (note.sent_at, note.error) == (None, INTERRUPTED_UNSURE)


def test_a_pay_link_left_sending_is_settled_by_asking_the_provider(sandbox_provider):
    from dunning.services.paylinks import pay_link_send

    membership = signed_up(plan=PlanFactory(), token="tok_decline_insufficient_funds")
    invoice = Invoice.objects.get(membership=membership)
    message = pay_link_send(membership.member, invoice, channel="sms", request_key="k1")
    assert message.status == PayLinkStatus.SENT
    assert outbox.received(pay_link_reference(message)) == 1
    # Another link whose sender died after its claim, before the provider got it.
    lost = PayLinkMessage.objects.create(
        member=message.member,
        invoice=invoice,
        channel="sms",
        language="en",
        request_key="k2",
        status=PayLinkStatus.SENDING,
        created_at=message.created_at - dt.timedelta(hours=1),
    )
    # And the first one, as if its outcome had never been recorded.
    PayLinkMessage.objects.filter(pk=message.pk).update(
        status=PayLinkStatus.SENDING, created_at=message.created_at - dt.timedelta(hours=1)
    )
    assert pay_links_settle_interrupted() == 2
    assert dict(
        PayLinkMessage.objects.filter(pk__in=[message.pk, lost.pk]).values_list("pk", "status")
    ) == {message.pk: PayLinkStatus.SENT, lost.pk: PayLinkStatus.SENT}
    assert outbox.received(pay_link_reference(message)) == 1
    assert outbox.received(pay_link_reference(lost)) == 1
