from django.db import migrations

from config.beat import beat_schedules

NAME = "Members: lead follow-up emails"
# Hourly in the daytime (gym local time): marketing email never arrives at night.
TASK = "members.send_lead_follow_ups"


class Migration(migrations.Migration):
    dependencies = [
        ("members", "0007_leads"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [beat_schedules((NAME, TASK, "20", "9-19"))]
