"""Live updates and the stop action on a real redis-server (and real Celery workers).

The event stream is read with a blocking XREAD: a status change reaches the browser's
connection as soon as it is written (the test waits with a bound and prints the latency; it
asserts no timing)."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import httpx2
import pytest

from bench.dashboard import fill
from controller import HyperParameterOptimizer, Mapping
from controller.dashboard import DashboardServer, data
from tests.helpers import wait_until
from workers import Store, Task, TaskStatus

ROOT = Path(__file__).resolve().parents[2]


class Events:
    """The server-sent events of one connection, read on demand."""

    def __init__(self, client: httpx2.Client, path: str) -> None:
        self._cm = client.stream("GET", path, timeout=httpx2.Timeout(30.0))
        self._lines = self._cm.__enter__().iter_lines()

    def next(self, kind: str) -> dict[str, Any]:
        """The data of the next event of ``kind`` (a ReadTimeout after 30 s of silence)."""
        event = None
        for line in self._lines:
            if line.startswith("event: "):
                event = line[len("event: "):]
            elif line.startswith("data: ") and event == kind:
                return json.loads(line[len("data: "):])
        raise AssertionError(f"the stream ended before a {kind!r} event")

    def close(self) -> None:
        self._cm.__exit__(None, None, None)


@pytest.mark.integration
@pytest.mark.timeout(60)
def test_a_job_that_ends_reaches_the_optimization_stream(real_store: Store,
                                                         dashboard: DashboardServer) -> None:
    opt = fill(real_store, 6, iterations=3, running=2)
    running = real_store.find(parent=opt, status="in_progress")
    with httpx2.Client(base_url=dashboard.url) as client:
        events = Events(client, f"/api/stream?opt={opt}")
        events.next("ready")
        ended = time.monotonic()
        won, _ = real_store.transition(running[0], opt, [TaskStatus.IN_PROGRESS],
                                       TaskStatus.COMPLETED)
        assert won
        change = events.next("change")
        print(f"status change -> browser connection: {time.monotonic() - ended:.3f} s")
        assert change["statuses"] == {running[0]: "completed"} and change["parents"] == [opt]
        assert dashboard.app.state.hub.stats() == {opt: 1}
        events.close()
    wait_until(lambda: dashboard.app.state.hub.stats() == {},
               10, "the follower thread to end with its last connection")


@pytest.mark.integration
@pytest.mark.timeout(60)
def test_the_list_stream_follows_optimizers_that_start_later(real_store: Store,
                                                             dashboard: DashboardServer) -> None:
    with httpx2.Client(base_url=dashboard.url) as client:
        events = Events(client, "/api/stream")
        events.next("ready")
        late = Task.create("p", "late optimizer", entry_point="examples.train:main",
                           task_type="optimizer", store=real_store)
        real_store.transition(late.id, None, [TaskStatus.CREATED], TaskStatus.IN_PROGRESS)
        assert events.next("change")["statuses"] == {late.id: "in_progress"}
        child = Task.create("p", "child", entry_point="examples.train:main", store=real_store)
        real_store.set_fields(child.id, {"parent": late.id})
        real_store.transition(child.id, late.id, [TaskStatus.CREATED], TaskStatus.QUEUED)
        change = events.next("change")
        assert change["parents"] == [late.id] and change["tasks"] == [child.id]
        events.close()


@pytest.mark.integration
@pytest.mark.timeout(120)
def test_stop_from_the_dashboard_ends_a_live_optimization(real_store: Store, queue: str,
                                                          local_workers: Any) -> None:
    base = Task.create("dash", "until stopped",
                       entry_point="tests.integration.hpo_trials:report_until_stopped",
                       parameters={"General/x": 0.5}, working_dir=str(ROOT), store=real_store)
    opt = HyperParameterOptimizer(
        base_task_id=base.id, hyper_parameters=[], objective_metric_title="val",
        objective_metric_series="loss", objective_metric_sign="min", optimizer_class=Mapping,
        values=[{"General/x": 0.1}, {"General/x": 0.2}, {"General/x": 0.3}],
        max_number_of_concurrent_tasks=2, execution_queue=queue, total_max_jobs=3,
        pool_period_min=0.01, store=real_store)
    opt.start()
    try:
        wait_until(lambda: len(real_store.find(parent=opt.id, status="in_progress")) == 2, 60,
                   "two running jobs")
        assert data.stop_optimization(real_store, opt.id)["outcome"] == "requested"
        assert opt.wait(timeout=1.5), "the optimizer did not end after the dashboard's stop"
    finally:
        opt.stop(timeout=1)
    assert real_store.status(opt.id) == TaskStatus.STOPPED
    statuses = {real_store.status(j) for j in real_store.find(parent=opt.id)}
    assert statuses <= {TaskStatus.STOPPED, TaskStatus.COMPLETED}
    with pytest.raises(data.ActionRefusedError, match="already ended"):
        data.stop_optimization(real_store, opt.id)
