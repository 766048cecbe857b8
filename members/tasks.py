"""Celery tasks: thin wrappers around the members services (schedules in migrations)."""

from __future__ import annotations

from celery import shared_task

from . import leads


@shared_task(name="members.send_lead_follow_ups")
def send_lead_follow_ups() -> dict[str, int]:
    return dict(leads.lead_follow_ups_send())
