from django.db import migrations

# (name, task, crontab minute, hour)
SCHEDULES = [
    ("Classes: generate sessions from weekly schedules", "classes.generate_sessions", "15", "1"),
    ("Classes: expire offered places", "classes.expire_offers", "*", "*"),
    ("Classes: close attendance", "classes.close_attendance", "*/5", "*"),
    ("Classes: post late-cancel and no-show fees", "classes.post_fees", "*/15", "*"),
    ("Classes: reminders", "classes.send_reminders", "*/5", "*"),
]


def create_schedules(apps, schema_editor):
    from django.conf import settings

    crontab_model = apps.get_model("django_celery_beat", "CrontabSchedule")
    task_model = apps.get_model("django_celery_beat", "PeriodicTask")
    for name, task, minute, hour in SCHEDULES:
        crontab, _ = crontab_model.objects.get_or_create(
            minute=minute, hour=hour, day_of_week="*", day_of_month="*", month_of_year="*",
            timezone=settings.GYM_TIME_ZONE,
        )
        task_model.objects.update_or_create(name=name, defaults={"task": task, "crontab": crontab})


def remove_schedules(apps, schema_editor):
    names = [name for name, *_ in SCHEDULES]
    apps.get_model("django_celery_beat", "PeriodicTask").objects.filter(name__in=names).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("classes", "0001_initial"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(create_schedules, remove_schedules)]
