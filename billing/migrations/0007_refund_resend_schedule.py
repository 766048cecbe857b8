from django.db import migrations

from config.beat import beat_schedules

NAME = "Ask again about pending card refunds"
TASK = "billing.tasks.resend_pending_refunds"


class Migration(migrations.Migration):
    dependencies = [
        ("billing", "0006_refund_status"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [beat_schedules((NAME, TASK, "*/15", "*"))]
