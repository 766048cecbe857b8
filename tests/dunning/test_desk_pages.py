"""Dunning at the desk: sending a pay link on request, and the case page in words."""

from __future__ import annotations

import re

import pytest
from django.core import mail
from django.test import Client

from dunning.models import DunningCase, DunningEvent, EventKind, PayLinkMessage, PayLinkStatus
from dunning.services.paylinks import pay_link_send
from dunning.sms import locmem
from members import roles
from tests.billing.factories import PlanFactory
from tests.dunning.conftest import local
from tests.dunning.helpers import case_of, fail_renewal, run_at
from tests.factories import MemberFactory

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def desk(make_staff):
    client = Client()
    client.force_login(make_staff(roles.FRONT_DESK))
    return client


def text(response) -> str:
    return re.sub(r"\s+", " ", response.content.decode())


def send_page(client, member):
    return client.get(f"/admin/dunning/dunningcase/send-pay-link/{member.pk}/")


def send(client, member, channel, key=None):
    page = send_page(client, member)
    form = page.context["form"]
    return client.post(
        f"/admin/dunning/dunningcase/send-pay-link/{member.pk}/",
        {
            "invoice": form.initial["invoice"],
            "channel": channel,
            "request_key": key or form.initial["request_key"],
        },
    )


def test_a_pay_link_goes_by_sms_once_per_submission_and_opens_the_pay_page(
    desk, failing_member, time_machine, client
):
    membership = failing_member("tok_decline_insufficient_funds")
    fail_renewal(time_machine)
    member = membership.member
    locmem.outbox.clear()

    first = send(desk, member, "sms", key="one-submission-key")
    again = send(desk, member, "sms", key="one-submission-key")

    assert first.status_code == again.status_code == 302
    (sms,) = locmem.outbox
    assert sms.to == member.phone
    link = re.search(r"https://gym\.example/pay/\S+", sms.body).group(0)
    assert client.get(link.replace("https://gym.example", "")).status_code == 200
    sent = PayLinkMessage.objects.get()
    assert (sent.status, sent.channel, sent.recipient) == (PayLinkStatus.SENT, "sms", member.phone)
    case = case_of(membership)
    assert DunningEvent.objects.filter(case=case, kind=EventKind.PAY_LINK_SENT).count() == 1


def test_a_pay_link_by_email_for_an_invoice_left_open_at_sign_up(desk, gym):
    from billing.services.memberships import membership_sign_up

    member = MemberFactory(language="th")
    membership_sign_up(member, PlanFactory(price=90_000))  # no card: the invoice stays open
    mail.outbox = []

    response = send(desk, member, "email")

    assert response.status_code == 302
    (email,) = mail.outbox
    assert email.to == [member.email]
    assert "฿900.00" in email.body and "/pay/" in email.body
    assert "ลิงก์" in email.subject  # in the member's language


def test_a_member_who_turned_billing_sms_off_is_refused_on_the_page(desk, gym):
    from billing.services.memberships import membership_sign_up

    member = MemberFactory(transactional_sms=False)
    membership_sign_up(member, PlanFactory())
    response = send(desk, member, "sms")
    assert response.status_code == 200
    assert "turned off billing messages" in text(response)
    assert not PayLinkMessage.objects.exists() and list(locmem.outbox) == []


def test_a_pay_link_is_only_for_the_members_own_open_invoices(gym):
    from billing.models import Invoice
    from billing.services.memberships import membership_sign_up
    from dunning.errors import DunningActionRefused

    mine, theirs = MemberFactory(), MemberFactory()
    membership_sign_up(theirs, PlanFactory())
    with pytest.raises(DunningActionRefused) as refused:
        pay_link_send(mine, Invoice.objects.get(), channel="sms", request_key="k")
    assert refused.value.reason == "invoice_not_members"


def test_the_case_page_reads_as_a_list_at_local_times_with_no_ids_or_data(
    desk, failing_member, time_machine
):
    membership = failing_member("tok_decline_insufficient_funds")
    fail_renewal(time_machine)
    run_at(time_machine, local(2026, 4, 8, 11))  # day 3: the reminder
    case = case_of(membership)

    page = desk.get(f"/admin/dunning/dunningcase/{case.pk}/change/")

    html = text(page)
    timeline = html[html.index('id="case-timeline"') :]
    assert "5 Apr 2026 10:00" in timeline  # the failure, at the gym's local time
    assert "Declined: Insufficient funds (insufficient_funds)." in timeline
    assert "Sent the reminder by Email." in timeline
    assert "{" not in timeline and "attempt_id" not in timeline and "UTC" not in timeline
    assert 'id="overdue-alert"' in html
    assert f"/admin/billing/invoice/take-payment/{membership.member_id}/?next=" in html
    assert "฿1,500.00" in html


def test_the_case_page_and_the_member_page_read_in_thai(desk, failing_member, time_machine):
    membership = failing_member("tok_decline_insufficient_funds")
    fail_renewal(time_machine)
    case = DunningCase.objects.get()
    html = text(
        desk.get(f"/admin/dunning/dunningcase/{case.pk}/change/", HTTP_ACCEPT_LANGUAGE="th")
    )
    for thai in ("ค้างชำระ", "รับชำระเงิน", "ลำดับเหตุการณ์", "ถูกปฏิเสธ"):
        assert thai in html, thai
    member_page = text(
        desk.get(f"/admin/members/member/{membership.member_id}/change/", HTTP_ACCEPT_LANGUAGE="th")
    )
    assert "ส่งลิงก์ชำระเงิน" in member_page and "เคสติดตามหนี้" in member_page
