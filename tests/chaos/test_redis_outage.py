"""Redis goes away in the middle of an optimization: killed (kill -9, append-only file synced
every second, so the last second of writes may be lost) and restarted on the same port; its
connections to the controller killed; down for 5 s; down for longer than the outage budget.

The optimization must finish by itself with every trial accounted once, and no Celery worker
process may exit.
"""

from __future__ import annotations

import time
from pathlib import Path

import psutil
import pytest

from controller import HyperParameterOptimizer
from tests.chaos.accounting import (
    Callbacks,
    assert_accounted_once,
    completed_children,
    optimizer,
)
from tests.chaos.conftest import RedisUnderTest, Workers
from tests.helpers import wait_until
from workers import Store, Task, TaskStatus

pytestmark = pytest.mark.chaos

#: The worker crash a Redis restart used to cause (kombu's remote-control reader).
KOMBU_CRASH = "object has no attribute 'hostname'"


def run_through(store: Store, queue: str, workers: Workers, total: int, fault: callable,
                *, after: int) -> None:
    """Run a ``total``-job optimization on two workers; apply ``fault()`` once ``after`` jobs
    completed; check that it finished by itself, each trial accounted once, workers alive."""
    workers.start(queue, count=2, concurrency=2)
    callbacks = Callbacks()
    opt = optimizer(store, queue, total)
    opt.start(job_complete_callback=callbacks)
    wait_until(lambda: completed_children(opt.id) >= after, 60, f"{after} completed jobs")
    fault()
    assert opt.wait(timeout=1.5), "the optimization did not finish after the fault"
    assert opt.end_reason == "total_max_jobs reached", opt.end_reason
    children = assert_accounted_once(store, opt.id, total, callbacks)
    print(f"jobs run more than once (an attempt lost with Redis): "
          f"{sum(t.attempts > 1 for t in children)}; callbacks repeated: "
          f"{len(callbacks.calls) - total}")
    assert workers.dead() == []
    assert KOMBU_CRASH not in workers.log_text()


@pytest.mark.timeout(150)
def test_kill_9_and_restart_of_redis_mid_run(chaos_store: Store, chaos_redis: RedisUnderTest,
                                             chaos_workers: Workers, queue: str) -> None:
    run_through(chaos_store, queue, chaos_workers, 50, lambda: chaos_redis.restart(down=1.0),
                after=12)


@pytest.mark.timeout(150)
def test_restart_that_lost_the_last_second_of_writes(
        chaos_store: Store, chaos_redis: RedisUnderTest, chaos_workers: Workers,
        queue: str) -> None:
    # finishes, claims, new jobs, messages and the controller's saves of that second are gone
    run_through(chaos_store, queue, chaos_workers, 50,
                lambda: chaos_redis.restart(down=1.0, lose_last=0.8), after=12)


@pytest.mark.timeout(150)
def test_a_5_second_outage(chaos_store: Store, chaos_redis: RedisUnderTest,
                           chaos_workers: Workers, queue: str) -> None:
    run_through(chaos_store, queue, chaos_workers, 20, lambda: chaos_redis.restart(down=5.0),
                after=5)


@pytest.mark.timeout(120)
def test_client_kill_of_the_controllers_connections(chaos_store: Store,
                                                    chaos_redis: RedisUnderTest,
                                                    chaos_workers: Workers, queue: str) -> None:
    admin = chaos_redis.admin()

    def kill_controller_connections() -> None:
        for _ in range(3):  # the blocked read, then the connections made again
            ours = {f"127.0.0.1:{c.laddr.port}" for c in psutil.Process().net_connections("tcp")
                    if c.raddr and c.raddr.port == chaos_redis.port}
            ids = [c["id"] for c in admin.client_list() if c["addr"] in ours]
            assert ids, "no connection of the controller found"
            for cid in ids:
                admin.client_kill_filter(_id=cid, skipme=True)
            time.sleep(0.3)

    run_through(chaos_store, queue, chaos_workers, 30, kill_controller_connections, after=8)


@pytest.mark.timeout(150)
def test_outage_longer_than_the_budget_ends_with_a_reason_and_resume_continues(
        chaos_store: Store, chaos_redis: RedisUnderTest, chaos_workers: Workers, queue: str,
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    chaos_workers.start(queue, count=1, concurrency=2)
    # the controller's store gives up after 2 s (the workers keep the default 300 s)
    monkeypatch.setenv("HPQ_REDIS_OUTAGE_SECONDS", "2")
    store = Store.connect(chaos_redis.url)
    total = 16
    opt = optimizer(store, queue, total, concurrency=2)
    opt.start()
    wait_until(lambda: completed_children(opt.id) >= 3, 60, "3 completed jobs")
    chaos_redis.kill()
    started = time.monotonic()
    try:
        wait_until(lambda: opt.end_reason is not None, 30, "the loop to give up")
        assert "Redis unreachable for more than 2s" in opt.end_reason
        assert f"hpq resume {opt.id}" in opt.end_reason
        assert time.monotonic() - started < 15
        # the record gets the reason once Redis is back (within another outage budget)
        assert not opt.wait(timeout=0.01)
    finally:
        chaos_redis.start()
    assert opt.wait(timeout=1), "wait() did not return once the end reason was written"
    record = Task.get_task(opt.id)
    assert record.status is TaskStatus.FAILED
    assert record.status_reason == opt.end_reason

    resumed = HyperParameterOptimizer.resume(opt.id, store=chaos_store)
    resumed.start()
    assert resumed.wait(timeout=1.5)
    assert resumed.end_reason == "total_max_jobs reached", resumed.end_reason
    assert_accounted_once(chaos_store, opt.id, total)
    assert chaos_workers.dead() == []
