"""ClearML's ``ClearmlJob`` over an hpqueue job: what ``SearchStrategy.helper_create_job`` returns.

A ClearML strategy builds a job in ``create_job()`` and launches it; in hpqueue the optimizer's
loop creates the task (a clone of the base task, child of the optimizer) when the strategy hands
the launched job over, and binds the handle to it. Until then the job is pending and its
``task_id()`` is None. Once bound, the status and metric queries read the task in the store.

Differences from ClearML: the job always clones the optimizer's base task with
``parameter_override`` (``task_overrides`` are refused, ``tags`` stay on the handle), and
``launch()`` hands the job to the optimizer's loop, which sends it to the optimizer's execution
queue.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from workers.status import TaskStatus
from workers.store import Store, get_store
from workers.task import Task

if TYPE_CHECKING:
    from .strategies.clearml_compat import ClearMLSearchStrategy


class ClearmlJob:
    """One job of a ClearML-style strategy (see the module docstring).

    Raises:
        ValueError: for ``task_overrides`` (hpqueue clones the base task as it is).
    """

    def __init__(self, base_task_id: str | None = None,
                 parameter_override: Mapping[str, Any] | None = None,
                 task_overrides: Mapping[str, Any] | None = None,
                 tags: Sequence[str] | None = None, parent: str | None = None, *,
                 strategy: ClearMLSearchStrategy | None = None, task_id: str | None = None,
                 store: Store | None = None, **kwargs: Any) -> None:
        if task_overrides:
            raise ValueError(f"task_overrides are not supported (jobs clone the base task as "
                             f"it is), got {dict(task_overrides)!r}")
        self.base_task_id = base_task_id
        self.parameter_override = dict(parameter_override or {})
        self.tags = list(tags or [])
        self.parent = parent
        #: ClearML's other job arguments (name, comment, project, ...), kept as given
        self.options = dict(kwargs)
        self._strategy = strategy
        self._task_id = task_id
        self._store = store
        self._launched = task_id is not None

    @classmethod
    def of_task(cls, task_id: str, parameters: Mapping[str, Any] | None = None,
                store: Store | None = None) -> ClearmlJob:
        """The handle of an existing job (a task the optimizer created)."""
        return cls(parameter_override=parameters, task_id=task_id, store=store)

    # ------------------------------------------------------------------ life
    def launch(self, queue_name: str | None = None) -> bool:
        """Hand the job to the optimizer's loop (which sends it to the optimizer's queue);
        False if it was launched already."""
        if self._launched:
            return False
        self._launched = True
        if self._strategy is not None:
            self._strategy.hand_over(self)
        return True

    def bind(self, task_id: str, store: Store | None = None) -> None:
        """The loop created ``task_id`` for this job (called by the strategy layer)."""
        self._task_id = task_id
        self._launched = True
        if store is not None:
            self._store = store

    def task_id(self) -> str | None:
        """The job's task id; None while the loop has not created it."""
        return self._task_id

    @property
    def task(self) -> Task:
        """The job's task; RuntimeError before the loop created it."""
        if self._task_id is None:
            raise RuntimeError("this job has no task yet: the optimizer creates it when the "
                               "strategy hands the launched job over")
        return Task(self._task_id, store=self._store or get_store())

    def abort(self) -> None:
        """Stop the job: a queued one never starts, a running one stops at its next report; a
        job not handed over yet is dropped."""
        if self._task_id is not None:
            self.task.mark_stopped("aborted by the search strategy")
        elif self._strategy is not None:
            self._strategy.drop(self)

    # ---------------------------------------------------------------- status
    def status(self, force: bool = False) -> str:
        """The task status (``created`` while the job has no task)."""
        if self._task_id is None:
            return TaskStatus.CREATED.value
        return self.task.status.value

    def is_running(self) -> bool:
        return self.status() == TaskStatus.IN_PROGRESS.value

    def is_stopped(self) -> bool:
        """True once the job ended (completed, failed or stopped)."""
        return TaskStatus(self.status()).is_final

    def is_completed(self) -> bool:
        return self.status() == TaskStatus.COMPLETED.value

    def is_failed(self) -> bool:
        return self.status() == TaskStatus.FAILED.value

    def is_aborted(self) -> bool:
        return self.status() == TaskStatus.STOPPED.value

    def is_pending(self) -> bool:
        """True while created or queued."""
        return self.status() in (TaskStatus.CREATED.value, TaskStatus.QUEUED.value)

    def started(self) -> bool:
        return self._task_id is not None and self.task.started is not None

    def elapsed(self) -> float:
        """Seconds since the job started (until it ended), -1 before."""
        if self._task_id is None:
            return -1.0
        task = self.task
        started = task.started
        if started is None:
            return -1.0
        return (task.completed or time.time()) - started

    def iterations(self) -> int:
        """The highest iteration the job reported, -1 before any report."""
        if self._task_id is None:
            return -1
        return max((int(s.get("iteration", -1)) for series in
                    self.task.get_last_scalar_metrics().values() for s in series.values()),
                   default=-1)

    def get_metric(self, title: str, series: str) -> tuple[float | None, float | None,
                                                           float | None]:
        """``(min, max, last)`` of a series (Nones when it was not reported)."""
        if self._task_id is None:
            return None, None, None
        stats = self.task.get_last_scalar_metrics().get(title, {}).get(series)
        if not stats:
            return None, None, None
        return stats.get("min"), stats.get("max"), stats.get("last")

    def wait(self, timeout: float | None = None, pool_period: float = 30.0) -> bool:
        """Wait until the job ended (``timeout`` in minutes, polling every ``pool_period``
        seconds); True if it did."""
        deadline = None if timeout is None else time.monotonic() + timeout * 60
        while not self.is_stopped():
            if deadline is not None and time.monotonic() > deadline:
                return False
            time.sleep(pool_period)
        return True

    def __repr__(self) -> str:
        return f"<ClearmlJob {self._task_id or 'pending'} {self.parameter_override}>"
