"""Leads: a join abandoned after the details step is a lead the desk works, followed up by
email after one and three days, only with marketing consent, each email exactly once."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from django.core import mail
from django.core.exceptions import ValidationError
from django.urls import reverse

from config import outbox
from config.clock import travel_to
from members import leads
from members.models import Lead, LeadMessage, LeadMessageStatus, LeadStatus
from members.roles import FRONT_DESK
from tests.factories import MemberFactory

pytestmark = pytest.mark.django_db

START = dt.datetime(2027, 3, 1, 4, 0, tzinfo=dt.UTC)  # 11:00 in Bangkok


def a_lead(*, consent: bool = True, language: str = "en", **extra: object) -> Lead:
    with travel_to(START):
        return leads.lead_record(
            marketing_email=consent,
            first_name="Nok",
            last_name="Srisuk",
            email="Nok@Example.com ",
            phone="081 234 5678",
            language=language,
            interested_in="Monthly",
            **extra,
        )


def test_a_lead_keeps_the_details_normalised_and_the_time_of_consent():
    lead = a_lead()
    assert (lead.email, lead.phone, lead.status) == ("nok@example.com", "+66812345678", "new")
    assert lead.marketing_email
    assert abs(lead.marketing_consent_at - START) < dt.timedelta(seconds=5)
    assert a_lead(consent=False).marketing_consent_at is None


def test_the_same_join_refreshes_its_lead_but_never_reopens_a_closed_one():
    lead = a_lead()
    again = leads.lead_record(
        marketing_email=True, lead_id=lead.pk, first_name="Noknoi", last_name="S", email="n@e.com"
    )
    assert again.pk == lead.pk and Lead.objects.count() == 1
    Lead.objects.filter(pk=lead.pk).update(status=LeadStatus.LOST)
    fresh = leads.lead_record(
        marketing_email=True, lead_id=lead.pk, first_name="Nok", last_name="S", email="n@e.com"
    )
    assert fresh.pk != lead.pk and Lead.objects.get(pk=lead.pk).status == "lost"


def test_bad_details_save_nothing():
    with pytest.raises(ValidationError) as caught:
        leads.lead_record(
            marketing_email=True, first_name="Nok\x1b[31m", last_name="S", email="not-an-email"
        )
    assert {"first_name", "email"} <= set(caught.value.message_dict)
    with pytest.raises(ValidationError):
        leads.lead_record(
            marketing_email=False, first_name="A", last_name="B", email="a@b.co", member=1
        )
    assert not Lead.objects.exists()


def run_at(when: dt.datetime) -> dict[str, int]:
    with travel_to(when):
        return dict(leads.lead_follow_ups_send())


def test_follow_ups_after_one_and_three_days_each_sent_exactly_once():
    lead = a_lead()
    assert run_at(START + dt.timedelta(hours=23)) == {"follow_up_1": 0, "follow_up_3": 0}
    assert run_at(START + dt.timedelta(days=1, minutes=1)) == {"follow_up_1": 1, "follow_up_3": 0}
    assert run_at(START + dt.timedelta(days=1, hours=2)) == {"follow_up_1": 0, "follow_up_3": 0}
    assert run_at(START + dt.timedelta(days=3, minutes=1)) == {"follow_up_1": 0, "follow_up_3": 1}
    assert run_at(START + dt.timedelta(days=3, hours=5)) == {"follow_up_1": 0, "follow_up_3": 0}
    assert [m.to for m in mail.outbox] == [["nok@example.com"], ["nok@example.com"]]
    assert set(LeadMessage.objects.filter(lead=lead).values_list("kind", "status")) == {
        ("follow_up_1", "sent"),
        ("follow_up_3", "sent"),
    }
    first = mail.outbox[0]
    assert "Nok" in first.body and "Monthly" in first.body
    assert first.extra_headers[outbox.REFERENCE_HEADER].startswith("lead-")


def test_no_follow_up_without_marketing_consent():
    a_lead(consent=False)
    for days in (1, 2, 3, 4, 6):
        assert sum(run_at(START + dt.timedelta(days=days, minutes=1)).values()) == 0
    assert not mail.outbox and not LeadMessage.objects.exists()


@pytest.mark.parametrize("status", [LeadStatus.TRIAL, LeadStatus.WON, LeadStatus.LOST])
def test_no_follow_up_to_a_lead_the_desk_has_moved_on(status):
    lead = a_lead()
    Lead.objects.filter(pk=lead.pk).update(status=status)
    assert sum(run_at(START + dt.timedelta(days=1, minutes=1)).values()) == 0
    assert not mail.outbox


def test_a_lead_who_joined_gets_no_more_follow_ups():
    lead = a_lead()
    assert run_at(START + dt.timedelta(days=1, minutes=1))["follow_up_1"] == 1
    member = MemberFactory()
    leads.lead_won(lead.pk, member)
    assert run_at(START + dt.timedelta(days=3, minutes=1))["follow_up_3"] == 0
    lead.refresh_from_db()
    assert (lead.status, lead.member) == ("won", member)


def test_a_missed_day_is_not_sent_late_beside_the_next():
    a_lead()
    # The beat was down until day 4: only the three-day follow-up goes.
    assert run_at(START + dt.timedelta(days=4)) == {"follow_up_1": 0, "follow_up_3": 1}
    assert len(mail.outbox) == 1
    assert run_at(START + dt.timedelta(days=8)) == {"follow_up_1": 0, "follow_up_3": 0}


def test_the_follow_up_is_in_the_leads_language():
    a_lead(language="th")
    run_at(START + dt.timedelta(days=1, minutes=1))
    assert any("\u0e00" <= ch <= "\u0e7f" for ch in mail.outbox[0].subject + mail.outbox[0].body)


def test_a_provider_failure_is_recorded_and_not_retried_as_a_duplicate(settings):
    a_lead()
    settings.EMAIL_BACKEND = "tests.members.test_leads.BrokenBackend"
    assert run_at(START + dt.timedelta(days=1, minutes=1))["follow_up_1"] == 0
    message = LeadMessage.objects.get()
    assert (message.status, message.error) == ("failed", "ConnectionError")
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    assert run_at(START + dt.timedelta(days=1, hours=1))["follow_up_1"] == 0


class BrokenBackend:
    def __init__(self, *args: object, **kwargs: object) -> None:
        pass

    def send_messages(self, messages: object) -> int:
        raise ConnectionError("provider down")


@pytest.fixture
def sandbox_provider(settings):
    settings.EMAIL_BACKEND = "config.outbox.SandboxEmailBackend"
    outbox.reset()
    yield
    outbox.reset()


def interrupted(lead: Lead, kind: str = "follow_up_1") -> LeadMessage:
    """As a sender that died after its claim was committed: ``sending``, long ago."""
    return LeadMessage.objects.create(
        lead=lead,
        kind=kind,
        status=LeadMessageStatus.SENDING,
        claimed_at=START + dt.timedelta(days=1),
    )


def test_an_interrupted_send_the_provider_never_got_goes_once(sandbox_provider):
    lead = a_lead()
    message = interrupted(lead)
    later = START + dt.timedelta(days=1, minutes=30)
    with travel_to(later):
        assert leads.follow_ups_settle_interrupted() == {"sent": 0, "released": 1, "unsure": 0}
    assert run_at(later)["follow_up_1"] == 1
    assert run_at(later + dt.timedelta(minutes=5))["follow_up_1"] == 0
    sent = LeadMessage.objects.get(lead=lead)
    assert sent.pk != message.pk and sent.status == "sent"
    assert outbox.received(leads.message_reference(sent)) == 1


def test_an_interrupted_send_the_provider_has_is_recorded_not_resent(sandbox_provider):
    lead = a_lead()
    message = interrupted(lead)
    outbox.record(leads.message_reference(message), "email", lead.email, "body")
    assert run_at(START + dt.timedelta(days=1, minutes=30))["follow_up_1"] == 0
    message.refresh_from_db()
    assert message.status == "sent" and message.provider_message_id
    assert outbox.received(leads.message_reference(message)) == 1


def test_an_interrupted_send_nobody_can_confirm_waits_for_staff(settings):
    lead = a_lead()
    message = interrupted(lead)
    settings.EMAIL_BACKEND = "tests.members.test_leads.BrokenBackend"  # cannot be asked
    assert run_at(START + dt.timedelta(days=1, minutes=30))["follow_up_1"] == 0
    message.refresh_from_db()
    assert message.status == "unsure"


def test_a_fresh_claim_is_left_to_its_sender():
    lead = a_lead()
    now = START + dt.timedelta(days=1, minutes=30)
    LeadMessage.objects.create(lead=lead, kind="follow_up_1", claimed_at=now)
    with travel_to(now + dt.timedelta(minutes=2)):
        assert leads.follow_ups_settle_interrupted() == {"sent": 0, "released": 0, "unsure": 0}


def test_the_stop_link_asks_then_withdraws_consent_and_no_more_emails_go(client):
    lead = a_lead()
    run_at(START + dt.timedelta(days=1, minutes=1))
    path = re.search(r"https?://[^/\s]+(/join/stop-emails/\S+/)", mail.outbox[0].body).group(1)
    assert client.get(path).status_code == 200
    lead.refresh_from_db()
    assert lead.marketing_email  # a link checker opening the page changes nothing
    response = client.post(path)
    assert response.status_code == 200
    lead.refresh_from_db()
    assert not lead.marketing_email and lead.marketing_consent_at is None
    assert run_at(START + dt.timedelta(days=3, minutes=1))["follow_up_3"] == 0
    assert client.get(path[:-6] + "xxxxx/").status_code == 404


def test_the_desk_sees_searches_and_works_leads_in_the_admin(client, make_staff):
    lead = a_lead()
    leads.lead_record(marketing_email=False, first_name="Other", last_name="X", email="o@e.com")
    client.force_login(make_staff(FRONT_DESK))
    listing = client.get(reverse("admin:members_lead_changelist"), {"q": "nok@example"})
    assert listing.status_code == 200
    assert listing.context["cl"].result_count == 1
    assert client.get(reverse("admin:members_lead_add")).status_code == 403
    page = reverse("admin:members_lead_change", args=[lead.pk])
    inline = {f"messages-{k}": v for k, v in (("TOTAL_FORMS", 0), ("INITIAL_FORMS", 0))}
    response = client.post(page, {"status": "contacted", "notes": "Called, comes Friday", **inline})
    assert response.status_code == 302
    lead.refresh_from_db()
    assert (lead.status, lead.notes) == ("contacted", "Called, comes Friday")
    bad = client.post(page, {"status": "bogus", "notes": "", **inline})
    assert bad.status_code == 200 and "status" in bad.context["adminform"].form.errors


def test_the_follow_ups_run_hourly_by_day_from_beat():
    from django_celery_beat.models import PeriodicTask

    task = PeriodicTask.objects.get(task="members.send_lead_follow_ups")
    assert task.enabled and task.crontab.hour == "9-19"
