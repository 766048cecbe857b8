"""Celery tasks: thin wrappers around the services (schedules in config.celery / beat)."""

from __future__ import annotations

from celery import shared_task

from .services import attendance, booking, fees, outbox, reminders, timetable


@shared_task(name="classes.generate_sessions")
def generate_sessions() -> int:
    return timetable.sessions_generate()


@shared_task(name="classes.expire_offers")
def expire_offers() -> int:
    return booking.offers_expire()


@shared_task(name="classes.close_attendance")
def close_attendance() -> int:
    return attendance.attendance_close_due()


@shared_task(name="classes.post_fees")
def post_fees() -> int:
    return fees.fees_post_due()


@shared_task(name="classes.send_reminders")
def send_reminders() -> int:
    planned = reminders.reminders_plan()
    outbox.deliver_due()
    return planned
