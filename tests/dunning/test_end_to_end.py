"""The issue's acceptance story, start to finish, on PostgreSQL with the clock moving.

A card declines with insufficient funds; the member is told at once; retries run on
paydays; on day 10 the membership is suspended; the member pays through the signed
link on the hosted page; pending retries are cancelled and the thank-you goes out.
The turnstile is real: a device on the gym floor reads the member's card through the
access API at each step, so "access pauses" and "access is back" are what the gate says.
"""

from __future__ import annotations

import datetime as dt
import re

import pytest
from django.core import mail
from django.core.management import call_command
from django.test import Client

from access_control.services import credential_issue, device_create
from billing.models import (
    AttemptTrigger,
    InvoiceStatus,
    Location,
    MembershipStatus,
    PaymentAttempt,
    Zone,
)
from billing.services.run import billing_run
from dunning.models import (
    CaseStatus,
    DunningCase,
    EventKind,
    MessageStatus,
    RecoveryRoute,
    RetryStatus,
)
from dunning.sms import locmem
from members.models import MemberNote
from tests.access_control.helpers import check, device_client
from tests.dunning.conftest import local

pytestmark = pytest.mark.django_db(transaction=True)


def run_on(time_machine, when: dt.datetime) -> None:
    time_machine.move_to(when, tick=False)
    call_command("run_dunning", no_progress=True)


def test_insufficient_funds_to_suspension_to_payment_by_link(failing_member, time_machine):
    membership = failing_member("tok_decline_insufficient_funds")
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

    def gate() -> dict:
        return check(turnstile, uid, direction="in")

    assert gate()["granted"] is True

    # Day 0, 5 April: the renewal declines.
    time_machine.move_to(local(2026, 4, 5, 10), tick=False)
    mail.outbox = []
    billing_run(dt.date(2026, 4, 5), fan_out=False)
    case = DunningCase.objects.get(invoice__membership=membership)
    assert (case.status, case.last_decline_category) == (CaseStatus.OPEN, "funds")
    membership.refresh_from_db()
    assert membership.status == MembershipStatus.PAST_DUE

    # The failed-payment notice goes out at once, by email and SMS, with one link.
    (notice,) = [m for m in mail.outbox if "didn't go through" in m.subject]
    assert case.invoice.number in notice.subject
    assert "฿1,500.00" in notice.body
    (sms,) = locmem.outbox
    assert sms.to == member.phone and case.invoice.number in sms.body
    link = re.search(r"https://gym\.example(/pay/[^\s]+/)", notice.body)
    assert link is not None
    # An alert waits for the front desk on the member's record.
    assert MemberNote.objects.filter(
        member=member, is_alert=True, resolved_at__isnull=True
    ).exists()

    # Retries are aimed at the Thai paydays until the ladder cancels (day 30): the 16th
    # (civil service), 24th (the 25th is a Saturday), 27th and 30th April at 10:00, the
    # rest of the budget of 8 in the long stretch before them.
    retries = list(case.retries.filter(status=RetryStatus.PENDING).order_by("due_at"))
    due = [r.due_at for r in retries]
    assert len(due) == 8
    assert {local(2026, 4, 16), local(2026, 4, 24), local(2026, 4, 27), local(2026, 4, 30)} <= set(
        due
    )

    # Day 3 reminder, day 7 warning at the gate.
    run_on(time_machine, local(2026, 4, 8, 9))
    assert any(m.subject.startswith("Reminder:") for m in mail.outbox)
    run_on(time_machine, local(2026, 4, 12, 9))
    membership.refresh_from_db()
    assert membership.access_warning is True
    assert membership.status == MembershipStatus.PAST_DUE
    warned = gate()
    assert warned["granted"] is True
    assert [w["code"] for w in warned["warnings"]] == ["grace_period"]
    assert any("access pauses on 15 April 2026" in m.subject for m in mail.outbox)

    # Day 10, 15 April: suspended at the start of the day; the retries made so far (in the
    # stretch before the first payday) all failed.
    run_on(time_machine, local(2026, 4, 15, 0, 5))
    membership.refresh_from_db()
    assert membership.status == MembershipStatus.SUSPENDED
    time_machine.move_to(local(2026, 4, 15, 7), tick=False)
    denied = gate()
    assert (denied["granted"], denied["reason"]) == (False, "membership_suspended")
    run_on(time_machine, local(2026, 4, 15, 10))
    retried = PaymentAttempt.objects.filter(invoice=case.invoice, trigger=AttemptTrigger.RETRY)
    made = retried.count()
    assert made >= 1 and not retried.exclude(status="failed").exists()
    assert retried.filter(created_at__gt=local(2026, 4, 15, 10)).count() == 0
    run_on(time_machine, local(2026, 4, 15, 11))  # nothing more is due today
    assert retried.count() == made

    # The member opens the link in the SMS... and pays with a new card on the hosted page.
    time_machine.move_to(local(2026, 4, 15, 18), tick=False)
    client = Client()
    page = client.get(link.group(1))
    assert page.status_code == 200
    assert "฿1,500.00" in page.content.decode()
    mail.outbox = []
    paid = client.post(link.group(1), {"action": "pay_new", "card_token": f"tok_ok.new{member.pk}"})
    assert paid.status_code == 200
    assert "Thank you" in paid.content.decode()

    case.refresh_from_db()
    assert case.status == CaseStatus.RECOVERED
    assert case.recovered_route == RecoveryRoute.MEMBER
    assert case.recovered_channel == "email"
    assert case.time_to_recover == local(2026, 4, 15, 18) - local(2026, 4, 5, 10)
    case.invoice.refresh_from_db()
    assert case.invoice.status == InvoiceStatus.PAID
    # Access is back at once: billing restored the membership and the very next read grants.
    membership.refresh_from_db()
    assert membership.status == MembershipStatus.ACTIVE
    assert membership.access_warning is False
    welcome = gate()
    assert welcome["granted"] is True and welcome["warnings"] == []
    # The 16 April retry is cancelled, and the thank-you is sent.
    assert case.retries.filter(status=RetryStatus.PENDING).count() == 0
    on_16th = case.retries.filter(due_at=local(2026, 4, 16))
    assert on_16th.exists()
    assert set(on_16th.values_list("status", flat=True)) == {RetryStatus.CANCELLED}
    thanks = [m for m in mail.outbox if m.subject.startswith("Thank you")]
    assert len(thanks) == 1 and "access to the gym" in thanks[0].body
    assert case.messages.filter(template="thanks", status=MessageStatus.SENT).exists()
    assert not MemberNote.objects.filter(
        member=member, is_alert=True, resolved_at__isnull=True
    ).exists()
    kinds = set(case.events.values_list("kind", flat=True))
    assert {EventKind.RECOVERED, EventKind.ACCESS_RESTORED, EventKind.LINK_OPENED} <= kinds

    # Nothing more happens on 16 April.
    run_on(time_machine, local(2026, 4, 16, 10))
    assert retried.count() == made
