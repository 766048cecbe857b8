"""Messages: quiet hours, member preferences, languages, structure, tracking, SMS."""

from __future__ import annotations

import base64
import datetime as dt
import io
import json
import urllib.error
import urllib.request
from typing import Any

import pytest
from anymail.signals import AnymailTrackingEvent, tracking
from django.core import mail
from django.test import Client

from dunning.errors import SmsSendError
from dunning.models import Channel, DunningMessage, EventKind, LadderStep, MessageStatus
from dunning.services.messages import gym_profile, message_context, message_render
from dunning.sms import get_sms_backend, locmem
from dunning.sms.base import SmsMessage
from dunning.sms.console import ConsoleSmsBackend
from dunning.sms.twilio import TwilioSmsBackend
from tests.dunning.conftest import local
from tests.dunning.helpers import case_of, fail_renewal, run_at

TEMPLATES = [
    "failed_notice",
    "reminder",
    "access_warning",
    "access_suspended",
    "final_notice",
    "cancelled",
    "thanks",
    "payment_plan",
]
SMS_TEMPLATES = [t for t in TEMPLATES if t != "payment_plan"]


@pytest.mark.django_db(transaction=True)
def test_a_message_due_at_22_waits_until_8(failing_member, time_machine):
    membership = failing_member("tok_decline_insufficient_funds")
    fail_renewal(time_machine, local(2026, 4, 5, 22))
    case = case_of(membership)
    notices = DunningMessage.objects.filter(case=case, template="failed_notice")
    assert {m.status for m in notices} == {MessageStatus.PENDING}
    assert {m.scheduled_for for m in notices} == {local(2026, 4, 6, 8)}
    assert mail.outbox == [] and locmem.outbox == []
    case.refresh_from_db()
    assert case.next_action_at == local(2026, 4, 6, 8)

    for hour in (23, 2, 7):  # the hourly runs through the night send nothing
        day = 5 if hour == 23 else 6
        run_at(time_machine, local(2026, 4, day, hour, 59 if hour == 7 else 0))
    assert mail.outbox == [] and locmem.outbox == []

    run_at(time_machine, local(2026, 4, 6, 8))
    assert len(mail.outbox) == 1 and len(locmem.outbox) == 1
    assert {m.sent_at for m in notices.all()} == {local(2026, 4, 6, 8)}


@pytest.mark.django_db(transaction=True)
def test_quiet_hours_are_configurable(failing_member, time_machine, settings):
    settings.DUNNING_QUIET_HOURS_START, settings.DUNNING_QUIET_HOURS_END = "20:00", "09:00"
    membership = failing_member("tok_decline_insufficient_funds")
    fail_renewal(time_machine, local(2026, 4, 5, 8, 30))
    notice = DunningMessage.objects.filter(case=case_of(membership), channel=Channel.EMAIL).get()
    assert notice.scheduled_for == local(2026, 4, 5, 9)


@pytest.mark.django_db(transaction=True)
def test_member_preferences_decide_the_channels(failing_member, time_machine):
    # No billing emails, and no marketing at all: billing SMS still go, and it is recorded.
    membership = failing_member(
        "tok_decline_insufficient_funds",
        transactional_email=False,
        marketing_email=False,
        marketing_sms=False,
    )
    fail_renewal(time_machine)
    case = case_of(membership)
    email = DunningMessage.objects.get(case=case, channel=Channel.EMAIL)
    sms = DunningMessage.objects.get(case=case, channel=Channel.SMS)
    assert (email.status, email.skip_reason) == (MessageStatus.SKIPPED, "member_opted_out")
    assert sms.status == MessageStatus.SENT
    assert mail.outbox == []
    assert len(locmem.outbox) == 1
    skipped = case.events.get(kind=EventKind.MESSAGE_SKIPPED, message=email)
    assert skipped.detail["reason"] == "member_opted_out"


@pytest.mark.django_db(transaction=True)
def test_no_phone_means_no_sms_and_a_recorded_reason(failing_member, time_machine):
    membership = failing_member("tok_decline_insufficient_funds", phone="")
    fail_renewal(time_machine)
    sms = DunningMessage.objects.get(case=case_of(membership), channel=Channel.SMS)
    assert (sms.status, sms.skip_reason) == (MessageStatus.SKIPPED, "no_phone_number")


@pytest.mark.django_db(transaction=True)
def test_thai_members_get_thai_messages(failing_member, time_machine):
    failing_member("tok_decline_insufficient_funds", language="th")
    fail_renewal(time_machine)
    (email,) = mail.outbox
    assert "ไม่สำเร็จ" in email.subject
    assert "15 เมษายน 2569" in email.body  # the suspension date, in Thai: the Buddhist year
    assert "https://gym.example/pay/" in email.body
    assert "เราจะไม่ขอหมายเลขบัตร" in email.body  # the security note
    (sms,) = locmem.outbox
    assert "ไม่สำเร็จ" in sms.body


@pytest.mark.django_db(transaction=True)
def test_the_escalating_messages_have_every_part_dunning_messages_md_asks_for(
    failing_member, time_machine
):
    membership = failing_member("tok_decline_insufficient_funds")
    fail_renewal(time_machine)
    case = case_of(membership)
    gym = gym_profile()
    ladder = list(LadderStep.objects.filter(plan__isnull=True).order_by("position"))
    for language in ("en", "th"):
        for template in TEMPLATES:
            message = DunningMessage(
                case=case,
                member=case.member,
                template=template,
                channel=Channel.EMAIL,
                language=language,
                scheduled_for=local(2026, 4, 5),
                created_at=local(2026, 4, 5),
                pk=999,
            )
            context = message_context(message, gym, ladder)
            context.setdefault("installments", [])
            subject, body = message_render(message, context)
            assert case.invoice.number in subject, (language, template)
            assert case.member.first_name in body
            if template != "thanks":
                assert "https://gym.example/pay/" in body
            assert gym.phone in body and gym.email in body and gym.opening_hours in body
            assert "4111" not in body and "&#" not in body
            if template not in ("payment_plan", "thanks"):
                assert "฿1,500.00" in body
            if template not in ("thanks", "payment_plan"):
                assert ("front desk" in body) or ("เคาน์เตอร์" in body)
        for template in SMS_TEMPLATES:
            message = DunningMessage(
                case=case,
                member=case.member,
                template=template,
                channel=Channel.SMS,
                language=language,
                scheduled_for=local(2026, 4, 5),
                created_at=local(2026, 4, 5),
                pk=999,
            )
            _, text = message_render(message, message_context(message, gym, ladder))
            assert case.invoice.number in text and len(text) < 320, (language, template)
    warning = mail.outbox[0]
    assert "We understand" in warning.body  # the first message assumes an honest mistake


@pytest.mark.django_db(transaction=True)
def test_provider_tracking_updates_the_message(failing_member, time_machine):
    membership = failing_member("tok_decline_insufficient_funds")
    fail_renewal(time_machine)
    email = DunningMessage.objects.get(case=case_of(membership), channel=Channel.EMAIL)
    assert email.provider_message_id

    def report(event_type: str, **kwargs: Any) -> None:
        tracking.send(
            sender=object,
            event=AnymailTrackingEvent(
                event_type=event_type, timestamp=local(2026, 4, 5, 11), **kwargs
            ),
            esp_name="Test",
        )

    report("delivered", message_id=email.provider_message_id)
    report("opened", metadata={"dunning_message": str(email.pk)})
    report("clicked", message_id=email.provider_message_id)
    report("bounced", message_id=email.provider_message_id)  # late and contradictory: ignored
    report("opened", message_id="someone-elses-message")
    email.refresh_from_db()
    assert email.status == MessageStatus.CLICKED
    assert email.delivered_at == email.opened_at == email.clicked_at == local(2026, 4, 5, 11)
    tracked = email.case.events.filter(kind=EventKind.MESSAGE_TRACKED, message=email)
    assert sorted(e.detail["event"] for e in tracked) == [
        "bounced",
        "clicked",
        "delivered",
        "opened",
    ]


@pytest.mark.django_db(transaction=True)
def test_the_mounted_tracking_webhook_needs_its_secret_and_updates_the_message(
    failing_member, time_machine, settings
):
    settings.ANYMAIL = {**settings.ANYMAIL, "WEBHOOK_SECRET": "hook:s3cret-for-tests"}
    membership = failing_member("tok_decline_insufficient_funds")
    fail_renewal(time_machine)
    email = DunningMessage.objects.get(case=case_of(membership), channel=Channel.EMAIL)
    url = "/api/v1/dunning/webhooks/email/postmark/tracking/"
    delivery = {
        "RecordType": "Delivery",
        "MessageID": "pm-0001",
        "Recipient": membership.member.email,
        "DeliveredAt": "2026-04-05T04:00:00Z",
        "Metadata": {"dunning_message": str(email.pk)},
    }
    forged = Client().post(url, delivery, content_type="application/json")
    assert forged.status_code in (400, 401, 403)
    email.refresh_from_db()
    assert email.status == MessageStatus.SENT and email.delivered_at is None
    signed = Client().post(
        url,
        delivery,
        content_type="application/json",
        HTTP_AUTHORIZATION="Basic " + base64.b64encode(b"hook:s3cret-for-tests").decode(),
    )
    assert signed.status_code == 200
    email.refresh_from_db()
    assert email.status == MessageStatus.DELIVERED
    assert email.delivered_at == dt.datetime(2026, 4, 5, 4, tzinfo=dt.UTC)


@pytest.mark.django_db(transaction=True)
def test_a_bounce_is_recorded(failing_member, time_machine):
    membership = failing_member("tok_decline_insufficient_funds")
    fail_renewal(time_machine)
    email = DunningMessage.objects.get(case=case_of(membership), channel=Channel.EMAIL)
    tracking.send(
        sender=object,
        event=AnymailTrackingEvent(event_type="bounced", message_id=email.provider_message_id),
        esp_name="Test",
    )
    email.refresh_from_db()
    assert email.status == MessageStatus.BOUNCED and email.bounced_at is not None


# --- SMS backends -------------------------------------------------------------------------


class FakeResponse(io.BytesIO):
    def __enter__(self) -> FakeResponse:
        return self

    def __exit__(self, *args: object) -> None:
        self.close()


class FakeOpener:
    """Plays Twilio: records the request and answers with ``status`` and ``body``."""

    def __init__(self, status: int, body: dict[str, Any]) -> None:
        self.status, self.body = status, body
        self.requests: list[urllib.request.Request] = []

    def open(self, request: urllib.request.Request, timeout: float = 0) -> FakeResponse:
        self.requests.append(request)
        payload = json.dumps(self.body).encode()
        if self.status >= 400:
            raise urllib.error.HTTPError(
                request.full_url,
                self.status,
                "error",
                {},
                io.BytesIO(payload),  # type: ignore[arg-type]
            )
        return FakeResponse(payload)


def test_twilio_sends_a_form_post_with_basic_auth():
    opener = FakeOpener(201, {"sid": "SM123", "status": "queued"})
    backend = TwilioSmsBackend(
        account_sid="AC1", auth_token="secret-token", from_number="+6620000000", opener=opener
    )
    result = backend.send(SmsMessage(to="+66812345678", body="สวัสดี", reference="dunning-1"))
    assert (result.message_id, result.status) == ("SM123", "queued")
    (request,) = opener.requests
    assert request.full_url == "https://api.twilio.com/2010-04-01/Accounts/AC1/Messages.json"
    assert request.get_method() == "POST"
    assert request.get_header("Authorization") == "Basic QUMxOnNlY3JldC10b2tlbg=="
    form = dict(p.split("=", 1) for p in request.data.decode().split("&"))  # type: ignore[union-attr]
    assert form["To"] == "%2B66812345678" and form["From"] == "%2B6620000000"
    assert "Body" in form


def test_twilio_refusals_raise_without_the_token():
    opener = FakeOpener(400, {"code": 21211, "message": "Invalid 'To' Phone Number"})
    backend = TwilioSmsBackend(
        account_sid="AC1", auth_token="secret-token", from_number="+6620000000", opener=opener
    )
    with pytest.raises(SmsSendError) as refused:
        backend.send(SmsMessage(to="+1", body="hi"))
    assert refused.value.code == "21211"
    assert "secret-token" not in str(refused.value)


def test_twilio_needs_its_settings():
    with pytest.raises(SmsSendError, match="not configured"):
        TwilioSmsBackend(account_sid="", auth_token="", opener=FakeOpener(201, {})).send(
            SmsMessage(to="+66812345678", body="hi")
        )


def test_the_backend_is_a_setting(settings):
    settings.DUNNING_SMS_BACKEND = "dunning.sms.console.ConsoleSmsBackend"
    assert isinstance(get_sms_backend(), ConsoleSmsBackend)
    stream = io.StringIO()
    ConsoleSmsBackend(stream).send(SmsMessage(to="+66812345678", body="hello"))
    assert "+66812345678" in stream.getvalue() and "hello" in stream.getvalue()


@pytest.mark.django_db(transaction=True)
def test_an_sms_provider_failure_is_recorded_not_raised(failing_member, time_machine, settings):
    settings.DUNNING_SMS_BACKEND = "dunning.sms.twilio.TwilioSmsBackend"  # not configured
    membership = failing_member("tok_decline_insufficient_funds")
    fail_renewal(time_machine)
    sms = DunningMessage.objects.get(case=case_of(membership), channel=Channel.SMS)
    assert sms.status == MessageStatus.FAILED and "not configured" in sms.error
    email = DunningMessage.objects.get(case=case_of(membership), channel=Channel.EMAIL)
    assert email.status == MessageStatus.SENT
