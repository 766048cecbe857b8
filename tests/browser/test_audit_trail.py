"""The owner's audit trail in Chromium, in English and Thai: a plan's price changed on its
page is in the trail, found by its action, with the price before and after and who
changed it; a member's own trail lists what was done to them."""

from __future__ import annotations

from typing import Any

from playwright.sync_api import Page, expect

from access_control.services import credential_issue
from members import audit, roles
from members.audit_models import ActorKind
from tests.billing.factories import PlanFactory
from tests.factories import MemberFactory

SAVE = {"en": "Save", "th": "บันทึก"}
BEFORE_AFTER = {"en": ("before", "after"), "th": ("ก่อน", "หลัง")}


def test_the_owner_finds_a_price_change_and_a_members_trail(
    desk: Page, lang: str, server: str, login: Any, make_staff: Any
) -> None:
    owner = make_staff(roles.OWNER, username="owner")
    plan = PlanFactory(name="Gold", price=150_000)
    member = MemberFactory(first_name="Malee")
    with audit.acting(ActorKind.STAFF, "owner", user=owner):
        credential_issue(member, kind="rfid", value="04A1B2C3", issued_by=owner)
    login(desk, owner)

    desk.goto(f"/admin/billing/plan/{plan.pk}/change/")
    expect(desk.locator("html")).to_have_attribute("lang", lang)
    desk.fill("#id_price", "1800.00")
    desk.locator("input[name=_save]").click()
    expect(desk.locator(".messagelist .success")).to_be_visible()

    desk.goto("/admin/members/auditrecord/")
    desk.get_by_role("link", name="plan.change", exact=True).first.click()
    rows = desk.locator("#result_list tbody tr")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("owner")
    rows.first.locator("a").first.click()
    changes = desk.locator(".field-changes table")
    before, after = BEFORE_AFTER[lang]
    expect(changes.locator("thead")).to_contain_text(before)
    expect(changes.locator("thead")).to_contain_text(after)
    expect(changes.locator("tbody tr")).to_have_count(1)
    expect(changes.locator("tbody tr")).to_contain_text("price")
    # Money as people read it, never minor units.
    expect(changes.locator("tbody tr td").nth(0)).to_have_text("฿1,500.00")
    expect(changes.locator("tbody tr td").nth(1)).to_have_text("฿1,800.00")

    # One member's trail: what was done to them, and nothing else.
    desk.goto(f"/admin/members/auditrecord/?member__id__exact={member.pk}")
    rows = desk.locator("#result_list tbody tr")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("credential.issue")
    expect(desk.locator("#result_list")).not_to_contain_text("plan.change")
