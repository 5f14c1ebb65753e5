# Why Bespin turned a schedule or a trigger off: its task gone, or its parameters no longer valid.

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('webhooks', '0002_task_names'),
    ]

    operations = [
        migrations.AddField(
            model_name='webhooktrigger',
            name='disabled_reason',
            field=models.CharField(blank=True, default='', max_length=500),
        ),
    ]
