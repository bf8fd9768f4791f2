"""The local mode's fallback server (fakeredis over TCP) runs the store's scripts.

fakeredis's TCP server drops the connection after any error reply, so the first EVALSHA of a
script it had not cached (NOSCRIPT, then redis-py's SCRIPT LOAD on the dropped connection) could
fail with "Connection closed by server"; ``Store.connect`` now loads every script first.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from workers import Store, TaskStatus
from workers.config import Settings
from workers.local import start_fakeredis_server
from workers.task import Task

pytest.importorskip("lupa")


def test_a_store_on_the_fakeredis_tcp_server_moves_statuses(tmp_path: Path) -> None:
    with start_fakeredis_server() as server:
        url = server.url
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
