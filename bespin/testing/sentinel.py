"""Redis as a team runs it past one machine, for tests: a master, a replica and three
sentinels watching them, each a process (Debian's redis-server and redis-sentinel)."""

import shutil
import time
from pathlib import Path

from redis import Redis

from bespin.testing.processes import Processes, free_port, wait_for

MASTER_NAME = "bespin"
# The sentinels call the master down after a second without an answer; two of three agree.
DOWN_AFTER_MS = 1000


class SentinelRedis:
    def __init__(self, processes: Processes, folder: Path):
        self.processes, self.folder = processes, folder
        self.master_port, self.replica_port = free_port(), free_port()
        self.sentinel_ports = [free_port() for _ in range(3)]
        self.servers = {}

    def env(self) -> dict[str, str]:
        """What Bespin's processes are given: the sentinels, and REDIS_URL for the database
        number (its host is the first master's, which Bespin does not use with sentinels)."""
        return {
            "REDIS_URL": f"redis://127.0.0.1:{self.master_port}/0",
            "REDIS_SENTINELS": ",".join(f"127.0.0.1:{port}" for port in self.sentinel_ports),
            "REDIS_SENTINEL_MASTER": MASTER_NAME,
        }

    def start(self) -> None:
        self.servers[self.master_port] = self.processes.redis(self.master_port)
        self.servers[self.replica_port] = self.processes.redis(
            self.replica_port, "--replicaof", "127.0.0.1", str(self.master_port), name="redis-replica"
        )
        sentinel = shutil.which("redis-sentinel") or "/usr/bin/redis-sentinel"
        for port in self.sentinel_ports:
            config = self.folder / f"sentinel-{port}.conf"  # the sentinel rewrites it as it learns
            config.write_text(
                f"port {port}\nbind 127.0.0.1\ndir {self.folder}\n"
                f"sentinel monitor {MASTER_NAME} 127.0.0.1 {self.master_port} 2\n"
                f"sentinel down-after-milliseconds {MASTER_NAME} {DOWN_AFTER_MS}\n"
                f"sentinel failover-timeout {MASTER_NAME} 10000\n"
                f"sentinel parallel-syncs {MASTER_NAME} 1\n"
            )
            self.processes.start("sentinel", [sentinel, str(config)])

        def watching():
            for port in self.sentinel_ports:
                try:
                    state = Redis(port=port, socket_timeout=1).sentinel_master(MASTER_NAME)
                except Exception:
                    return False
                if state["num-slaves"] != 1 or state["num-other-sentinels"] != 2:
                    return False
            return Redis(port=self.master_port).info("replication")["connected_slaves"] == 1

        wait_for(watching, 60, 0.2, "three sentinels that know each other, the master and its replica")

    def master(self) -> int:
        """The master's port, as the first sentinel answers now."""
        _, port = Redis(port=self.sentinel_ports[0], socket_timeout=1).sentinel_get_master_addr_by_name(MASTER_NAME)
        return int(port)

    def kill_master(self) -> float:
        """SIGKILL the master, as losing its machine would; the time it happened."""
        port = self.master()
        killed_at = time.monotonic()
        self.processes.kill(self.servers[port])
        return killed_at

    def wait_for_failover(self, old: int, timeout: float = 30) -> int:
        wait_for(lambda: self.master() != old, timeout, 0.1, "the sentinels to promote the replica")
        return self.master()
