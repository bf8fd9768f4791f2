"""Several hosts on one machine for the chaos tests: Linux network namespaces joined by veth
pairs to a bridge, in a private /24 that exists only inside them.

The first host is the hub: it holds the bridge (and its address, ``.1``); every other host has
one interface, ``eth0``, whose peer is a port of the bridge. No interface, address or route is
added to the namespace the tests run in, and no traffic leaves these namespaces. Names are
unique per run (``hpq<run><host>``); :meth:`Network.remove` deletes the namespaces, which takes
their interfaces with them.

:func:`inside` moves the calling thread into a host: the sockets it opens, the processes it
starts and the threads it creates from then on are on that host (``setns``, per thread).
"""

from __future__ import annotations

import ctypes
import os
import random
import shutil
import subprocess
import sys
import uuid
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager

#: setns(2)'s namespace type for a network namespace.
CLONE_NEWNET = 0x40000000
#: Where ``ip netns`` keeps its named namespaces.
NETNS_DIR = "/var/run/netns"


def _ip(*args: str) -> None:
    """Run ``ip ARGS``; CalledProcessError with its stderr if it fails."""
    subprocess.run(["ip", *args], check=True, capture_output=True, text=True, timeout=20)


def unavailable() -> str | None:
    """Why network namespaces cannot be built here (None: they can)."""
    if not sys.platform.startswith("linux"):
        return "network namespaces are a Linux feature"
    if os.geteuid() != 0:
        return "building network namespaces needs root (CAP_SYS_ADMIN and CAP_NET_ADMIN)"
    if shutil.which("ip") is None:
        return "no `ip` (iproute2) on PATH"
    probe = f"hpqprobe{uuid.uuid4().hex[:8]}"
    try:
        _ip("netns", "add", probe)
        _ip("-n", probe, "link", "add", "br0", "type", "bridge")
    except subprocess.CalledProcessError as exc:
        return f"`ip {' '.join(exc.cmd[1:])}` fails here: {exc.stderr.strip()}"
    finally:
        subprocess.run(["ip", "netns", "del", probe], check=False, capture_output=True,
                       timeout=20)
    return None


def _setns(fd: int) -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.setns(fd, CLONE_NEWNET) != 0:
        errno = ctypes.get_errno()
        raise OSError(errno, f"setns: {os.strerror(errno)}")


@contextmanager
def inside(namespace: str) -> Iterator[None]:
    """The calling thread in the network namespace ``namespace`` for the block."""
    with open("/proc/thread-self/ns/net") as here, \
            open(os.path.join(NETNS_DIR, namespace)) as there:
        _setns(there.fileno())
        try:
            yield
        finally:
            _setns(here.fileno())


class Network:
    """Hosts named ``hosts`` (the first is the hub), each in a namespace of its own."""

    def __init__(self, hosts: Sequence[str]) -> None:
        run = uuid.uuid4().hex[:6]
        prefix = f"10.{random.randint(100, 254)}.{random.randint(0, 254)}"
        self.hosts = list(hosts)
        self.namespaces = {h: f"hpq{run}{h}" for h in self.hosts}
        self.addresses = {h: f"{prefix}.{i + 1}" for i, h in enumerate(self.hosts)}
        self.created: list[str] = []
        try:
            self._build()
        except BaseException:
            self.remove()
            raise

    @property
    def hub(self) -> str:
        return self.hosts[0]

    def _build(self) -> None:
        for host in self.hosts:
            _ip("netns", "add", self.namespaces[host])
            self.created.append(self.namespaces[host])
            _ip("-n", self.namespaces[host], "link", "set", "lo", "up")
        hub = self.namespaces[self.hub]
        _ip("-n", hub, "link", "add", "br0", "type", "bridge")
        _ip("-n", hub, "addr", "add", f"{self.addresses[self.hub]}/24", "dev", "br0")
        _ip("-n", hub, "link", "set", "br0", "up")
        for host in self.hosts[1:]:
            ns, port = self.namespaces[host], f"p-{host}"[:15]
            _ip("-n", hub, "link", "add", port, "type", "veth", "peer", "name", "eth0",
                "netns", ns)
            _ip("-n", hub, "link", "set", port, "master", "br0", "up")
            _ip("-n", ns, "addr", "add", f"{self.addresses[host]}/24", "dev", "eth0")
            _ip("-n", ns, "link", "set", "eth0", "up")

    def inside(self, host: str) -> AbstractContextManager[None]:
        """:func:`inside` the namespace of ``host``."""
        return inside(self.namespaces[host])

    def cut(self, host: str) -> None:
        """Take ``host``'s interface down: it reaches nobody, nobody reaches it; its processes
        and their connections live on."""
        _ip("-n", self.namespaces[host], "link", "set", "eth0", "down")

    def heal(self, host: str) -> None:
        _ip("-n", self.namespaces[host], "link", "set", "eth0", "up")

    def remove(self) -> None:
        """Delete every namespace made (their interfaces go with them)."""
        for ns in reversed(self.created):
            subprocess.run(["ip", "netns", "del", ns], check=False, capture_output=True, timeout=20)
        self.created.clear()
