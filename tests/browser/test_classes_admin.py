"""Classes at the desk, in English and Thai: the week's timetable grid, a session's roster
with attendance, and the fee-waiver queue."""

from __future__ import annotations

import datetime as dt
from typing import Any

from playwright.sync_api import Page, expect

from classes.models import Booking, ClassFee
from classes.services import booking as svc
from config import clock
from members import roles
from tests.classes.helpers import member_with_plan, session_at, studio

from .desk import no_wider_than_the_desk

WORDS = {
    "en": {
        "class": "Muay Thai",
        "booked": "1 of 10 booked",
        "attended": "Attended",
        "mark": "Mark attended",
        "waived": "Fee waived.",
        "none_waiting": "No fees are waiting.",
    },
    "th": {
        "class": "มวยไทย",
        "booked": "จองแล้ว 1 จาก 10",
        "attended": "เข้าเรียนแล้ว",
        "mark": "เช็กชื่อเข้าเรียน",
        "waived": "ยกเว้นค่าธรรมเนียมแล้ว",
        "none_waiting": "ไม่มีค่าธรรมเนียมที่รออยู่",
    },
}


def test_the_week_timetable_grid(desk: Page, lang: str, login: Any, make_staff: Any) -> None:
    room, kind = studio()
    starts = clock.now() + dt.timedelta(days=2)
    session = session_at(room, kind, starts)
    svc.book(member_with_plan(), session.pk)
    login(desk, make_staff(roles.FRONT_DESK))
    day = starts.astimezone(room.location.tz).date()

    desk.goto(f"/admin/classes/classsession/timetable/?week={day.isoformat()}")

    grid = desk.locator("#timetable")
    days = grid.locator("section.day")
    expect(days).to_have_count(7)
    boxes = [days.nth(n).bounding_box() for n in range(7)]
    assert all(box is not None for box in boxes)
    assert len({round(box["y"]) for box in boxes if box}) == 1  # seven columns side by side
    slot = grid.locator(f"[data-session='{session.pk}']")
    expect(slot).to_contain_text(WORDS[lang]["class"])
    expect(slot).to_contain_text(WORDS[lang]["booked"])
    column = grid.locator(f"section.day[data-date='{day.isoformat()}']")
    expect(column.locator(f"[data-session='{session.pk}']")).to_have_count(1)
    no_wider_than_the_desk(desk)


def test_a_roster_with_attendance(desk: Page, lang: str, login: Any, make_staff: Any) -> None:
    room, kind = studio()
    session = session_at(room, kind, clock.now() + dt.timedelta(minutes=20))
    member = member_with_plan(first_name="Somchai", last_name="Rakdee")
    booking = svc.book(member, session.pk)
    login(desk, make_staff(roles.FRONT_DESK))

    desk.goto(f"/admin/classes/classsession/{session.pk}/roster/")

    row = desk.locator(f"#roster-booked tr[data-booking='{booking.pk}']")
    expect(row).to_contain_text("Somchai Rakdee")
    row.get_by_role("button", name=WORDS[lang]["mark"]).click()
    row = desk.locator(f"#roster-booked tr[data-booking='{booking.pk}']")
    expect(row.locator("td.attended")).to_have_text(WORDS[lang]["attended"])
    booking.refresh_from_db()
    assert booking.status == "attended"
    no_wider_than_the_desk(desk)


def test_the_fee_waiver_queue(desk: Page, lang: str, login: Any, make_staff: Any) -> None:
    room, kind = studio()
    session = session_at(room, kind, clock.now() + dt.timedelta(minutes=50))
    booking = svc.book(member_with_plan(first_name="Pim", last_name="Jaidee"), session.pk)
    svc.cancel(booking.pk)  # inside the cutoff: a late-cancel fee, pending
    fee = ClassFee.objects.get(booking=booking)
    login(desk, make_staff(roles.MANAGER))

    desk.goto("/admin/classes/classfee/waivers/")

    row = desk.locator(f"#waiver-queue tr[data-fee='{fee.pk}']")
    expect(row).to_contain_text("Pim Jaidee")
    expect(row).to_contain_text("฿100.00")
    row.locator("input[name=reason]").fill("First late cancel, sick child")
    row.locator("button[type=submit]").click()
    expect(desk.locator(".messagelist")).to_contain_text(WORDS[lang]["waived"])
    expect(desk.locator("#waiver-queue")).to_contain_text(WORDS[lang]["none_waiting"])
    fee.refresh_from_db()
    assert (fee.status, fee.waive_reason) == ("waived", "First late cancel, sick child")
    assert Booking.objects.get(pk=booking.pk).status == "late_cancelled"
