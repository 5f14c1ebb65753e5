# The counting trigger also appends, for each job that completes or fails, a delta of its
# task's minute by run-time bucket: the Tasks page's figures (jobs.models.TaskMinute).

from django.db import migrations, models

_FUNCTION = """
CREATE OR REPLACE FUNCTION jobs_count_updated() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  ran double precision;
  bucket smallint;
BEGIN
  IF OLD.status IS DISTINCT FROM NEW.status OR OLD.owner_id IS DISTINCT FROM NEW.owner_id
     OR OLD.type IS DISTINCT FROM NEW.type THEN
    INSERT INTO jobs_jobcountdelta (owner_id, kind, status, n) VALUES
      (COALESCE(OLD.owner_id, 0), OLD.type, OLD.status, -1),
      (COALESCE(NEW.owner_id, 0), NEW.type, NEW.status, 1);
  END IF;
  IF NEW.status IN ('completed', 'failed', 'cancelled') AND OLD.status IS DISTINCT FROM NEW.status THEN
    ran := EXTRACT(EPOCH FROM NEW.finished_at - NEW.started_at);
    bucket := CASE WHEN ran IS NULL THEN -1 ELSE jobs_duration_bucket(ran) END;
    INSERT INTO jobs_jobtallydelta (kind, event, bucket, count, seconds) VALUES
      (NEW.type, NEW.status, bucket, 1, COALESCE(ran, 0));
    IF NEW.status IN ('completed', 'failed') AND NEW.finished_at IS NOT NULL THEN
      INSERT INTO jobs_jobminutedelta (owner_id, minute, status, n) VALUES
        (COALESCE(NEW.owner_id, 0), date_trunc('minute', NEW.finished_at), NEW.status, 1);
      %(task_minutes)s
    END IF;
  END IF;
  RETURN NULL;
END $$;
"""
TASK_MINUTES = """INSERT INTO jobs_taskminutedelta (kind, minute, status, bucket, n) VALUES
        (NEW.type, date_trunc('minute', NEW.finished_at), NEW.status, bucket, 1);"""

FORWARD = (
    _FUNCTION % {"task_minutes": TASK_MINUTES}
    + """
-- The last two hours of jobs already there.
INSERT INTO jobs_taskminute (kind, minute, status, bucket, n)
  SELECT type, date_trunc('minute', finished_at), status,
         CASE WHEN started_at IS NULL THEN -1
              ELSE jobs_duration_bucket(EXTRACT(EPOCH FROM finished_at - started_at)) END, count(*)
    FROM jobs_job WHERE status IN ('completed', 'failed') AND finished_at >= now() - interval '2 hours'
    GROUP BY 1, 2, 3, 4;
"""
)
BACKWARD = _FUNCTION % {"task_minutes": ""}


class Migration(migrations.Migration):
    dependencies = [
        ("jobs", "0012_tasks"),
    ]

    operations = [
        migrations.CreateModel(
            name="TaskMinuteDelta",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("kind", models.CharField(max_length=200)),
                ("minute", models.DateTimeField()),
                ("status", models.CharField(max_length=16)),
                ("bucket", models.SmallIntegerField()),
                ("n", models.IntegerField()),
            ],
        ),
        migrations.CreateModel(
            name="TaskMinute",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("kind", models.CharField(max_length=200)),
                ("minute", models.DateTimeField()),
                ("status", models.CharField(max_length=16)),
                ("bucket", models.SmallIntegerField()),
                ("n", models.BigIntegerField(default=0)),
            ],
            options={
                "constraints": [
                    models.UniqueConstraint(fields=("kind", "minute", "status", "bucket"), name="task_minute_key")
                ],
            },
        ),
        migrations.RunSQL(FORWARD, BACKWARD),
    ]
