from django.db import migrations

from config.beat import beat_schedules

# (name, task, crontab minute, hour)
SCHEDULES = [
    ("Classes: generate sessions from weekly schedules", "classes.generate_sessions", "15", "1"),
    ("Classes: expire offered places", "classes.expire_offers", "*", "*"),
    ("Classes: close attendance", "classes.close_attendance", "*/5", "*"),
    ("Classes: post late-cancel and no-show fees", "classes.post_fees", "*/15", "*"),
    ("Classes: reminders", "classes.send_reminders", "*/5", "*"),
]


class Migration(migrations.Migration):
    dependencies = [
        ("classes", "0001_initial"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [beat_schedules(*SCHEDULES)]
