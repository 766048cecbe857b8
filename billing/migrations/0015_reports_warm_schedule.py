"""The beat schedule that warms the owner's dashboard every ten minutes.

The task lives in ``config.tasks`` (the dashboard spans every app); config has no
migrations of its own, and billing's hold the other beat schedules.
"""

from django.db import migrations

NAME = "Warm the owner's dashboard"
TASK = "config.tasks.reports_warm"


def create_schedule(apps, schema_editor):
    from django.conf import settings

    crontab_model = apps.get_model("django_celery_beat", "CrontabSchedule")
    task_model = apps.get_model("django_celery_beat", "PeriodicTask")
    crontab, _ = crontab_model.objects.get_or_create(
        minute="*/10",
        hour="*",
        day_of_week="*",
        day_of_month="*",
        month_of_year="*",
        timezone=settings.GYM_TIME_ZONE,
    )
    task_model.objects.update_or_create(name=NAME, defaults={"task": TASK, "crontab": crontab})


def remove_schedule(apps, schema_editor):
    apps.get_model("django_celery_beat", "PeriodicTask").objects.filter(name=NAME).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("billing", "0014_mrr_snapshots"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(create_schedule, remove_schedule)]
