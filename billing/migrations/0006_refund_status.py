from django.db import migrations, models


def status_from_succeeded(apps, schema_editor):
    Refund = apps.get_model("billing", "Refund")
    Refund.objects.filter(succeeded=True).update(status="succeeded")
    # A refund never marked succeeded had no answer from the gateway: it stays pending,
    # and the pending-refunds job asks the gateway again with its idempotency key.


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
                choices=[("pending", "Pending"), ("succeeded", "Refunded"), ("failed", "Refused")],
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
