"""Fixtures of the chaos suite: a private redis-server per test (append-only file synced every
second, as in production), which a test may kill, stop and restart on the same port with the
same data; real Celery worker processes (:class:`workers.procs.WorkerProcess`) that the test
checks are still alive at its end; a store and the Celery app pointed at that server.

Every test module here marks its tests ``chaos`` (``pytest -m chaos`` runs the suite alone);
they are skipped without a ``redis-server`` on PATH.
"""

from __future__ import annotations

import os
import shutil
import signal
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from tests.conftest import ROOT
from workers import Store, set_store
from workers.config import Settings
from workers.procs import ServerProcess, WorkerProcess, start_redis_server

#: The production configuration of local mode (see workers.local.REDIS_CONFIG).
AOF_CONFIG = {"appendonly": "yes", "appendfsync": "everysec", "save": "",
              "maxmemory-policy": "noeviction"}


class RedisUnderTest:
    """A redis-server the test owns: kill it, stop it, start it again on the same port and
    data directory."""

    def __init__(self, directory: Path, config: dict[str, str] | None = None) -> None:
        self.directory = directory
        self.config = {**AOF_CONFIG, **(config or {})}
        self.server: ServerProcess = start_redis_server(directory, config=self.config)
        self.port = self.server.port
        self.url = self.server.url

    def admin(self) -> redis.Redis:
        """A client of its own (no retries), for the test's checks and faults."""
        return redis.Redis.from_url(self.url, decode_responses=True, socket_timeout=5)

    def kill(self) -> None:
        """SIGKILL: the writes of the last second may be lost (appendfsync everysec)."""
        self.server.proc.send_signal(signal.SIGKILL)
        self.server.proc.wait(timeout=10)

    def start(self) -> None:
        """Start again, on the same port with the same append-only file."""
        self.server = start_redis_server(self.directory, port=self.port, config=self.config)

    def restart(self, down: float, lose_last: float = 0.0) -> None:
        """kill -9, ``down`` seconds without Redis, then start again. ``lose_last``: the
        append-only file loses the writes of the last that many seconds before the kill (as
        when the machine itself dies with ``appendfsync everysec``: the file is copied, and
        put back after the kill)."""
        if lose_last:
            saved = self.directory.parent / "aof-before-kill"
            self._copy_aof(self.directory, saved)
            time.sleep(lose_last)
        self.kill()
        if lose_last:
            self._copy_aof(saved, self.directory)
        time.sleep(down)
        self.start()

    @staticmethod
    def _copy_aof(source: Path, target: Path) -> None:
        """Copy the append-only file(s) (Redis >= 7: the ``appendonlydir`` directory)."""
        target.mkdir(parents=True, exist_ok=True)
        for path in source.glob("appendonly*"):
            if path.is_dir():
                shutil.rmtree(target / path.name, ignore_errors=True)
                shutil.copytree(path, target / path.name)
            else:
                shutil.copy2(path, target / path.name)

    def stop(self) -> None:
        self.server.stop()


@pytest.fixture
def chaos_redis(tmp_path: Path) -> Iterator[RedisUnderTest]:
    if shutil.which("redis-server") is None:
        pytest.skip("no redis-server on PATH")
    server = RedisUnderTest(tmp_path / "redis")
    try:
        yield server
    finally:
        server.stop()


def environment(url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                **overrides: str) -> dict[str, str]:
    """Set (and return) the environment of a chaos test's process and workers: the store at
    ``url``, its own namespace, short heartbeat timings; ``overrides`` replace any of them."""
    env = {
        "HPQ_REDIS_URL": url,
        "HPQ_NAMESPACE": f"chaos{uuid.uuid4().hex[:8]}",
        "HPQ_HOME": str(tmp_path / "home"),
        "HPQ_ARTIFACTS_DIR": str(tmp_path / "artifacts"),
        "HPQ_HEARTBEAT_INTERVAL": "0.2",
        "HPQ_HEARTBEAT_GRACE": "2",
        "HPQ_STOP_GRACE": "3",
        "HPQ_TRIM_EVENTS": "0",  # the accounting reads every event of an ended optimization
        "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
        **overrides,
    }
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    return env


@pytest.fixture
def chaos_env(chaos_redis: RedisUnderTest, tmp_path: Path,
              monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """The environment of the test process and its workers (:func:`environment`) on the
    private Redis. A test module may override this fixture to point the store elsewhere."""
    return environment(chaos_redis.url, tmp_path, monkeypatch)


@pytest.fixture
def chaos_store(chaos_env: dict[str, str]) -> Iterator[Store]:
    """A store on the private Redis, installed as default; Celery pointed at it."""
    from workers import app as app_module

    settings = Settings.from_env()
    store = Store.connect(chaos_env["HPQ_REDIS_URL"], settings)
    set_store(store)
    app_module.configure(settings, chaos_env["HPQ_REDIS_URL"])
    yield store
    set_store(None)


class Workers:
    """Celery worker processes started by a test; each must still run when the test ends."""

    def __init__(self, store: Store, env: dict[str, str], logs: Path) -> None:
        self.store = store
        self.env = env
        self.logs = logs
        self.procs: list[WorkerProcess] = []

    def start(self, queue: str, count: int = 1, concurrency: int = 2,
              env: dict[str, str] | None = None, wrap: list[str] | None = None
              ) -> list[WorkerProcess]:
        """``count`` workers of ``concurrency`` prefork processes each, ready."""
        self.logs.mkdir(parents=True, exist_ok=True)
        started = []
        for _ in range(count):
            name = f"chaos-{uuid.uuid4().hex[:6]}"
            started.append(WorkerProcess(queue, hostname=f"{name}@chaos", concurrency=concurrency,
                                         pool="prefork", env={**os.environ, **self.env,
                                                              **(env or {})},
                                         log_path=self.logs / f"{name}.log", cwd=ROOT))
        self.procs += started
        for worker in started:
            worker.wait_ready(self.store, timeout=60)
        return started

    def dead(self) -> list[str]:
        """``hostname: exit code`` of every worker whose main process has exited."""
        return [f"{w.hostname}: {w.proc.returncode}" for w in self.procs
                if w.proc.poll() is not None]

    def log_text(self) -> str:
        return "\n".join(p.read_text(errors="replace") for p in sorted(self.logs.glob("*.log")))

    def stop(self) -> None:
        for worker in self.procs:
            worker.stop(timeout=20)


@pytest.fixture
def chaos_workers(chaos_store: Store, chaos_env: dict[str, str], tmp_path: Path
                  ) -> Iterator[Workers]:
    workers = Workers(chaos_store, chaos_env, tmp_path / "logs")
    try:
        yield workers
    finally:
        workers.stop()
        for log in sorted(workers.logs.glob("*.log")):  # shown by pytest when the test failed
            lines = log.read_text(errors="replace").splitlines()[-40:]
            print(f"----- {log.name} (last {len(lines)} lines)", *lines, sep="\n")

