"""PgBouncer in transaction mode in front of the test database, as a process (Debian's)."""

import getpass
import os
import pwd
import shutil
import tempfile
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg
from django.db import connection

from bespin.testing.processes import Processes, database_url_for_tests, free_port, port_open, wait_for

PGBOUNCER = "/usr/sbin/pgbouncer"


def start_pgbouncer(processes: Processes) -> dict[str, str]:
    """Start it on a free port; the environment that sends Bespin through it: DATABASE_URL
    the pooler, DATABASE_DIRECT_URL PostgreSQL itself. PgBouncer refuses to run as root: as
    root, it runs as the `postgres` user, in a folder of its own."""
    port = free_port()
    folder = Path(tempfile.mkdtemp(prefix="bespin-pgbouncer-"))
    processes.cleanups.append(lambda: shutil.rmtree(folder, ignore_errors=True))
    command = [PGBOUNCER]
    if os.geteuid() == 0:
        account = pwd.getpwnam("postgres")
        os.chown(folder, account.pw_uid, account.pw_gid)
        command = ["setpriv", f"--reuid={account.pw_uid}", f"--regid={account.pw_gid}", "--clear-groups", PGBOUNCER]
    settings = connection.settings_dict
    user = settings["USER"] or getpass.getuser()
    server = f"host={settings['HOST'] or '127.0.0.1'} port={settings['PORT'] or 5432} user={user}"
    config = folder / "pgbouncer.ini"
    config.write_text(
        "[databases]\n"
        f"* = {server}\n"
        "[pgbouncer]\n"
        f"listen_addr = 127.0.0.1\nlisten_port = {port}\nunix_socket_dir =\n"
        # Any client user, logged in to PostgreSQL as `user` (trust, as the tests' server is).
        f"auth_type = any\npool_mode = transaction\nadmin_users = {user}\n"
        "max_client_conn = 1000\ndefault_pool_size = 20\n"
        f"logfile = {folder / 'pgbouncer.log'}\npidfile = {folder / 'pgbouncer.pid'}\n"
    )
    processes.start("pgbouncer", [*command, str(config)])
    wait_for(lambda: port_open(port), 15, 0.1, "pgbouncer to listen")
    direct = database_url_for_tests()
    parts = urlsplit(direct)
    pooled = urlunsplit(parts._replace(netloc=f"{user}@127.0.0.1:{port}"))
    return {"DATABASE_URL": pooled, "DATABASE_DIRECT_URL": direct}


def server_pids(pooled_url: str) -> set[int]:
    """The PostgreSQL backends PgBouncer holds (its console's SHOW SERVERS)."""
    parts = urlsplit(pooled_url)
    console = urlunsplit(parts._replace(path="/pgbouncer"))
    with psycopg.connect(console, autocommit=True) as pgbouncer:
        cursor = pgbouncer.execute("SHOW SERVERS")
        columns = [column.name for column in cursor.description]
        return {int(row[columns.index("remote_pid")]) for row in cursor.fetchall()}
