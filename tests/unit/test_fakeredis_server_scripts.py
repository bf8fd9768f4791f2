"""The local mode's fallback server (fakeredis over TCP) runs the store's scripts.

fakeredis's TCP server drops the connection after any error reply, so the first EVALSHA of a
script it had not cached (NOSCRIPT, then redis-py's SCRIPT LOAD on the dropped connection) could
fail with "Connection closed by server"; ``Store.connect`` now loads every script first.
"""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import redis

from workers import Store, TaskStatus
from workers.config import Settings
from workers.task import Task

pytest.importorskip("lupa")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_a_store_on_the_fakeredis_tcp_server_moves_statuses(tmp_path: Path) -> None:
    port = _free_port()
    server = subprocess.Popen([sys.executable, "-m", "workers.local", str(port)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        url = f"redis://127.0.0.1:{port}/0"
        client = redis.Redis.from_url(url)
        deadline = time.monotonic() + 20
        while True:
            try:
                client.ping()
                break
            except redis.ConnectionError:
                assert time.monotonic() < deadline, "the fakeredis server did not start"
                time.sleep(0.05)
        settings = Settings(redis_url=url, namespace="t", home=tmp_path)
        store = Store.connect(url, settings)
        shas = [v.sha for v in vars(store).values() if hasattr(v, "sha")]
        assert len(shas) >= 9 and all(store.redis.script_exists(*shas))  # no NOSCRIPT ahead
        task = Task.create("p", "n", entry_point="tests.unit.sample_entry:main", store=store,
                           validate=False)
        assert store.transition(task.id, None, [TaskStatus.CREATED], TaskStatus.QUEUED) == (
            True, "created")
        claim = store.claim(task.id, None, "token", "worker")
        assert claim.outcome == "claimed"
        assert store.finish(task.id, None, "token", TaskStatus.COMPLETED)
        assert store.status(task.id) == TaskStatus.COMPLETED
        store.redis.close()
        client.close()
    finally:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
