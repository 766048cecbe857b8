"""Locations and zones move from access_control to billing, keeping every row.

The tables already exist (``access_control`` 0001 made them).  This migration:

1. adds the two models to billing's state over the existing tables, touching nothing;
2. renames the tables to ``billing_location`` and ``billing_zone`` (foreign keys from
   other tables follow a renamed table on PostgreSQL and SQLite alike);
3. moves their content types to billing, so staff permissions and admin history stay.

``access_control`` 0004 then points its foreign keys at these models and drops its own
copies from its state, again without touching a table.
"""

import django.db.models.deletion
from django.db import migrations, models

import billing.places

MODELS = ("location", "zone")


def content_types_to(app_label, from_label):
    def move(apps, schema_editor):
        content_type = apps.get_model("contenttypes", "ContentType")
        db = schema_editor.connection.alias
        for model in MODELS:
            if content_type.objects.using(db).filter(app_label=app_label, model=model).exists():
                continue  # created afresh already: the old one's permissions go with it
            content_type.objects.using(db).filter(app_label=from_label, model=model).update(
                app_label=app_label
            )

    return move


class Migration(migrations.Migration):
    dependencies = [
        ("billing", "0007_refund_resend_schedule"),
        ("access_control", "0003_allowlist_listing"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name="Location",
                    fields=[
                        (
                            "id",
                            models.BigAutoField(
                                auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                            ),
                        ),
                        ("name", models.CharField(max_length=120, unique=True, verbose_name="name")),
                        (
                            "time_zone",
                            models.CharField(
                                default=billing.places.default_time_zone,
                                max_length=64,
                                validators=[billing.places.validate_time_zone],
                                verbose_name="time zone",
                            ),
                        ),
                    ],
                    options={
                        "verbose_name": "location",
                        "verbose_name_plural": "locations",
                        "ordering": ["name"],
                        "db_table": "access_control_location",
                    },
                ),
                migrations.CreateModel(
                    name="Zone",
                    fields=[
                        (
                            "id",
                            models.BigAutoField(
                                auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                            ),
                        ),
                        (
                            "code",
                            models.SlugField(
                                help_text="The code plans and packs use for this zone, e.g. gym-floor.",
                                max_length=40,
                                unique=True,
                                verbose_name="code",
                            ),
                        ),
                        ("name", models.CharField(max_length=120, verbose_name="name")),
                        (
                            "capacity",
                            models.PositiveIntegerField(
                                blank=True, help_text="Empty: no limit.", null=True, verbose_name="capacity"
                            ),
                        ),
                        (
                            "anti_passback",
                            models.CharField(
                                choices=[
                                    ("none", "Off"),
                                    ("timed", "Same direction twice within the set minutes"),
                                    ("strict", "Strict: no re-entry without an exit"),
                                ],
                                default="none",
                                max_length=8,
                                verbose_name="anti-passback",
                            ),
                        ),
                        (
                            "anti_passback_minutes",
                            models.PositiveSmallIntegerField(default=5, verbose_name="anti-passback minutes"),
                        ),
                        (
                            "location",
                            models.ForeignKey(
                                on_delete=django.db.models.deletion.PROTECT,
                                related_name="zones",
                                to="billing.location",
                                verbose_name="location",
                            ),
                        ),
                    ],
                    options={
                        "verbose_name": "zone",
                        "verbose_name_plural": "zones",
                        "ordering": ["location__name", "name"],
                        "db_table": "access_control_zone",
                        "constraints": [
                            models.CheckConstraint(
                                condition=models.Q(
                                    models.Q(("anti_passback", "timed"), _negated=True),
                                    ("anti_passback_minutes__gte", 1),
                                    _connector="OR",
                                ),
                                name="zone_timed_passback_has_minutes",
                            ),
                            models.CheckConstraint(
                                condition=models.Q(
                                    ("capacity__isnull", True), ("capacity__gte", 1), _connector="OR"
                                ),
                                name="zone_capacity_positive",
                            ),
                        ],
                    },
                ),
            ],
            database_operations=[],
        ),
        # ``None``: the default name, billing_location and billing_zone.
        migrations.AlterModelTable(name="location", table=None),
        migrations.AlterModelTable(name="zone", table=None),
        migrations.RunPython(
            content_types_to("billing", "access_control"),
            content_types_to("access_control", "billing"),
        ),
    ]
