# Tasks are named by their module paths: names up to 200 characters, and each failed attempt's
# exception kept on its job (Django's TaskResult.errors).

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('webhooks', '0001_receipts_sources_triggers'),
    ]

    operations = [
        migrations.AlterField(
            model_name='webhooktrigger',
            name='job_kind',
            field=models.CharField(max_length=200),
        ),
    ]
