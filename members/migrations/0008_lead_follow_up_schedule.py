from django.db import migrations

NAME = "Members: lead follow-up emails"
TASK = "members.send_lead_follow_ups"


def create_schedule(apps, schema_editor):
    from django.conf import settings

    crontab_model = apps.get_model("django_celery_beat", "CrontabSchedule")
    task_model = apps.get_model("django_celery_beat", "PeriodicTask")
    # Hourly in the daytime (gym local time): marketing email never arrives at night.
    crontab, _ = crontab_model.objects.get_or_create(
        minute="20", hour="9-19", day_of_week="*", day_of_month="*", month_of_year="*",
        timezone=settings.GYM_TIME_ZONE,
    )
    task_model.objects.update_or_create(name=NAME, defaults={"task": TASK, "crontab": crontab})


def remove_schedule(apps, schema_editor):
    apps.get_model("django_celery_beat", "PeriodicTask").objects.filter(name=NAME).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("members", "0007_leads"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(create_schedule, remove_schedule)]
