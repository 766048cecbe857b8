from django.db import migrations, models


def status_from_succeeded(apps, schema_editor):
    Refund = apps.get_model("billing", "Refund")
    Refund.objects.filter(succeeded=True).update(status="succeeded")
    # A refund never marked succeeded had no answer from the gateway.  Asking again now
    # could refund twice (the gateway forgets idempotency keys after a day, and staff may
    # have refunded again by hand), so staff check the gateway and resolve it.
    Refund.objects.filter(succeeded=False).update(
        status="review",
        message="No answer from the gateway was recorded before this upgrade: "
        "check the gateway's dashboard, then resolve the refund.",
    )


def succeeded_from_status(apps, schema_editor):
    Refund = apps.get_model("billing", "Refund")
    Refund.objects.filter(status="succeeded").update(succeeded=True)


class Migration(migrations.Migration):
    dependencies = [("billing", "0005_gateway_customers")]

    operations = [
        migrations.AddField(
            model_name="refund",
            name="status",
            field=models.CharField(
                choices=[
                    ("pending", "Pending"),
                    ("succeeded", "Refunded"),
                    ("failed", "Refused"),
                    ("review", "Needs review"),
                ],
                default="pending",
                max_length=10,
            ),
        ),
        migrations.AddField(
            model_name="refund",
            name="message",
            field=models.CharField(blank=True, max_length=300),
        ),
        migrations.AddField(
            model_name="refund",
            name="tries",
            field=models.PositiveSmallIntegerField(default=0),
        ),
        migrations.AddField(
            model_name="refund",
            name="last_tried_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.RunPython(status_from_succeeded, succeeded_from_status),
        migrations.RemoveField(model_name="refund", name="succeeded"),
        migrations.AddIndex(
            model_name="refund",
            index=models.Index(
                condition=models.Q(("status", "pending")),
                fields=["created_at"],
                name="refund_pending",
            ),
        ),
    ]
