# Schedules were a model of the jobs app (its migration 0009 made their table). The model
# moves here with its table as it is: only Django's record of the models changes.

import uuid

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):
    initial = True

    dependencies = [
        ("jobs", "0010_bucket_function"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[],
            state_operations=[
                migrations.CreateModel(
                    name="Schedule",
                    fields=[
                        ("id", models.UUIDField(default=uuid.uuid4, editable=False, primary_key=True, serialize=False)),
                        ("name", models.CharField(max_length=200)),
                        ("cron", models.CharField(max_length=200)),
                        ("timezone", models.CharField(default="UTC", max_length=64)),
                        ("kind", models.CharField(max_length=64)),
                        ("params", models.JSONField(blank=True, default=dict)),
                        ("enabled", models.BooleanField(default=True)),
                        ("priority", models.CharField(blank=True, default="", max_length=8)),
                        ("callback_url", models.CharField(blank=True, default="", max_length=2000)),
                        ("next_run_at", models.DateTimeField(blank=True, null=True)),
                        ("last_run_at", models.DateTimeField(blank=True, null=True)),
                        ("created_at", models.DateTimeField(auto_now_add=True)),
                        ("updated_at", models.DateTimeField(auto_now=True)),
                        (
                            "owner",
                            models.ForeignKey(
                                on_delete=django.db.models.deletion.CASCADE,
                                related_name="schedules",
                                to=settings.AUTH_USER_MODEL,
                            ),
                        ),
                    ],
                    options={
                        "db_table": "jobs_schedule",
                        "ordering": ["name", "created_at"],
                        "indexes": [
                            models.Index(
                                condition=models.Q(("enabled", True)), fields=["next_run_at"], name="schedule_due_idx"
                            ),
                            models.Index(fields=["owner", "name"], name="schedule_owner_name_idx"),
                        ],
                    },
                ),
            ],
        ),
    ]
