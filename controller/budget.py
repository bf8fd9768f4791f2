"""Budgets: jobs, objective iterations and compute time (minutes of job run time summed)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from .jobs import Job


@dataclass
class Budget:
    """Limits of one optimization; None means unlimited. ``used`` figures are fractions."""

    total_max_jobs: int | None = None
    max_iteration_per_job: int | None = None
    compute_time_limit: float | None = None  # minutes

    def jobs_left(self, created: int) -> int | None:
        """How many more jobs may be created (None = unlimited)."""
        if self.total_max_jobs is None:
            return None
        return max(0, self.total_max_jobs - created)

    def compute_exhausted(self, compute_seconds: float) -> bool:
        return (self.compute_time_limit is not None
                and compute_seconds >= self.compute_time_limit * 60.0)

    def to_dict(self, created: int, iterations: int, compute_seconds: float) -> dict[str, Any]:
        """ClearML's ``{'jobs'|'iterations'|'compute_time': {'limit', 'used'}}``: ``used`` is the
        fraction of the limit, 0 without a limit (as ClearML reports it)."""
        it_limit = (self.total_max_jobs * self.max_iteration_per_job
                    if self.total_max_jobs and self.max_iteration_per_job else None)

        def entry(limit: float | None, used: float) -> dict[str, float | None]:
            return {"limit": limit, "used": (used / limit) if limit else 0}

        return {"jobs": entry(self.total_max_jobs, created),
                "iterations": entry(it_limit, iterations),
                "compute_time": entry(self.compute_time_limit, compute_seconds / 60.0)}


class ComputeMeter:
    """Seconds of job run time: finished jobs summed once, running jobs measured on demand."""

    def __init__(self) -> None:
        self.finished_seconds = 0.0

    def add_finished(self, job: Job, now: float) -> None:
        self.finished_seconds += job.run_seconds(now)

    def total(self, running: Iterable[Job], now: float) -> float:
        return self.finished_seconds + sum(j.run_seconds(now) for j in running)
