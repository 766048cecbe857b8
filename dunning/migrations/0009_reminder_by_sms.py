"""The default ladder's day-3 reminder goes by SMS as well as email.

Every dunning message links to the same pay page; an SMS is read far more often than an
email (docs/dunning.md), and members who can only fix a failure themselves (a dead or
expired card) recover only when a message reaches them.  Only the seeded global step is
changed, and only while it is as seeded (email only); a gym's own edits are left alone.
"""

from django.db import migrations


def forwards(apps, schema_editor):
    apps.get_model("dunning", "LadderStep").objects.filter(
        plan__isnull=True,
        template="reminder",
        days_since_failure=3,
        send_email=True,
        send_sms=False,
    ).update(send_sms=True)


def backwards(apps, schema_editor):
    apps.get_model("dunning", "LadderStep").objects.filter(
        plan__isnull=True, template="reminder", days_since_failure=3, send_email=True
    ).update(send_sms=False)


class Migration(migrations.Migration):
    dependencies = [("dunning", "0008_recovery_fitted_to_paydays")]

    operations = [migrations.RunPython(forwards, backwards)]
