from django.db import migrations

from config.beat import beat_schedules

NAME = "Hourly dunning run"
TASK = "dunning.tasks.run_dunning"


class Migration(migrations.Migration):
    dependencies = [
        ("dunning", "0002_seed_policy"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [beat_schedules((NAME, TASK, "0", "*"))]
