"""A private RabbitMQ node for the tests that must change a server setting (the shared broker's
settings are never touched).

:func:`start_node` runs ``rabbitmq-server`` in the foreground as the current user, with its own
node name, ports, data, logs and Erlang cookie under a temporary directory; :meth:`Node.stop`
stops it (the script's SIGTERM handler) and kills what is left of its process group.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

from kombu import Connection

from workers.procs import free_port, stop_process

#: The script that runs the server as the calling user (Debian's /usr/sbin wrapper switches to
#: the rabbitmq user, which cannot read a test's temporary directory).
SCRIPTS = ("/usr/lib/rabbitmq/bin/rabbitmq-server", "/usr/lib/rabbitmq/sbin/rabbitmq-server")


def server_script() -> str | None:
    """Path of a ``rabbitmq-server`` script that runs as the calling user, or None."""
    for path in SCRIPTS:
        if os.access(path, os.X_OK):
            return path
    found = shutil.which("rabbitmq-server")
    if found and "su rabbitmq" not in Path(found).read_text(errors="replace"):
        return found
    return None


@dataclass
class Node:
    """A running private node: ``url`` is its AMQP URL (guest/guest); its files are in ``base``."""

    url: str
    name: str
    proc: subprocess.Popen[bytes]
    base: Path
    env: dict[str, str]

    def ctl(self, *args: str) -> str:
        """The output of ``rabbitmqctl -n <node> -q <args>``."""
        script = server_script() or "rabbitmq-server"
        return subprocess.run([str(Path(script).with_name("rabbitmqctl")), "-n", self.name, "-q",
                               *args], env=self.env, capture_output=True, text=True,
                              timeout=60, check=True).stdout

    def version(self) -> tuple[int, ...]:
        """The server's version, e.g. (3, 10, 8)."""
        with Connection(self.url, connect_timeout=5) as conn:
            conn.ensure_connection(max_retries=1)
            raw = conn.connection.server_properties["version"]
        text = raw.decode() if isinstance(raw, bytes) else str(raw)
        return tuple(int(p) for p in text.split("+")[0].split(".") if p.isdigit())

    def stop(self, timeout: float = 30.0) -> None:
        """Stop the node (the script's SIGTERM handler); kill its process group if it has not
        ended after ``timeout`` seconds."""
        stop_process(self.proc, timeout, kill_group=True)


def start_node(base: Path, config: str, advanced: str = "[].", timeout: float = 60.0) -> Node:
    """Start a node whose ``rabbitmq.conf`` is ``config`` (plus its listener) and whose
    ``advanced.config`` is ``advanced``; return once it accepts AMQP connections.

    Raises RuntimeError (with the end of its log) if it exits or does not answer in time.
    """
    script = server_script()
    if script is None:
        raise RuntimeError("no rabbitmq-server script that runs as this user was found")
    port, dist_port = free_port(), free_port()
    name = f"hpqtest{uuid.uuid4().hex[:8]}"
    base.mkdir(parents=True, exist_ok=True)
    (base / "rabbitmq.conf").write_text(
        f"listeners.tcp.default = 127.0.0.1:{port}\nloopback_users.guest = false\n{config}\n")
    (base / "advanced.config").write_text(advanced + "\n")
    (base / "enabled_plugins").write_text("[].\n")
    (base / "rabbitmq-env.conf").write_text("")
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(base),  # the node's and rabbitmqctl's Erlang cookie
        "RABBITMQ_NODENAME": f"{name}@localhost",
        "RABBITMQ_NODE_IP_ADDRESS": "127.0.0.1",
        "RABBITMQ_NODE_PORT": str(port),
        "RABBITMQ_DIST_PORT": str(dist_port),
        "RABBITMQ_CONFIG_FILE": str(base / "rabbitmq.conf"),
        "RABBITMQ_ADVANCED_CONFIG_FILE": str(base / "advanced.config"),
        "RABBITMQ_ENABLED_PLUGINS_FILE": str(base / "enabled_plugins"),
        "RABBITMQ_CONF_ENV_FILE": str(base / "rabbitmq-env.conf"),
        "RABBITMQ_MNESIA_BASE": str(base / "mnesia"),
        "RABBITMQ_LOG_BASE": str(base / "log"),
        "RABBITMQ_PID_FILE": str(base / "pid"),
    }
    with open(base / "stdout.log", "wb") as out:
        proc = subprocess.Popen([script], env=env, cwd=base, stdout=out,
                                stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                start_new_session=True)
    node = Node(f"amqp://guest:guest@127.0.0.1:{port}//", env["RABBITMQ_NODENAME"], proc, base,
                env)
    deadline = time.monotonic() + timeout
    while True:
        try:
            with Connection(node.url, connect_timeout=1) as conn:
                conn.ensure_connection(max_retries=1)
            return node
        except Exception as exc:  # noqa: BLE001 - not up yet
            if proc.poll() is not None or time.monotonic() > deadline:
                node.stop()
                tail = (base / "stdout.log").read_text(errors="replace")[-2000:]
                raise RuntimeError(f"private RabbitMQ node did not start ({exc}):\n{tail}") \
                    from None
            time.sleep(0.2)
