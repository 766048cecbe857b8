"""A lead stops the follow-up emails from the link in one, on a phone, in English and
Thai: the page asks first (opening it changes nothing), then confirms."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from members import leads

STOP = {"en": "Stop these emails", "th": "หยุดส่งอีเมลเหล่านี้"}
DONE = {"en": "Done: we will send no more offers", "th": "เรียบร้อย: เราจะไม่ส่งข้อเสนอ"}


@pytest.fixture
def lead(server: str, lang: str):
    return leads.lead_record(
        marketing_email=True,
        first_name="Nok",
        last_name="S",
        email="nok@example.com",
        language=lang,
    )


def test_a_lead_stops_the_follow_ups(phone: Page, lang: str, lead) -> None:
    phone.goto(f"/join/stop-emails/{leads.unsubscribe_token(lead)}/")
    expect(phone.locator("html")).to_have_attribute("lang", lang)
    lead.refresh_from_db()
    assert lead.marketing_email

    phone.get_by_role("button", name=STOP[lang]).click()

    expect(phone.get_by_role("status")).to_contain_text(DONE[lang])
    lead.refresh_from_db()
    assert not lead.marketing_email
