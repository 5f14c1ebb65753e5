# Schedules move to their own app (schedules.0001) with their table: a job's `schedule`
# now names schedules.Schedule, and the jobs app no longer records the model. Nothing in
# the database changes.

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("jobs", "0010_bucket_function"),
        ("schedules", "0001_initial"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[],
            state_operations=[
                migrations.AlterField(
                    model_name="job",
                    name="schedule",
                    field=models.ForeignKey(
                        blank=True,
                        db_index=False,
                        null=True,
                        on_delete=django.db.models.deletion.SET_NULL,
                        related_name="jobs",
                        to="schedules.schedule",
                    ),
                ),
                migrations.DeleteModel(name="Schedule"),
            ],
        ),
    ]
