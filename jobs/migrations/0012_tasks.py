# Tasks are named by their module paths: names up to 200 characters, and each failed attempt's
# exception kept on its job (Django's TaskResult.errors).

from django.db import migrations, models


DROP_TRIGGER = "DROP TRIGGER jobs_count_updated ON jobs_job;"
CREATE_TRIGGER = """
CREATE TRIGGER jobs_count_updated AFTER UPDATE ON jobs_job FOR EACH ROW
  WHEN (OLD.status IS DISTINCT FROM NEW.status OR OLD.owner_id IS DISTINCT FROM NEW.owner_id
        OR OLD.type IS DISTINCT FROM NEW.type)
  EXECUTE FUNCTION jobs_count_updated();
"""


class Migration(migrations.Migration):

    dependencies = [
        ('jobs', '0011_schedule_moves_to_its_app'),
    ]

    operations = [
        # The counting trigger's WHEN clause reads `type`, whose type cannot change under it.
        migrations.RunSQL(DROP_TRIGGER, reverse_sql=CREATE_TRIGGER),
        migrations.AddField(
            model_name='job',
            name='errors',
            field=models.JSONField(blank=True, db_default=[], default=list),
        ),
        migrations.AlterField(
            model_name='job',
            name='type',
            field=models.CharField(max_length=200),
        ),
        migrations.AlterField(
            model_name='jobcount',
            name='kind',
            field=models.CharField(max_length=200),
        ),
        migrations.AlterField(
            model_name='jobcountdelta',
            name='kind',
            field=models.CharField(max_length=200),
        ),
        migrations.AlterField(
            model_name='jobtally',
            name='kind',
            field=models.CharField(max_length=200),
        ),
        migrations.AlterField(
            model_name='jobtallydelta',
            name='kind',
            field=models.CharField(max_length=200),
        ),
        migrations.RunSQL(CREATE_TRIGGER, reverse_sql=DROP_TRIGGER),
    ]
