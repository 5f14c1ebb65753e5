"""`manage.py migrate`: Django's, on the connection that has a session of its own.

With PgBouncer in transaction mode in front of PostgreSQL (DATABASE_URL the pooler,
DATABASE_DIRECT_URL the server), migrations go straight to the server: a migration's locks,
its concurrent index builds and its SET statements belong to one session. `--database`
still chooses another.
"""

from django.conf import settings
from django.core.management.commands.migrate import Command as DjangoMigrate


class Command(DjangoMigrate):
    def add_arguments(self, parser):
        super().add_arguments(parser)
        parser.set_defaults(database=settings.SESSION_DATABASE)
