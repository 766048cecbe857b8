"""A member replaces their card and changes plan in the portal, on a 390x844 phone, in
English and Thai; the upgrade's charge is shown before they confirm.  Every page passes
axe (no serious or critical violation)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from billing.gateways import get_gateway
from billing.models import Invoice
from billing.money import format_amount
from billing.services.payments import default_payment_method
from members import services as member_services
from members.models import GymProfile
from tests.billing.factories import PlanFactory, signed_up
from tests.browser.axe import assert_accessible
from tests.factories import MemberFactory


@pytest.fixture
def portal_member(server: str, lang: str) -> Any:
    get_gateway("sandbox").reset()
    GymProfile.objects.create(name="Lumpini Fitness", phone="+66 2 123 4567")
    member = MemberFactory(first_name="Ploy", language=lang)
    member_services.member_login_ensure(member, email_verified=True)
    member.refresh_from_db()
    return member


def test_replacing_the_card(
    phone: Page, lang: str, login: Callable[[Page, Any], None], portal_member: Any
) -> None:
    signed_up(member=portal_member, plan=PlanFactory())
    before = default_payment_method(portal_member.pk)
    login(phone, portal_member.user)
    phone.goto("/portal/billing/card/")
    expect(phone.locator("#card-on-file")).to_contain_text(before.last4)
    assert_accessible(phone)
    phone.locator("#card_token").fill("tok_mastercard_ok")
    phone.locator("#save-card").click()
    expect(phone.locator(".notice.success")).to_be_visible()
    assert_accessible(phone)
    after = default_payment_method(portal_member.pk)
    assert after is not None and after.pk != before.pk and after.brand == "mastercard"
    expect(phone.locator("#card-on-file")).to_contain_text(after.last4)


def test_upgrading_shows_the_charge_first(
    phone: Page, lang: str, login: Callable[[Page, Any], None], portal_member: Any
) -> None:
    membership = signed_up(member=portal_member, plan=PlanFactory(price=150_000))
    premium = PlanFactory(price=300_000, name="Premium")
    login(phone, portal_member.user)
    phone.goto("/portal/billing/membership/")
    phone.locator("#change-plan-link").click()
    assert_accessible(phone)
    phone.get_by_role("button", name="Premium").click()
    shown = phone.locator("#plan-charge").inner_text()
    assert_accessible(phone)
    phone.locator("#plan-confirm").click()
    expect(phone.locator(".notice.success")).to_contain_text("Premium")
    membership.refresh_from_db()
    assert membership.plan_id == premium.pk
    charged = Invoice.objects.get(member=portal_member, billing_reason="proration")
    assert format_amount(charged.total, "THB") == shown
