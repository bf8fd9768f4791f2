"""What Flower shows of trials, read where Flower reads it: the Celery events of a real worker
started with ``-E``, folded by :class:`celery.events.state.State` (Flower's own model).

A failed trial's task ends in FAILURE (its exception names the trial's error) and is not
retried or requeued; a completed one in SUCCESS; each task is named after its trial and shows
the job id, the optimizer id and the parameters.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from celery.events.state import State

from controller import HyperParameterOptimizer, Mapping
from tests.helpers import wait_until
from workers import Store, Task, TaskStatus
from workers.app import app
from workers.procs import WorkerProcess

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.integration
ERROR = "ModuleNotFoundError: No module named 'hpq_flower_test_missing_module'"


class Events:
    """Every Celery event of the broker, received on a thread (as Flower does) and folded into
    a :class:`State`."""

    def __init__(self) -> None:
        self.state = State()
        self.events: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        self._receiver: Any = None
        self._thread = threading.Thread(target=self._run, daemon=True, name="events")
        self._thread.start()

    def _run(self) -> None:
        with app.connection_for_read() as conn:
            self._receiver = app.events.Receiver(conn, handlers={"*": self._on})
            self._receiver.capture(limit=None, timeout=None, wakeup=False)

    def _on(self, event: dict[str, Any]) -> None:
        with self._lock:
            self.events.append(event)
            self.state.event(event)

    def of(self, kind: str, **fields: Any) -> list[dict[str, Any]]:
        with self._lock:
            return [e for e in self.events if e["type"] == kind
                    and all(e.get(k) == v for k, v in fields.items())]

    def task(self, task_uuid: str) -> Any:
        with self._lock:
            return self.state.tasks.get(task_uuid)

    def close(self) -> None:
        if self._receiver is not None:
            self._receiver.should_stop = True
        self._thread.join(timeout=10)


@pytest.fixture
def events(real_store: Store) -> Iterator[Events]:
    received = Events()
    try:
        yield received
    finally:
        received.close()


@pytest.fixture
def worker_with_events(real_store: Store, queue: str, events: Events, real_env: dict[str, str],
                       tmp_path: Path) -> Iterator[WorkerProcess]:
    """One real prefork worker process consuming ``queue`` with task events on (``-E``);
    ready once the event receiver hears it."""
    hostname = f"flower-{uuid.uuid4().hex[:8]}@test"
    worker = WorkerProcess(queue, hostname=hostname, log_path=tmp_path / "worker.log",
                           env={**real_env, "PYTHONPATH": str(ROOT)}, concurrency=1,
                           pool="prefork", extra=["-E"], cwd=ROOT)
    try:
        worker.wait_ready(real_store, timeout=60)
        # the receiver is subscribed once it hears the worker (a heartbeat every 2 s)
        wait_until(lambda: events.of("worker-heartbeat", hostname=hostname)
                   or events.of("worker-online", hostname=hostname), 30, "the worker's events")
        yield worker
    finally:
        worker.stop(timeout=20)


@pytest.mark.timeout(120)
def test_flower_shows_a_failed_trial_as_failure_and_names_every_trial(
        real_store: Store, queue: str, worker_with_events: WorkerProcess,
        events: Events) -> None:
    base = Task.create("flower", "trial", entry_point="tests.integration.flower_trials:trial",
                       parameters={"General/x": 0.5, "General/fail": 0}, working_dir=str(ROOT))
    opt = HyperParameterOptimizer(
        base.id, [], "val", "loss", optimizer_class=Mapping,
        values=[{"General/x": 0.1, "General/fail": 1}, {"General/x": 0.2}],
        max_number_of_concurrent_tasks=1, execution_queue=queue, pool_period_min=0.01)
    opt.start()
    assert opt.wait(timeout=1.5)
    jobs = {t.get_parameter("x"): t for t in Task.get_tasks(parent=opt.id)}
    failed, completed = jobs[0.1], jobs[0.2]
    assert failed.status is TaskStatus.FAILED and completed.status is TaskStatus.COMPLETED

    def received(job: Task) -> dict[str, Any]:
        found = [e for e in events.of("task-received") if job.id in e["kwargs"]]
        return found[0] if found else {}

    wait_until(lambda: received(failed) and received(completed), 30, "the received events")
    failed_uuid, completed_uuid = received(failed)["uuid"], received(completed)["uuid"]
    wait_until(lambda: events.of("task-failed", uuid=failed_uuid)
               and events.of("task-succeeded", uuid=completed_uuid), 30, "the final events")

    flower = events.task(failed_uuid)  # what Flower's task view shows
    assert flower.state == "FAILURE"
    assert flower.name == f"hpq trial #0 of optimizer {opt.id}"
    assert f"'job': '{failed.id}'" in flower.kwargs
    assert f"'optimizer': '{opt.id}'" in flower.kwargs and f"'parent': '{opt.id}'" in flower.kwargs
    assert "'parameters': {" in flower.kwargs and "'General/fail': 1" in flower.kwargs
    assert flower.args == repr([failed.id])
    assert flower.exception.startswith("TrialFailed(") and ERROR in flower.exception
    ok = events.task(completed_uuid)
    assert ok.state == "SUCCESS" and ok.result == "'completed'"
    assert ok.name == f"hpq trial #1 of optimizer {opt.id}"

    # the failed task was acknowledged: never retried, requeued or redelivered
    redis = real_store.redis
    wait_until(lambda: not any(failed_uuid in v for v in redis.hvals("unacked")), 30,
               "the failed task's message to be acknowledged")
    assert redis.llen(queue) == 0
    assert [e["uuid"] for e in events.of("task-received")].count(failed_uuid) == 1
    assert not events.of("task-retried") and not events.of("task-rejected")
    assert failed.attempts == 1
