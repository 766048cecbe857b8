"""A new member is registered at the desk in one flow and leaves with an active membership:
plan (prices and fees shown), the agreement signed on the desk's screen, a card taken
through the gateway's form (the sandbox's test token here)."""

from __future__ import annotations

from typing import Any

from playwright.sync_api import Page, expect

from billing.models import MembershipStatus
from members import roles
from members.models import AgreementSignature
from tests.billing.factories import PlanFactory
from tests.factories import AgreementVersionFactory, MemberFactory

from .desk import WORDS, no_wider_than_the_desk


def test_register_at_the_desk_with_a_card(
    desk: Page, lang: str, server: str, login: Any, make_staff: Any
) -> None:
    AgreementVersionFactory(is_current=True, body_en="Gym rules", body_th="กฎของยิม")
    PlanFactory(name="Monthly", name_th="รายเดือน", price=159_000, joining_fee=99_000)
    member = MemberFactory(language=lang)
    login(desk, make_staff(roles.FRONT_DESK))
    words = WORDS[lang]

    desk.goto(f"/admin/members/member/{member.pk}/change/")
    desk.get_by_role("link", name=words["add_membership"]).click()
    expect(desk.locator("#plan-offers")).to_contain_text("฿1,590.00")
    expect(desk.locator("#plan-offers")).to_contain_text("฿990.00")  # the joining fee
    no_wider_than_the_desk(desk)
    desk.locator("label.plan-offer").first.click()
    desk.get_by_role("button", name=words["next"]).click()

    expect(desk.locator("#due-today")).to_have_text("฿2,580.00")
    expect(desk.locator(".agreement-text")).to_have_text("กฎของยิม" if lang == "th" else "Gym rules")
    desk.fill("#id_signer_name", member.full_name)
    desk.check("#id_consent")
    desk.check("input[name=payment][value=new_card]")
    desk.fill("#id_card_token", "tok_ok")
    no_wider_than_the_desk(desk)
    desk.get_by_role("button", name=words["sign_up"], exact=True).click()

    expect(desk).to_have_url(f"{server}/admin/members/member/{member.pk}/change/")
    expect(desk.locator("#member-card .gym-badge")).to_have_text(words["active"])
    assert member.memberships.get().status == MembershipStatus.ACTIVE
    signature = AgreementSignature.objects.get(member=member)
    assert signature.signer_name == member.full_name and "Chrom" in signature.user_agent
