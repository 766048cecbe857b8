"""Recovery fitted to how Thai members are paid (issue 18).

- ``RetryPolicy.until_cancellation``: the retry window runs until the ladder's
  cancellation step.  Existing policies keep their days; the seeded default switches.
- ``PaydayCalendar``: the gym's paydays (the Thai default when there is none).
- ``maybe_funds``: "do not honor" (decline code and network code 05), timed as partly
  funds.  A rule staff already changed is left alone.
- The default ladder gains a friendly reminder on day 21, in the silent stretch
  between the final notice (day 14) and the cancellation (day 30).
"""

import django.db.models.deletion
import django.db.models.functions.comparison
import dunning.models
from django.db import migrations, models


SEEDED_POLICY = "Default: 8 retries within 14 days"
NEW_POLICY = "Default: 8 retries until the ladder cancels"
REMINDER = (55, "Friendly reminder", 21, "friendly_reminder")


def forwards(apps, schema_editor):
    policy = apps.get_model("dunning", "RetryPolicy")
    policy.objects.filter(plan__isnull=True, name=SEEDED_POLICY).update(
        until_cancellation=True, name=NEW_POLICY
    )
    rule = apps.get_model("dunning", "DeclineRule")
    rule.objects.filter(kind="decline", code="do_not_honor", category="generic").update(
        category="maybe_funds", note="Often low funds: retried on generic and payday timing."
    )
    rule.objects.bulk_create(
        [
            rule(
                kind="network",
                code="05",
                category="maybe_funds",
                note="Do not honor: often low funds.",
            )
        ],
        ignore_conflicts=True,
    )
    step = apps.get_model("dunning", "LadderStep")
    position, name, day, template = REMINDER
    global_steps = step.objects.filter(plan__isnull=True)
    final = global_steps.filter(template="final_notice").first()
    cancel = global_steps.filter(cancel_membership=True).first()
    if (
        final is not None
        and cancel is not None
        and final.days_since_failure < day < cancel.days_since_failure
        and final.position < position < cancel.position
        and not global_steps.filter(position=position).exists()
        and not global_steps.filter(template=template).exists()
    ):
        step.objects.create(
            position=position,
            name=name,
            days_since_failure=day,
            template=template,
            send_email=True,
            send_sms=True,
        )


def backwards(apps, schema_editor):
    apps.get_model("dunning", "RetryPolicy").objects.filter(
        plan__isnull=True, name=NEW_POLICY
    ).update(name=SEEDED_POLICY)
    rule = apps.get_model("dunning", "DeclineRule")
    rule.objects.filter(kind="decline", code="do_not_honor", category="maybe_funds").update(
        category="generic", note=""
    )
    rule.objects.filter(kind="network", code="05", category="maybe_funds").delete()
    step = apps.get_model("dunning", "LadderStep")
    used = apps.get_model("dunning", "StepExecution").objects.values("step_id")
    step.objects.filter(plan__isnull=True, template=REMINDER[3]).exclude(pk__in=used).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("dunning", "0007_interrupted_sends"),
        ("members", "0006_staff_security_events"),
    ]

    operations = [
        migrations.AddField(
            model_name="retrypolicy",
            name="until_cancellation",
            field=models.BooleanField(
                default=False,
                help_text="On: the retry window runs until the overdue ladder's cancellation step. Off (or a ladder without one): the number of days below.",
                verbose_name="retry until the ladder cancels",
            ),
        ),
        migrations.AlterField(
            model_name="declinerule",
            name="category",
            field=models.CharField(
                choices=[
                    ("hard", "Hard: never retry this card"),
                    ("customer_action", "Needs the member to act"),
                    ("funds", "Insufficient funds"),
                    ("temporary", "Temporary issuer or network problem"),
                    ("generic", "No reason given"),
                    ("maybe_funds", "Do not honor: often low funds"),
                    ("processing", "Processing error or unknown outcome"),
                ],
                max_length=20,
                verbose_name="category",
            ),
        ),
        migrations.AlterField(
            model_name="dunningcase",
            name="last_decline_category",
            field=models.CharField(
                blank=True,
                choices=[
                    ("hard", "Hard: never retry this card"),
                    ("customer_action", "Needs the member to act"),
                    ("funds", "Insufficient funds"),
                    ("temporary", "Temporary issuer or network problem"),
                    ("generic", "No reason given"),
                    ("maybe_funds", "Do not honor: often low funds"),
                    ("processing", "Processing error or unknown outcome"),
                ],
                max_length=20,
                verbose_name="decline category",
            ),
        ),
        migrations.CreateModel(
            name="PaydayCalendar",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                (
                    "last_working_day",
                    models.BooleanField(default=True, verbose_name="last working day of the month"),
                ),
                (
                    "days_of_month",
                    models.JSONField(
                        blank=True,
                        default=dunning.models.default_payday_days,
                        help_text="A list such as [25] or [15, 25]. A day that is not a working day moves to the working day before it.",
                        verbose_name="fixed paydays (days of the month)",
                    ),
                ),
                (
                    "civil_service",
                    models.BooleanField(
                        default=True,
                        help_text="Three working days before the last working day of the month, and the 16th (or the next working day) for those paid twice a month.",
                        verbose_name="civil-service paydays",
                    ),
                ),
                (
                    "first_working_day",
                    models.BooleanField(
                        default=True, verbose_name="first working day of the month"
                    ),
                ),
                (
                    "extra_dates",
                    models.JSONField(
                        blank=True,
                        default=list,
                        help_text='Dates such as ["2027-04-09"], e.g. a payroll brought forward.',
                        verbose_name="other paydays (dates)",
                    ),
                ),
                (
                    "country",
                    models.CharField(
                        default="TH",
                        help_text="Two letters, e.g. TH: whose weekends and public holidays move paydays.",
                        max_length=2,
                        verbose_name="holiday calendar (country code)",
                    ),
                ),
                ("updated_at", models.DateTimeField(auto_now=True, verbose_name="updated")),
                (
                    "gym",
                    models.OneToOneField(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="+",
                        to="members.gymprofile",
                        verbose_name="gym",
                    ),
                ),
            ],
            options={
                "verbose_name": "payday calendar",
                "verbose_name_plural": "payday calendars",
                "constraints": [
                    models.UniqueConstraint(
                        django.db.models.functions.comparison.Coalesce("gym", models.Value(0)),
                        name="one_payday_calendar_per_gym",
                    )
                ],
            },
        ),
        migrations.RunPython(forwards, backwards),
        migrations.AlterField(
            model_name="retrypolicy",
            name="until_cancellation",
            field=models.BooleanField(
                default=True,
                help_text="On: the retry window runs until the overdue ladder's cancellation step. Off (or a ladder without one): the number of days below.",
                verbose_name="retry until the ladder cancels",
            ),
        ),
    ]
