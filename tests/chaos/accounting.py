"""How a chaos test checks that an optimization came through a fault whole: every trial
accounted once (one job per configuration, one final status each, nothing left running or
queued), the optimizer's job table agreeing with the task records."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from controller import HyperParameterOptimizer, RandomSearch, UniformParameterRange
from controller.persistence import OptimizerRepository
from tests.helpers import final_events
from workers import Store, Task, TaskStatus

PROJECT = "chaos"


@dataclass
class Callbacks:
    """The job complete callback: records each call."""

    calls: list[str] = field(default_factory=list)

    def __call__(self, job_id: str, value: Any, iteration: Any, params: dict,
                 best: str | None) -> None:
        self.calls.append(job_id)


def optimizer(store: Store, queue: str, total: int, *, concurrency: int = 4,
              pause: float = 0.05, trial: str = "steps", parameters: dict[str, Any] | None = None,
              **kwargs: Any) -> HyperParameterOptimizer:
    """A random search of ``total`` jobs of ``tests.chaos.trials:<trial>`` (default ``steps``)
    on ``queue``; ``parameters`` are more ``General/`` parameters of the trial."""
    base = Task.create(PROJECT, trial, entry_point=f"tests.chaos.trials:{trial}",
                       parameters={"General/x": 0.5, "General/pause": pause,
                                   **{f"General/{k}": v for k, v in (parameters or {}).items()}})
    return HyperParameterOptimizer(
        base.id, [UniformParameterRange("General/x", 0.0, 1.0, step_size=0.0001)], "val",
        "loss", "min", optimizer_class=RandomSearch, max_number_of_concurrent_tasks=concurrency,
        execution_queue=queue, total_max_jobs=total, pool_period_min=0.005, store=store,
        **kwargs)


def completed_children(opt_id: str) -> int:
    return sum(t.status is TaskStatus.COMPLETED for t in Task.get_tasks(parent=opt_id))


def assert_accounted_once(store: Store, opt_id: str, total: int,
                          callbacks: Callbacks | None = None) -> list[Task]:
    """The optimization ended by its job budget, with ``total`` jobs, each run to completion
    and counted once; returns the jobs."""
    record = Task.get_task(opt_id)
    assert record.status is TaskStatus.COMPLETED, (record.status, record.status_reason)
    assert record.status_reason == "total_max_jobs reached"
    children = Task.get_tasks(parent=opt_id)
    assert len(children) == total
    configs = Counter(t.get_parameter("x") for t in children)
    assert max(configs.values()) == 1, "a configuration ran twice"
    not_done = {t.id: (t.status.value, t.status_reason) for t in children
                if t.status is not TaskStatus.COMPLETED}
    assert not not_done, not_done
    assert final_events(store, opt_id) == Counter({t.id: 1 for t in children})
    saved = OptimizerRepository(store).load(opt_id)
    assert sorted(j.id for j in saved.jobs) == sorted(t.id for t in children)
    assert all(j.status is TaskStatus.COMPLETED for j in saved.jobs)
    assert record.artifacts["summary"].get()["jobs"] == total
    if callbacks is not None:
        # at least once each; when Redis lost writes, also for jobs that ended and were then
        # lost with them (the callback had fired), and twice for a job whose "notified" flag
        # was lost
        assert {t.id for t in children} <= set(callbacks.calls)
    return children
