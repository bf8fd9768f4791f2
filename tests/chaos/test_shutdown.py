"""Worker shutdowns while a trial runs: warm (SIGTERM to the main process: the trial finishes),
cold (SIGQUIT), and SIGTERM to every process of the worker (systemd's KillMode=control-group,
``docker stop``, Kubernetes). A cold shutdown or a SIGTERM to the whole group gives the trial
back at once as a lost attempt: another worker runs it, it never fails for it.

The heartbeat grace is a minute here: what requeues the trial is the shutdown itself, not the
sweep of a stale heartbeat.
"""

from __future__ import annotations

import os
import signal
import threading
from pathlib import Path
from typing import Any

import pytest

from tests.chaos.conftest import Workers
from tests.helpers import status_events, wait_until
from tests.integration.worker_support import final_statuses_of, has_scalar, make_clone
from workers import Store, Task, TaskStatus

pytestmark = pytest.mark.chaos


def hold_trial(release: Path) -> Task:
    """A trial that reports iteration 0, then waits for ``release`` (tests.integration.trials)."""
    base = Task.create("chaos", "hold", entry_point="tests.integration.trials:hold",
                       parameters={"General/release": str(release)})
    return Task.clone(base)


@pytest.mark.timeout(90)
@pytest.mark.parametrize("how", ["SIGQUIT to the worker", "SIGTERM to its process group"])
def test_cold_shutdown_gives_the_running_trial_back(
        how: str, chaos_store: Store, chaos_workers: Workers, queue: str, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(chaos_workers.env, "HPQ_HEARTBEAT_GRACE", "60")
    (first,) = chaos_workers.start(queue, concurrency=1)
    release = tmp_path / "release"
    trial = hold_trial(release)
    trial.enqueue(queue)
    wait_until(lambda: trial.attempts == 1 and trial.status is TaskStatus.IN_PROGRESS, 60,
               "the trial to run")
    chaos_workers.start(queue, concurrency=1)  # takes the trial over

    if how.startswith("SIGQUIT"):
        os.kill(first.proc.pid, signal.SIGQUIT)
    else:
        os.killpg(first.proc.pid, signal.SIGTERM)
    first.proc.wait(timeout=30)
    wait_until(lambda: trial.attempts == 2, 15, "the second worker to take the trial over")
    release.touch()
    assert trial.wait_for_status(timeout=30) is TaskStatus.COMPLETED, trial.record
    assert trial.attempts == 2
    moves = [(status, reason) for task, status, _, reason
             in status_events(chaos_store, trial.parent) if task == trial.id]
    assert [m[0] for m in moves] == ["queued", "in_progress", "queued", "in_progress",
                                     "completed"], moves
    # (a cold shutdown terminates the pool processes with SIGTERM too)
    assert moves[2][1] == "worker shut down (SIGTERM) while the trial ran"


@pytest.mark.timeout(90)
def test_warm_shutdown_of_local_workers_lets_the_trial_finish(
        real_store: Store, queue: str, local_workers: Any, tmp_path: Path) -> None:
    release = tmp_path / "release"
    clone = make_clone("hold", parameters={"General/release": str(release)})
    clone.enqueue(queue)
    wait_until(lambda: has_scalar(clone, "train", "loss", 0), 60, "the trial to start")

    stopper = threading.Thread(target=local_workers.stop, kwargs={"timeout": 60})
    stopper.start()
    try:
        wait_until(lambda: "Warm shutdown" in local_workers.log_path.read_text(), 30,
                   "the worker to begin its warm shutdown")
        assert clone.status is TaskStatus.IN_PROGRESS
    finally:
        release.touch()
        stopper.join(timeout=75)
    assert not stopper.is_alive()
    assert local_workers.proc.returncode == 0
    assert clone.status is TaskStatus.COMPLETED, clone.record
    assert clone.output == "released\n" and clone.attempts == 1
    assert final_statuses_of(real_store, clone) == ["completed"]
