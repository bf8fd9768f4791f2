"""Zero-setup local mode: an embedded Redis-protocol server and local Celery worker processes.

With no ``HPQ_REDIS_URL``, the first use of the store starts a server owned by this process:

* a ``redis-server`` binary if one is on PATH, with its data (append-only file) in
  ``$HPQ_HOME/redis`` (default ``~/.hpqueue/redis``), so records survive the script; or
* fakeredis's TCP server in a child process, with the data in memory only.

Either way the URL is exported as ``HPQ_REDIS_URL`` for the processes this one starts, and local
workers are ordinary ``celery -A workers.app worker`` processes: the same code path as the
distributed mode. Servers and workers end with the process that started them.
"""

from __future__ import annotations

import atexit
import contextlib
import ctypes
import fcntl
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterable

import redis

from .config import Settings
from .errors import HpqError

_server: subprocess.Popen[bytes] | None = None
_embedded_url: str | None = None
_lock_file: object | None = None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _die_with_parent() -> None:
    """preexec_fn: ask Linux to SIGTERM the child when the spawning thread's process dies."""
    with contextlib.suppress(Exception):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def _wait_for(url: str, proc: subprocess.Popen[bytes], timeout: float = 20.0) -> None:
    client = redis.Redis.from_url(url, socket_connect_timeout=0.5)
    deadline = time.monotonic() + timeout
    while True:
        if proc.poll() is not None:
            raise HpqError(f"the embedded Redis server exited with code {proc.returncode}")
        try:
            client.ping()
            return
        except (redis.ConnectionError, redis.TimeoutError):
            if time.monotonic() > deadline:
                raise HpqError(f"the embedded Redis server did not answer at {url}") from None
            time.sleep(0.05)
        finally:
            client.close()


def ensure_local_server(settings: Settings, *, quiet: bool = False) -> str:
    """Start (once per process) or reuse the embedded server; export and return its URL."""
    global _server, _lock_file, _embedded_url
    if os.environ.get("HPQ_REDIS_URL"):
        return os.environ["HPQ_REDIS_URL"]
    binary = shutil.which("redis-server")
    if binary:
        data = settings.home / "redis"
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
            port = _free_port()
            url = f"redis://127.0.0.1:{port}/0"
            _server = subprocess.Popen(
                [binary, "--port", str(port), "--bind", "127.0.0.1", "--dir", str(data),
                 "--appendonly", "yes", "--appendfsync", "everysec", "--save", "",
                 "--maxmemory-policy", "noeviction", "--logfile", str(data / "redis.log")],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, preexec_fn=_die_with_parent)
            _wait_for(url, _server)
            (data / "url").write_text(url)
            where = f"{data} (append-only file; kept between runs)"
    else:
        port = _free_port()
        url = f"redis://127.0.0.1:{port}/0"
        _server = subprocess.Popen([sys.executable, "-m", "workers.local", str(port)],
                                   stdout=subprocess.DEVNULL, preexec_fn=_die_with_parent)
        _wait_for(url, _server)
        where = "memory of the embedded fakeredis server (gone when this process exits)"
    if _server is not None:
        atexit.register(_stop_server)
    os.environ["HPQ_REDIS_URL"] = url
    _embedded_url = url
    if not quiet:
        print(f"hpqueue local mode: Redis at {url}; data in {where}. "
              "Set HPQ_REDIS_URL to use your own Redis.", file=sys.stderr)
    return url


def is_embedded(url: str | None) -> bool:
    """True if ``url`` is the embedded server this process uses (local mode)."""
    return url is not None and url == _embedded_url


def _stop_server() -> None:
    global _server
    if _server is not None and _server.poll() is None:
        _server.terminate()
        with contextlib.suppress(subprocess.TimeoutExpired):
            _server.wait(timeout=10)
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
        #: Where the workers' output (and the trials' stdout) goes.
        self.log_path = log_dir / f"{self.hostname.split('@')[0]}.log"
        self._log = open(self.log_path, "ab")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "workers.app", "worker",
             "-Q", ",".join(self.queues), "-c", str(concurrency), "-P", "prefork",
             "-n", self.hostname, "--without-mingle", "--without-gossip", "-l", loglevel],
            env=env, stdin=subprocess.DEVNULL, stdout=self._log, stderr=subprocess.STDOUT,
            start_new_session=True)
        atexit.register(self.stop)
        print(f"hpqueue: {concurrency} local worker process(es) on queue(s) "
              f"{','.join(self.queues)}; log: {self.log_path}", file=sys.stderr)

    def wait_ready(self, timeout: float = 60.0) -> None:
        """Block until the worker registered itself; HpqError if it exits or times out."""
        key = self._store.keys.worker(self.hostname)
        deadline = time.monotonic() + timeout
        while not self._store.redis.exists(key):
            if self.proc.poll() is not None:
                raise HpqError(f"local worker exited with code {self.proc.returncode}")
            if time.monotonic() > deadline:
                raise HpqError(f"local worker not ready after {timeout}s")
            time.sleep(0.05)

    def stop(self, timeout: float = 30.0) -> None:
        """Warm shutdown (running trials finish), then kill after ``timeout`` seconds."""
        if self.proc.poll() is not None:
            self._log.close()
            return
        # SIGTERM to the main process only: sent to the whole group it would also reach the pool
        # processes, which then die mid-trial instead of finishing (warm shutdown)
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
        self._log.close()

    def __enter__(self) -> LocalWorkers:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _keep_connection_on_error_reply(base: type) -> type:
    """fakeredis's TCP handler closes the connection after any error reply (fakeredis-py#432),
    so that redis-py's EVALSHA -> NOSCRIPT -> SCRIPT LOAD fallback, which every store script
    relies on, fails with ConnectionError. Send error replies as replies instead."""

    class Handler(base):  # type: ignore[misc, valid-type]
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
