from django.db import migrations

from config.beat import beat_schedules

SCHEDULES = [
    # (name, task, crontab minute, hour)
    ("Daily billing run", "billing.tasks.daily_billing", "0", "2"),
    ("Reconcile unsettled payment attempts", "billing.tasks.reconcile_attempts", "*/10", "*"),
]


class Migration(migrations.Migration):
    dependencies = [
        ("billing", "0001_initial"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [beat_schedules(*SCHEDULES)]
