"""`manage.py bootstrap`: what `make dev` runs before it starts the server and a worker.

Checks that PostgreSQL and Redis answer (one line saying which is down and how to start
it), creates the database when it is missing, migrates, and on an empty database creates a
first user whose password is printed once.
"""

import re
import secrets

import psycopg
import redis
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError
from django.db import connection
from psycopg import sql

from bespin.lib.redis import client_for

FIRST_USER = "admin"


class Command(BaseCommand):
    help = "Check PostgreSQL and Redis, create the database if missing, migrate, create a first user."

    def add_arguments(self, parser):
        parser.add_argument("--no-user", action="store_true", help="do not create a first user")

    def handle(self, *args, **options):
        self.ensure_database()
        self.check_redis()
        call_command("migrate", interactive=False, verbosity=0)
        self.stdout.write("database migrated")
        if not options["no_user"]:
            self.ensure_first_user()

    def ensure_database(self) -> None:
        """Create the database if it is missing. One plain connection to the server's
        `postgres` database, with a short timeout, asks first: an unreachable server is then
        one clear line, not the pool's retries and Django's fallback warnings before it."""
        settings_dict = connection.settings_dict
        name = settings_dict["NAME"]
        params = {key: value for key, value in connection.get_connection_params().items()
                  if key not in ("dbname", "pool", "context", "cursor_factory", "prepare_threshold")}  # fmt: skip
        try:
            server = psycopg.connect(**params, dbname="postgres", connect_timeout=3, autocommit=True)
        except psycopg.Error as exc:
            raise CommandError(
                f"PostgreSQL is not reachable at DATABASE_URL ({_first_line(exc)}): start it, e.g. "
                "`pg_ctlcluster $(ls /etc/postgresql) main start` or `docker compose up -d db`"
            ) from None
        with server:
            if server.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone() is None:
                server.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
                self.stdout.write(f"created database {name}")

    def check_redis(self) -> None:
        try:
            client_for(settings.REDIS_URL, socket_connect_timeout=2, socket_timeout=2).ping()
        except redis.RedisError as exc:
            where = f"through the sentinels {settings.REDIS_SENTINELS}" if settings.REDIS_SENTINELS else "at"
            shown = re.sub(r"//([^:/@]*):[^@/]*@", r"//\1:***@", settings.REDIS_URL)  # never the password
            raise CommandError(
                f"Redis is not reachable {where} {shown} ({type(exc).__name__}): start it, e.g. "
                "`redis-server --daemonize yes` or `docker compose up -d redis`"
            ) from None

    def ensure_first_user(self) -> None:
        users = get_user_model()
        if users.objects.exists():
            return
        password = secrets.token_urlsafe(12)
        users.objects.create_superuser(FIRST_USER, email="", password=password)
        self.stdout.write(
            self.style.SUCCESS(f"created the first user: {FIRST_USER} / {password}  (shown once; change it in /admin/)")
        )


def _first_line(error: Exception) -> str:
    return (str(error).strip().splitlines() or [type(error).__name__])[0]
