# A schedule's kind of job is its `type`, as a job's is; the column keeps its name.

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("schedules", "0001_initial")]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[],
            state_operations=[
                migrations.RenameField(model_name="schedule", old_name="kind", new_name="type"),
                migrations.AlterField(
                    model_name="schedule", name="type", field=models.CharField(db_column="kind", max_length=64)
                ),
            ],
        ),
    ]
