"""Faults of workers and deliveries that hpqueue survives by design: a pool process killed
mid-trial (retried once), a poison trial (failed after HPQ_MAX_ATTEMPTS), a frozen attempt that
was declared dead (a zombie: its late writes refused), concurrent claims of many trials sent
twice, a duplicate delivery while the trial runs, a whole worker killed (the sweep requeues),
and a stop of a trial still queued. Real redis-server, real Celery prefork workers.
"""

from __future__ import annotations

import os
import signal
from pathlib import Path
from typing import Any

import pytest

from tests.helpers import BOTH_BROKERS, status_events, wait_until
from tests.integration.worker_support import (
    PROJECT,
    entry,
    events_of,
    final_statuses_of,
    has_scalar,
    make_clone,
    start_workers,
    statuses_of,
)
from workers import Store, Task, TaskStatus
from workers.app import send_trial
from workers.sweep import sweep_stale

pytestmark = pytest.mark.chaos


@pytest.mark.timeout(90)
@BOTH_BROKERS
def test_pool_process_killed_mid_trial_is_retried_once(real_store: Store, queue: str,
                                                       local_workers: Any) -> None:
    clone = make_clone("die_on_first_attempt")
    clone.enqueue(queue)

    status = clone.wait_for_status(timeout=60)
    # let every delivery in flight (the requeued message, a sweep's re-send) finish first
    local_workers.stop(timeout=30)
    assert status is TaskStatus.COMPLETED, clone.record
    assert clone.attempts == 2
    assert clone.status is TaskStatus.COMPLETED
    assert "attempt 2" in clone.output
    assert clone.get_reported_scalars()["train"]["attempt"] == {"x": [0], "y": [2.0]}
    statuses = statuses_of(real_store, clone)
    assert statuses.count("in_progress") == 2
    assert final_statuses_of(real_store, clone) == ["completed"], statuses
    in_progress = [e for e in events_of(real_store, clone)
                   if e.kind == "status" and e.fields["status"] == "in_progress"]
    assert [e.fields["attempt"] for e in in_progress] == ["1", "2"]


@pytest.mark.timeout(90)
def test_poison_trial_fails_after_max_attempts(real_store: Store, queue: str,
                                               local_workers: Any) -> None:
    clone = make_clone("always_die")
    clone.enqueue(queue)

    assert clone.wait_for_status(timeout=75) is TaskStatus.FAILED
    local_workers.stop(timeout=30)
    max_attempts = real_store.settings.max_attempts
    assert clone.attempts == max_attempts == 3
    assert f"gave up after {max_attempts} attempts" in clone.status_reason
    statuses = statuses_of(real_store, clone)
    assert statuses.count("in_progress") == max_attempts
    assert final_statuses_of(real_store, clone) == ["failed"], statuses
    assert statuses[-1] == "failed"


@pytest.mark.timeout(90)
def test_zombie_attempt_is_interrupted_and_writes_nothing(real_store: Store, queue: str,
                                                          local_workers: Any,
                                                          tmp_path: Path) -> None:
    marker = tmp_path / "zombie"
    clone = make_clone("zombie", parameters={"General/marker": str(marker)})
    clone.enqueue(queue)
    wait_until(lambda: has_scalar(clone, "train", "loss", 1), 60, "attempt 1 to report")
    pid = int(clone.record["worker"].rpartition(":")[2])

    os.kill(pid, signal.SIGSTOP)  # attempt 1 freezes: no heartbeat, but its process lives on
    try:
        # the worker's supervisor declares it dead after the grace period; the other pool
        # process runs attempt 2
        assert clone.wait_for_status(timeout=60) is TaskStatus.COMPLETED, clone.record
        assert clone.attempts == 2
    finally:
        os.kill(pid, signal.SIGCONT)
    # the thawed attempt 1 learns at its next heartbeat that it lost the trial
    wait_until(marker.exists, 30, "attempt 1 to be interrupted")
    assert marker.read_text() == "interrupted, late report refused"
    local_workers.stop(timeout=30)

    assert clone.status is TaskStatus.COMPLETED and clone.attempts == 2
    assert clone.output == "attempt 2 done\n"
    # attempt 2's history only; attempt 1's report is kept apart
    assert clone.get_reported_scalars()["train"]["loss"] == {"x": [2], "y": [2.0]}
    assert real_store.history(clone.id, attempt=1) == {"train": {"loss": {"x": [1], "y": [1.0]}}}
    assert statuses_of(real_store, clone) == ["queued", "in_progress", "queued", "in_progress",
                                              "completed"]


@pytest.mark.timeout(120)
@BOTH_BROKERS
def test_concurrent_claims_by_4_workers_of_200_trials_each_run_once(
        real_store: Store, queue: str, local_workers: Any) -> None:
    """Four workers (the fixture's and three more, one pool process each besides its two)
    race for 200 trials, each sent twice: every trial runs once."""
    base = Task.create(PROJECT, "quick", entry_point=entry("quick"))
    clones = [Task.clone(base, parameters={"General/i": i}) for i in range(200)]
    more = [start_workers(real_store, queue, concurrency=1) for _ in range(3)]
    try:
        for clone in clones:
            clone.enqueue(queue)
            send_trial(clone.id, queue)  # and a duplicate message for each
        wait_until(lambda: all(t.status is TaskStatus.COMPLETED for t in clones), 90,
                   "every trial to complete")
    finally:
        for workers in more:
            workers.stop(timeout=30)
        local_workers.stop(timeout=30)
    moves: dict[str, list[str]] = {clone.id: [] for clone in clones}
    for task_id, status, _, _ in status_events(real_store, clones[0].parent):
        moves.setdefault(task_id, []).append(status)
    assert all(m == ["queued", "in_progress", "completed"] for m in moves.values()), moves
    assert all(t.attempts == 1 for t in clones)
    assert {t.get_last_scalar_metrics()["train"]["done"]["last"] for t in clones} == {1.0}
    assert len({t.record["worker"] for t in clones}) >= 3  # they did run side by side


@pytest.mark.timeout(90)
@BOTH_BROKERS
def test_duplicate_delivery_writes_nothing(real_store: Store, queue: str, local_workers: Any,
                                           tmp_path: Path) -> None:
    release = tmp_path / "release"
    clone = make_clone("hold", parameters={"General/release": str(release)})
    clone.enqueue(queue)
    wait_until(lambda: has_scalar(clone, "train", "loss", 0), 60, "the trial to start")
    before = clone.record

    send_trial(clone.id, queue)  # a second message for the same trial, while it runs
    # The free pool process takes the duplicate; a later trial on the queue can only finish
    # after the duplicate was handled (FIFO, one reserved message per pool process).
    sentinel = make_clone("quick")
    sentinel.enqueue(queue)
    assert sentinel.wait_for_status(timeout=60) is TaskStatus.COMPLETED

    during = clone.record
    assert during["status"] == "in_progress"
    for field in ("attempt", "attempts", "worker", "started"):
        assert during[field] == before[field], field
    assert statuses_of(real_store, clone) == ["queued", "in_progress"]

    release.touch()
    assert clone.wait_for_status(timeout=60) is TaskStatus.COMPLETED
    local_workers.stop(timeout=30)
    assert clone.attempts == 1
    assert clone.record["attempt"] == before["attempt"]
    assert statuses_of(real_store, clone) == ["queued", "in_progress", "completed"]
    assert clone.get_reported_scalars()["train"]["loss"] == {"x": [0, 1], "y": [1.0, 0.5]}
    assert clone.output == "released\n"


@pytest.mark.timeout(90)
@BOTH_BROKERS
def test_whole_worker_killed_sweep_requeues_and_fresh_workers_finish(
        real_store: Store, queue: str, local_workers: Any) -> None:
    clone = make_clone("hang_on_first_attempt")
    clone.enqueue(queue)
    wait_until(lambda: has_scalar(clone, "train", "attempt", 1), 60, "attempt 1 to start")

    os.killpg(local_workers.proc.pid, signal.SIGKILL)  # main process and pool processes
    local_workers.proc.wait(timeout=30)
    assert clone.status is TaskStatus.IN_PROGRESS  # nobody is left to notice
    heartbeat = float(clone.record["heartbeat"])
    grace = real_store.settings.heartbeat_grace
    assert grace == 2.0

    # within the grace period the attempt counts as alive (clock injected: no sleeping)
    assert sweep_stale(real_store, now=heartbeat + grace / 2) == []
    assert clone.status is TaskStatus.IN_PROGRESS
    # once the grace period has passed, the sweep requeues the trial and re-sends it
    ended = wait_until(lambda: sweep_stale(real_store), 30, "the sweep to end the attempt",
                       poll=0.1)
    assert ended == [(clone.id, "queued")]
    assert clone.status is TaskStatus.QUEUED
    assert "heartbeat lost" in clone.status_reason
    assert sweep_stale(real_store) == []  # nothing left to do: the move happened once

    with start_workers(real_store, queue, concurrency=2) as fresh:
        assert clone.wait_for_status(timeout=60) is TaskStatus.COMPLETED, clone.record
        fresh.stop(timeout=30)
    assert clone.attempts == 2
    assert "finished on attempt 2" in clone.output
    assert clone.get_reported_scalars()["train"]["attempt"] == {"x": [2], "y": [2.0]}
    assert real_store.history(clone.id, attempt=1) == {
        "train": {"attempt": {"x": [1], "y": [1.0]}}}
    assert statuses_of(real_store, clone) == ["queued", "in_progress", "queued", "in_progress",
                                              "completed"]


@pytest.mark.timeout(90)
def test_queued_task_stopped_before_any_worker_never_starts(real_store: Store,
                                                            queue: str) -> None:
    stopped = make_clone("quick")
    stopped.enqueue(queue)  # no worker consumes the queue yet: the message waits
    assert stopped.status is TaskStatus.QUEUED
    assert stopped.mark_stopped("not needed") == "stopped"
    assert stopped.status is TaskStatus.STOPPED
    sentinel = make_clone("quick")
    sentinel.enqueue(queue)

    # one pool process takes the messages in order: the sentinel runs after the stopped one
    with start_workers(real_store, queue, concurrency=1) as workers:
        assert sentinel.wait_for_status(timeout=60) is TaskStatus.COMPLETED
        workers.stop(timeout=30)
    assert stopped.status is TaskStatus.STOPPED
    assert stopped.status_reason == "not needed"
    assert stopped.started is None and stopped.attempts == 0
    assert stopped.get_last_scalar_metrics() == {}
    assert statuses_of(real_store, stopped) == ["queued", "stopped"]
