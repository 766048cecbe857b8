"""Personal data in the browser, in English and Thai: a member downloads their own copy on
a phone; a manager downloads a member's data at the desk; an erasure asked for in the
portal is approved by a manager at the desk.  Each page passes axe."""

from __future__ import annotations

import json
import zipfile
from typing import Any

from playwright.sync_api import Page, expect

from members import roles, services
from members.models import GymProfile, Member, PrivacyRequest
from tests.browser.axe import assert_accessible
from tests.factories import MemberFactory

READY = {"en": "Your copy is ready", "th": "สำเนาข้อมูลของคุณพร้อมแล้ว"}
RECORDED = {"en": "Your request is recorded.", "th": "บันทึกคำขอของคุณแล้ว"}
PRIVACY_TOOL = {"en": "Privacy and data (PDPA)", "th": "ความเป็นส่วนตัวและข้อมูล (PDPA)"}
ERASED = {
    "en": "The member's personal data has been erased.",
    "th": "ลบข้อมูลส่วนบุคคลของสมาชิกแล้ว",
}


def portal_member(lang: str, **fields: Any) -> Member:
    GymProfile.objects.get_or_create(name="Lumpini Fitness")
    member = MemberFactory(language=lang, **fields)
    services.member_login_ensure(member, email_verified=True)
    member.refresh_from_db()
    return member


def profile_rows(path: str) -> list[dict[str, Any]]:
    with zipfile.ZipFile(path) as archive:
        return json.loads(archive.read("json/members_member.json"))


def test_a_member_downloads_their_own_data_on_a_phone(
    phone: Page, lang: str, login: Any, tmp_path: Any
) -> None:
    member = portal_member(lang, first_name="Ploy")
    MemberFactory(first_name="Someone")  # another member, never in the file
    login(phone, member.user)
    phone.goto("/portal/privacy/")
    assert_accessible(phone)
    phone.locator("#export-form button[type=submit]").click()
    expect(phone.locator(".messages")).to_contain_text(READY[lang])
    link = phone.locator("#privacy-requests a[data-download]")
    expect(link).to_have_count(1)
    assert_accessible(phone)
    with phone.expect_download() as download_info:
        link.click()
    target = tmp_path / "mine.zip"
    download_info.value.save_as(target)
    assert [row["id"] for row in profile_rows(str(target))] == [member.pk]
    assert download_info.value.suggested_filename.startswith(f"member-{member.member_number}-")


def test_a_manager_downloads_a_members_data_at_the_desk(
    desk: Page, lang: str, login: Any, make_staff: Any, tmp_path: Any
) -> None:
    member = MemberFactory(first_name="Anong")
    services.member_set_marketing_consent(member, email=True, sms=False)
    login(desk, make_staff(roles.MANAGER))
    desk.goto(f"/admin/members/member/{member.pk}/change/")
    desk.get_by_role("link", name=PRIVACY_TOOL[lang]).click()
    expect(desk.locator("#privacy-consents [data-consent=marketing_email]")).to_have_count(1)
    assert_accessible(desk)
    with desk.expect_download() as download_info:
        desk.locator("#privacy-download").click()
    target = tmp_path / "member.zip"
    download_info.value.save_as(target)
    rows = profile_rows(str(target))
    assert [row["first_name"] for row in rows] == ["Anong"]


def test_an_erasure_asked_for_in_the_portal_is_approved_by_a_manager(
    phone: Page, desk: Page, lang: str, login: Any, make_staff: Any
) -> None:
    member = portal_member(lang, first_name="Kanya", last_name="Srisuk")
    login(phone, member.user)
    phone.goto("/portal/privacy/")
    phone.locator("#id_erasure_note").fill("Moving abroad")
    phone.locator("#erasure-form button[type=submit]").click()
    expect(phone.locator(".messages")).to_contain_text(RECORDED[lang])
    expect(phone.locator("#erasure-pending")).to_be_visible()
    assert PrivacyRequest.objects.filter(member=member, kind="erasure", status="open").exists()

    login(desk, make_staff(roles.MANAGER))
    desk.goto(f"/admin/members/member/{member.pk}/privacy/")
    expect(desk.locator("#privacy-erasure")).to_contain_text("Moving abroad")
    assert_accessible(desk)
    desk.locator("#id_confirm").fill(str(member.member_number))
    desk.locator("#erasure-approve-button").click()
    expect(desk.locator(".messagelist")).to_contain_text(ERASED[lang])
    expect(desk.locator("#erased-mark")).to_be_visible()
    member.refresh_from_db()
    assert member.erased_at is not None and member.first_name == "Erased"
    # The member's session ends with their login.
    phone.goto("/portal/privacy/")
    expect(phone.locator("#export-form")).to_have_count(0)
