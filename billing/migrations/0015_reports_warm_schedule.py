"""The beat schedule that warms the owner's dashboard every ten minutes.

The task lives in ``config.tasks`` (the dashboard spans every app); config has no
migrations of its own, and billing's hold the other beat schedules.
"""

from django.db import migrations

from config.beat import beat_schedules

NAME = "Warm the owner's dashboard"
TASK = "config.tasks.reports_warm"


class Migration(migrations.Migration):
    dependencies = [
        ("billing", "0014_mrr_snapshots"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [beat_schedules((NAME, TASK, "*/10", "*"))]
