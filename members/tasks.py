"""Celery tasks: thin wrappers around the members services (schedules in migrations)."""

from __future__ import annotations

from celery import shared_task

from . import leads


@shared_task(name="members.send_lead_follow_ups")
def send_lead_follow_ups() -> dict[str, int]:
    return dict(leads.lead_follow_ups_send())


@shared_task(name="members.privacy_retention")
def privacy_retention() -> dict[str, int]:
    """Daily: anonymise what was kept of erased members once the legal period is over."""
    from .privacy.retention import retention_run

    return retention_run()
