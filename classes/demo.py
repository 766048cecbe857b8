"""Classes' part of ``seed_demo``: a realistic week of yoga, spin, HIIT and Muay Thai.

The story the manifest names (``manifest["classes"]``):
- a full Muay Thai class with a waitlist (one member was promoted from it);
- a late cancel and a no-show, each with a fee pending for staff to waive or post;
- a member who has run out of class credits (a booking is refused with ``no_credit``).
Safe to run again: once the class types exist, nothing more is made.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.contrib.auth import get_user_model

from billing.models import Location, Membership, MembershipStatus, Plan, Zone
from config import clock
from config.errors import DomainError
from members.demo import SeedContext
from members.models import Member

from .models import BookingSuspension, ClassFee, ClassSession, ClassType, Instructor, Room, Schedule
from .services import attendance, booking
from .services.timetable import sessions_generate

TYPES = [
    # code, name, Thai name, minutes, capacity, colour, extra
    ("yoga", "Vinyasa yoga", "วินยาสะโยคะ", 60, 20, "#16a34a", {}),
    ("spin", "Spin", "ปั่นจักรยาน", 45, 16, "#2563eb", {"drop_in_price": 25_000}),
    (
        "hiit",
        "HIIT",
        "HIIT ฝึกหนักเป็นช่วง",
        45,
        18,
        "#ea580c",
        {"late_cancel_fee": 10_000, "no_show_fee": 15_000},
    ),
    (
        "muay-thai",
        "Muay Thai",
        "มวยไทย",
        90,
        8,
        "#dc2626",
        {"no_show_fee": 20_000, "late_cancel_fee": 15_000, "waitlist_limit": 6},
    ),
]
# class type, room, weekdays, local start
SCHEDULES = [
    ("yoga", "Studio A", "1357", dt.time(7, 0)),
    ("spin", "Spin room", "246", dt.time(18, 0)),
    ("hiit", "Studio A", "1234567", dt.time(12, 0)),
    ("muay-thai", "Studio A", "1234567", dt.time(19, 0)),
]


def _instructors() -> list[Instructor]:
    user_model = get_user_model()
    made = []
    for username, name in [("coach_ploy", "Kru Ploy"), ("coach_mike", "Coach Mike")]:
        user, created = user_model.objects.get_or_create(
            username=username, defaults={"is_staff": False, "first_name": name}
        )
        if created:
            user.set_unusable_password()
            user.save(update_fields=["password"])
        instructor, _ = Instructor.objects.get_or_create(user=user, defaults={"name": name})
        made.append(instructor)
    made[0].substitutes.add(made[1])
    made[1].substitutes.add(made[0])
    return made


def _members(count: int) -> list[Member]:
    ids = (
        Membership.objects.filter(status=MembershipStatus.ACTIVE, bookings_blocked=False)
        .order_by("member_id")
        .values_list("member_id", flat=True)
        .distinct()[:count]
    )
    return list(Member.objects.filter(pk__in=list(ids)).order_by("pk"))


def _try(call: Any) -> Any:
    try:
        return call()
    except DomainError:
        return None


def seed(ctx: SeedContext) -> None:
    if ClassType.objects.filter(code="yoga").exists():
        return
    location = Location.objects.order_by("pk").first() or Location.objects.create(name="Sukhumvit")
    studio_zone = Zone.objects.filter(code="studio").first()
    if studio_zone is not None:
        studio_zone.class_check_in = True
        studio_zone.save(update_fields=["class_check_in"])
    rooms = {
        "Studio A": Room.objects.create(
            location=location, zone=studio_zone, name="Studio A", capacity=20
        ),
        "Spin room": Room.objects.create(
            location=location, name="Spin room", capacity=16, spots=16
        ),
    }
    kinds = {}
    for code, name, name_th, minutes, capacity, colour, extra in TYPES:
        kinds[code] = ClassType.objects.create(
            code=code,
            name=name,
            name_th=name_th,
            description=f"{name} for every level.",
            description_th=f"{name_th} สำหรับทุกระดับ",
            duration_minutes=minutes,
            default_capacity=capacity,
            colour=colour,
            **extra,
        )
    premium = Plan.objects.filter(class_credits_per_period__isnull=False).order_by("pk").first()
    if premium is not None:
        kinds["spin"].plans.add(*Plan.objects.all())
    coaches = _instructors()
    today = clock.today()
    monday = today - dt.timedelta(days=today.weekday())
    for index, (code, room, days, start) in enumerate(SCHEDULES):
        Schedule.objects.create(
            class_type=kinds[code],
            room=rooms[room],
            instructor=coaches[index % 2],
            weekdays=days,
            start_time=start,
            valid_from=monday - dt.timedelta(days=7),
        )
    sessions_generate(first=monday - dt.timedelta(days=7), last=monday + dt.timedelta(days=13))
    ctx.manifest["classes"] = _story(ctx, kinds, today)


def _session(kind: ClassType, day: dt.date) -> ClassSession:
    start = clock.local_midnight(day)
    return ClassSession.objects.filter(
        class_type=kind, starts_at__gte=start, starts_at__lt=start + dt.timedelta(days=1)
    ).order_by("starts_at")[0]


def _story(ctx: SeedContext, kinds: dict[str, ClassType], today: dt.date) -> dict[str, Any]:
    people = _members(12)
    if len(people) < 3:
        return {}
    story: dict[str, Any] = {}
    tomorrow = today + dt.timedelta(days=1)
    # A full Muay Thai class tomorrow evening, with a waitlist; one cancel promotes.
    full = _session(kinds["muay-thai"], tomorrow)
    full.capacity = max(len(people) - 3, 1)
    full.save(update_fields=["capacity"])
    for member in people:
        _try(lambda m=member: booking.book(m, full.pk))
    first_in = full.bookings.filter(status="booked").order_by("pk").first()
    if first_in is not None:
        booking.cancel(first_in.pk, member=first_in.member)
    full.refresh_from_db()
    story["full_class_with_waitlist"] = {
        "class": f"{full.class_type.name} ({full.class_type.name_th})",
        "starts": full.starts_at.isoformat(),
        "booked": full.booked_count,
        "capacity": full.capacity,
        "waitlisted": full.bookings.filter(status="waitlisted").count(),
    }
    # Yesterday's HIIT: one no-show (fee pending), the others attended.
    yesterday = today - dt.timedelta(days=1)
    hiit_past = _session(kinds["hiit"], yesterday)
    with clock.travel_to(hiit_past.starts_at - dt.timedelta(hours=3)):
        made = [_try(lambda m=m: booking.book(m, hiit_past.pk)) for m in people[:3]]
    made = [b for b in made if b is not None]
    with clock.travel_to(hiit_past.starts_at + dt.timedelta(minutes=5)):
        for done in made[1:]:
            attendance.mark_attended(done.pk)
    with clock.travel_to(hiit_past.ends_at + dt.timedelta(hours=2)):
        attendance.attendance_close(hiit_past.pk)
    if made:
        no_show = made[0].member
        story["no_show_with_pending_fee"] = {
            "member": no_show.full_name,
            "member_number": no_show.member_number,
            "class": hiit_past.class_type.name,
        }
        # Their third no-show this month: booking is suspended for a week.
        BookingSuspension.objects.create(
            member=no_show,
            starts_at=hiit_past.ends_at + dt.timedelta(hours=2),
            ends_at=hiit_past.ends_at + dt.timedelta(days=7),
            strikes=3,
        )
        story["booking_suspended"] = {"member": no_show.full_name}
    # A late cancel: the next HIIT, cancelled inside its cutoff.
    hiit_next = ClassSession.objects.filter(
        class_type=kinds["hiit"], starts_at__gt=clock.now() + dt.timedelta(hours=2)
    ).order_by("starts_at")[0]
    late_member = people[-1]
    with clock.travel_to(hiit_next.starts_at - dt.timedelta(hours=5)):
        late = _try(lambda: booking.book(late_member, hiit_next.pk))
    if late is not None:
        with clock.travel_to(hiit_next.starts_at - dt.timedelta(minutes=60)):
            booking.cancel(late.pk, member=late_member)
        story["late_cancel_with_pending_fee"] = {
            "member": late_member.full_name,
            "member_number": late_member.member_number,
            "class": hiit_next.class_type.name,
        }
    # A member who has run out of credits: their plan's credits are used up this period.
    # Not one of the story's other members: the no-show is suspended from booking, and
    # which member has which plan depends on the seed's random draw.
    out = _out_of_credits(exclude={m.pk for m in people[:3]} | {late_member.pk})
    if out is not None:
        story["out_of_credits"] = {"member": out.full_name, "member_number": out.member_number}
    # Ordinary bookings over the week.
    upcoming = ClassSession.objects.filter(starts_at__gt=clock.now(), status="scheduled")
    for offset, member in enumerate(people[1:-1]):
        for session in upcoming.order_by("starts_at")[offset * 2 : offset * 2 + 2]:
            _try(lambda m=member, s=session: booking.book(m, s.pk))
    story["pending_fees"] = ClassFee.objects.filter(status="pending").count()
    ctx.say(
        f"  classes: {ClassSession.objects.count()} sessions, {story['pending_fees']} fees pending"
    )
    return story


def _out_of_credits(exclude: set[int]) -> Member | None:
    """A member on a plan with class credits who uses them all this period (one who may
    book at all: no running booking suspension, none of the story's other members)."""
    now = clock.now()
    membership = (
        Membership.objects.filter(
            status=MembershipStatus.ACTIVE,
            plan__class_credits_per_period__gt=0,
            bookings_blocked=False,
        )
        .exclude(member_id__in=exclude)
        .exclude(
            member__in=BookingSuspension.objects.filter(starts_at__lte=now, ends_at__gt=now).values(
                "member_id"
            )
        )
        .select_related("member", "plan")
        .order_by("pk")
        .first()
    )
    if membership is None:
        return None
    credits = membership.plan.class_credits_per_period or 0
    sessions = ClassSession.objects.filter(starts_at__gt=clock.now(), status="scheduled").order_by(
        "starts_at"
    )
    used = 0
    for session in sessions[: credits * 3]:
        if used >= credits:
            break
        if _try(lambda s=session: booking.book(membership.member, s.pk, waitlist=False)):
            used += 1
    return membership.member if used >= credits else None
