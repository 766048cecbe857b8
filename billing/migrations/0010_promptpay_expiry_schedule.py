from django.db import migrations

from config.beat import beat_schedules

NAME = "Expire and reconcile PromptPay requests"
TASK = "billing.tasks.expire_promptpay_requests"


class Migration(migrations.Migration):
    dependencies = [
        ("billing", "0009_promptpay_requests"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [beat_schedules((NAME, TASK, "*", "*"))]
