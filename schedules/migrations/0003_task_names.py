# Tasks are named by their module paths: names up to 200 characters, and each failed attempt's
# exception kept on its job (Django's TaskResult.errors).

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("schedules", "0002_schedule_type"),
    ]

    operations = [
        migrations.AlterField(
            model_name="schedule",
            name="type",
            field=models.CharField(db_column="kind", max_length=200),
        ),
    ]
