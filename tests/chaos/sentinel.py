"""A Redis high-availability group on this machine for the chaos tests: a primary, a replica and
three Sentinels (``redis-server sentinel.conf --sentinel``, the same binary), every one a child
process on a free loopback port, with short failure-detection timings.

The primary and the replica require a password (the master's password is the one in hpqueue's
``sentinel://:PASS@...`` URL); the Sentinels do not.
"""

from __future__ import annotations

import shutil
import signal
from pathlib import Path
from typing import Any

import redis

from tests.chaos.conftest import AOF_CONFIG
from tests.helpers import wait_until
from workers.procs import LOCALHOST, ServerProcess, start_redis_server, start_server

#: The master's name the Sentinels monitor (not the default: HPQ_SENTINEL_MASTER is exercised).
MASTER = "hpqprimary"
PASSWORD = "sentinel-test-pw"
#: Sentinel timings: the primary is judged down after 1 s without an answer.
DOWN_AFTER_MS = 1000
FAILOVER_TIMEOUT_MS = 5000


class SentinelGroup:
    """A primary, one replica of it and three Sentinels monitoring it as :data:`MASTER`."""

    def __init__(self, directory: Path) -> None:
        self.primary = self._data_server(directory / "primary", {})
        self.replica = self._data_server(
            directory / "replica", {"replicaof": f"{LOCALHOST} {self.primary.port}"})
        self.sentinels = [self._sentinel(directory / f"sentinel{i}") for i in range(3)]

    @staticmethod
    def _data_server(directory: Path, config: dict[str, str]) -> ServerProcess:
        # the password is set once it answers (start_redis_server's PING carries none); a
        # replica authenticates to its primary with masterauth, either may become the primary
        server = start_redis_server(directory, config={**AOF_CONFIG, "masterauth": PASSWORD,
                                                       **config})
        client = redis.Redis(LOCALHOST, server.port, socket_timeout=5)
        client.config_set("requirepass", PASSWORD)
        client.close()
        return server

    def _sentinel(self, directory: Path) -> ServerProcess:
        directory.mkdir(parents=True)
        conf = directory / "sentinel.conf"  # Sentinel rewrites it: one file each
        conf.write_text(
            f"sentinel monitor {MASTER} {LOCALHOST} {self.primary.port} 2\n"
            f"sentinel auth-pass {MASTER} {PASSWORD}\n"
            f"sentinel down-after-milliseconds {MASTER} {DOWN_AFTER_MS}\n"
            f"sentinel failover-timeout {MASTER} {FAILOVER_TIMEOUT_MS}\n"
            f"sentinel parallel-syncs {MASTER} 1\n")
        binary = shutil.which("redis-server") or "redis-server"
        log = directory / "sentinel.log"

        def command(port: int) -> list[str]:
            return [binary, str(conf), "--sentinel", "--port", str(port), "--bind", LOCALHOST,
                    "--dir", str(directory), "--logfile", str(log)]

        return start_server(command, log=log)

    @property
    def url(self) -> str:
        """hpqueue's URL of the group, in Celery's form (database 0)."""
        hosts = [f"sentinel://{LOCALHOST}:{s.port}" for s in self.sentinels]
        hosts[0] = hosts[0].replace("sentinel://", f"sentinel://:{PASSWORD}@")
        return ";".join(hosts) + "/0"

    def sentinel(self, i: int = 0) -> redis.Redis:
        return redis.Redis(LOCALHOST, self.sentinels[i].port, decode_responses=True,
                           socket_timeout=5)

    def master_port(self, i: int = 0) -> int:
        """The port of the primary as Sentinel ``i`` sees it."""
        address: Any = self.sentinel(i).sentinel_get_master_addr_by_name(MASTER)
        return int(address[1])

    def wait_ready(self, timeout: float = 30) -> None:
        """Until every Sentinel knows the two others and the replica, and the replica is in
        sync: a failover can then be agreed on."""
        def ready() -> bool:
            for i in range(3):
                state: Any = self.sentinel(i).sentinel_master(MASTER)
                if state["num-other-sentinels"] < 2 or state["num-slaves"] < 1:
                    return False
            info = redis.Redis(LOCALHOST, self.replica.port, password=PASSWORD,
                               socket_timeout=5).info("replication")
            return bool(info.get("master_link_status") == "up")

        wait_until(ready, timeout, "the Sentinels to know each other and the replica", poll=0.2)

    def kill_primary(self) -> None:
        """SIGKILL the primary (it stays down)."""
        self.primary.proc.send_signal(signal.SIGKILL)
        self.primary.proc.wait(timeout=10)

    def stop(self) -> None:
        for server in (*self.sentinels, self.replica, self.primary):
            server.stop()
