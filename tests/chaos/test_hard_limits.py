"""Trials that ignore their stop: one blocked in a C call (an exception sent to its thread
waits for the call to return), one command that ignores SIGTERM. Past ``time_limit_per_job``
the controller stops them; HPQ_STOP_GRACE (3 s here) later they are interrupted, and
KILL_DELAY (2 s) after that killed: the callable's pool process (Celery replaces it), the
command's process group. Both end ``stopped`` with a reason that says so.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from controller import DiscreteParameterRange, HyperParameterOptimizer
from tests.chaos.conftest import Workers
from workers import Store, Task, TaskStatus
from workers.config import KILL_DELAY

pytestmark = pytest.mark.chaos

TRIALS = Path(__file__).resolve().parents[1] / "integration" / "trials.py"
LIMIT_MINUTES = 0.05  # 3 s


def limited(store: Store, base: Task, queue: str) -> HyperParameterOptimizer:
    return HyperParameterOptimizer(
        base.id, [DiscreteParameterRange("General/lr", [0.1])], "val", "loss", "min",
        max_number_of_concurrent_tasks=1, execution_queue=queue, total_max_jobs=1,
        time_limit_per_job=LIMIT_MINUTES, pool_period_min=0.005, store=store)


@pytest.mark.timeout(120)
def test_trials_ignoring_their_stop_are_killed_past_the_time_limit(
        chaos_store: Store, chaos_workers: Workers, queue: str) -> None:
    chaos_workers.start(queue, concurrency=2)
    blocked = Task.create("chaos", "blocked", entry_point="tests.chaos.trials:blocked",
                          parameters={"General/lr": 0.1})
    deaf = Task.create("chaos", "deaf", parameters={"General/lr": 0.1},
                       command=[sys.executable, str(TRIALS), "--lr={{ General/lr }}",
                                "--ignore-term", "--silent"])
    opts = [limited(chaos_store, blocked, queue), limited(chaos_store, deaf, queue)]
    for opt in opts:
        opt.start()
    for opt in opts:
        assert opt.wait(timeout=1), "a trial that ignores its stop was not ended"
        assert opt.end_reason == "total_max_jobs reached"

    grace = chaos_store.settings.stop_grace
    for opt in opts:
        (job,) = Task.get_tasks(parent=opt.id)
        assert job.status is TaskStatus.STOPPED
        assert job.status_reason == (f"time_limit_per_job ({LIMIT_MINUTES:g} min) exceeded; "
                                     f"killed: it did not stop within HPQ_STOP_GRACE "
                                     f"({grace:g}s)")
        # limit + grace + kill delay, and a few seconds for the heartbeats and the loop
        assert job.completed - job.started < LIMIT_MINUTES * 60 + grace + KILL_DELAY + 5
        assert job.attempts == 1
    assert "sleeping without reporting" in Task.get_tasks(parent=opts[1].id)[0].output

    # the killed pool process was replaced: both processes run trials again
    quick = Task.create("chaos", "quick", entry_point="tests.integration.trials:quick")
    clones = [Task.clone(quick) for _ in range(4)]
    for clone in clones:
        clone.enqueue(queue)
    for clone in clones:
        assert clone.wait_for_status(timeout=30) is TaskStatus.COMPLETED
    assert chaos_workers.dead() == []
