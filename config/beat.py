"""Celery beat's schedules, put in place by data migrations.

Every app schedules its periodic tasks in the database (django-celery-beat), each on a
crontab in the gym's time zone.  :func:`beat_schedules` is the one operation their
migrations use, so a schedule is written, and taken off when the migration is reversed,
the same way everywhere.
"""

from __future__ import annotations

from typing import Any

from django.db import migrations

# (name, task, crontab minute, crontab hour): every day, in the gym's time zone.
Schedule = tuple[str, str, str, str]


def beat_schedules(*schedules: Schedule) -> migrations.RunPython:
    """A migration operation that schedules each task (by its unique name, updated in
    place if it is there already) and, reversed, removes those schedules."""

    def create(apps: Any, schema_editor: Any) -> None:
        from django.conf import settings

        crontab_model = apps.get_model("django_celery_beat", "CrontabSchedule")
        task_model = apps.get_model("django_celery_beat", "PeriodicTask")
        for name, task, minute, hour in schedules:
            crontab, _ = crontab_model.objects.get_or_create(
                minute=minute,
                hour=hour,
                day_of_week="*",
                day_of_month="*",
                month_of_year="*",
                timezone=settings.GYM_TIME_ZONE,
            )
            task_model.objects.update_or_create(
                name=name, defaults={"task": task, "crontab": crontab}
            )

    def remove(apps: Any, schema_editor: Any) -> None:
        names = [name for name, *_ in schedules]
        apps.get_model("django_celery_beat", "PeriodicTask").objects.filter(name__in=names).delete()

    return migrations.RunPython(create, remove)
