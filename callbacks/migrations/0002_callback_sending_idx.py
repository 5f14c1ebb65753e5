from django.contrib.postgres.operations import AddIndexConcurrently
from django.db import migrations, models


class Migration(migrations.Migration):
    # Built without locking out writes: the table holds every callback kept.
    atomic = False

    dependencies = [
        ("callbacks", "0001_initial"),
        ("jobs", "0013_task_minutes"),
    ]

    operations = [
        AddIndexConcurrently(
            model_name="callbackdelivery",
            index=models.Index(
                condition=models.Q(("claim__isnull", False), ("state", "pending")),
                fields=["job"],
                name="callback_sending_idx",
            ),
        ),
    ]
