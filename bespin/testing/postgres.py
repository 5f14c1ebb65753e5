"""A PostgreSQL cluster of its own, for what restarts PostgreSQL (the outage tests, `make
soak`) without touching the machine's."""

import glob
import shutil
import subprocess
import tempfile
from pathlib import Path

import psycopg

from bespin.testing.processes import free_port


class PrivatePostgres:
    """A PostgreSQL cluster of the test's own (as user postgres: initdb refuses root), so
    that restarting it touches nothing else."""

    def __init__(self):
        self.bin = Path(sorted(glob.glob("/usr/lib/postgresql/*/bin"))[-1])
        # Not under pytest's tmp_path, which only root may enter.
        self.directory = Path(tempfile.mkdtemp(prefix="bespin-pg-"))
        self.data, self.sockets = self.directory / "data", self.directory / "sockets"
        self.port = free_port()
        self.sockets.mkdir()
        shutil.chown(self.directory, "postgres")
        shutil.chown(self.sockets, "postgres")
        self._as_postgres("initdb", "-D", self.data, "-A", "trust", "-U", "postgres", "--no-sync")
        self.start()
        with psycopg.connect(self.url("postgres"), autocommit=True) as db:
            db.execute("CREATE DATABASE bespin")

    def _as_postgres(self, tool: str, *args) -> None:
        command = ["runuser", "-u", "postgres", "--", str(self.bin / tool), *map(str, args)]
        subprocess.run(command, check=True, capture_output=True, timeout=60)

    def url(self, name: str = "bespin") -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/{name}"

    def start(self) -> None:
        options = f"-p {self.port} -k {self.sockets} -c listen_addresses=127.0.0.1 -c fsync=off"
        self._as_postgres("pg_ctl", "-D", self.data, "-o", options, "-w", "-l", self.data / "log", "start")

    def stop(self) -> None:
        self._as_postgres("pg_ctl", "-D", self.data, "-m", "fast", "-w", "stop")
