"""Doors, devices and the access log point at billing's locations and zones.

State only: the tables and their foreign keys are unchanged (``billing`` 0008 renamed
the tables the keys already point at).
"""

import django.db.models.deletion
from django.db import migrations, models


def zone_key(related_name, on_delete):
    return models.ForeignKey(
        on_delete=on_delete, related_name=related_name, to="billing.zone", verbose_name="zone"
    )


PROTECT = django.db.models.deletion.PROTECT
CASCADE = django.db.models.deletion.CASCADE


class Migration(migrations.Migration):
    dependencies = [
        ("access_control", "0003_allowlist_listing"),
        ("billing", "0008_places_from_access_control"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField("door", "zone", zone_key("doors", PROTECT)),
                migrations.AlterField("device", "zone", zone_key("devices", PROTECT)),
                migrations.AlterField("accessevent", "zone", zone_key("events", PROTECT)),
                migrations.AlterField("zonepresence", "zone", zone_key("+", CASCADE)),
                migrations.AlterField("allowlistlisting", "zone", zone_key("+", CASCADE)),
                migrations.DeleteModel(name="Zone"),
                migrations.DeleteModel(name="Location"),
            ],
            database_operations=[],
        ),
    ]
