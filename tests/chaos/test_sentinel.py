"""Redis high availability: the store and the Celery broker reach Redis through three Sentinels
(``HPQ_REDIS_URL="sentinel://:PASS@h1:p1;sentinel://h2:p2;sentinel://h3:p3/0"``, the master's
name in ``HPQ_SENTINEL_MASTER``). The primary is killed (SIGKILL) in the middle of an
optimization; the Sentinels promote the replica, and the optimization finishes by itself with
every trial accounted once, no worker process exiting.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.chaos.accounting import Callbacks, assert_accounted_once, completed_children, optimizer
from tests.chaos.conftest import Workers, environment
from tests.chaos.sentinel import MASTER, PASSWORD, SentinelGroup
from tests.helpers import wait_until
from workers import Store

pytestmark = pytest.mark.chaos


@pytest.fixture
def group(tmp_path: Path) -> Iterator[SentinelGroup]:
    if shutil.which("redis-server") is None:
        pytest.skip("no redis-server on PATH")
    group = SentinelGroup(tmp_path / "ha")
    try:
        group.wait_ready()
        yield group
    finally:
        group.stop()


@pytest.fixture
def chaos_env(group: SentinelGroup, tmp_path: Path,
              monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """The chaos environment with the store and the broker behind the Sentinels."""
    monkeypatch.delenv("HPQ_BROKER_URL", raising=False)
    return environment(group.url, tmp_path, monkeypatch, HPQ_SENTINEL_MASTER=MASTER)


def primary_port(store: Store) -> int:
    """The port of the primary the store's client talks to (it asks the Sentinels)."""
    pool: Any = store.redis.connection_pool
    return int(pool.get_master_address()[1])


@pytest.mark.timeout(120)
def test_failover_of_the_primary_mid_run(group: SentinelGroup, chaos_store: Store,
                                         chaos_workers: Workers, queue: str) -> None:
    assert primary_port(chaos_store) == group.primary.port
    chaos_workers.start(queue, count=2, concurrency=2)
    total = 40
    callbacks = Callbacks()
    opt = optimizer(chaos_store, queue, total, pause=0.1)
    opt.start(job_complete_callback=callbacks)
    wait_until(lambda: completed_children(opt.id) >= 10, 60, "10 completed jobs")

    group.kill_primary()
    assert completed_children(opt.id) < total, "the fault came too late to be mid-run"
    wait_until(lambda: all(group.master_port(i) == group.replica.port for i in range(3)), 30,
               "the Sentinels to promote the replica", poll=0.2)

    assert opt.wait(timeout=1.5), "the optimization did not finish after the failover"
    assert opt.end_reason == "total_max_jobs reached", opt.end_reason
    children = assert_accounted_once(chaos_store, opt.id, total, callbacks)
    print(f"jobs run more than once (an attempt lost in the failover): "
          f"{sum(t.attempts > 1 for t in children)}; callbacks repeated: "
          f"{len(callbacks.calls) - total}")
    assert primary_port(chaos_store) == group.replica.port
    assert chaos_workers.dead() == []
    assert PASSWORD not in chaos_workers.log_text()  # the workers show the URLs masked
