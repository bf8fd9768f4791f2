"""A job: one trial the optimizer launched, and what the optimizer knows of it."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from workers.outcomes import ScalarStats
from workers.status import TaskStatus

from .objective import MultiObjective
from .strategies.base import Trial


@dataclass
class SeriesStats:
    """Last/min/max of one scalar series of a job (all None before its first report)."""

    last: float | None = None
    iteration: int | None = None
    min: float | None = None
    max: float | None = None

    def add(self, iteration: int, value: float, stored: ScalarStats | None = None) -> None:
        """Take in one report. ``stored`` is the series' aggregate the store computed with this
        report (a scalar event carries it): it is taken as it is, so that the job table holds
        what the store holds. Without it (a simulation: no store) the store's rule is applied
        here: ``last`` is the value at the highest iteration, ``min``/``max`` ignore NaN (they
        are NaN while only NaN was reported)."""
        if stored is not None:
            self.last, self.iteration = stored.last, stored.iteration
            self.min, self.max = stored.min, stored.max
            return
        if self.iteration is None or iteration >= self.iteration:
            self.last, self.iteration = value, iteration
        if not math.isnan(value):
            if self.min is None or math.isnan(self.min) or value < self.min:
                self.min = value
            if self.max is None or math.isnan(self.max) or value > self.max:
                self.max = value
        elif self.min is None:
            self.min = self.max = value

    def as_dict(self) -> dict[str, Any]:
        return {"last": self.last, "min": self.min, "max": self.max, "iteration": self.iteration}


@dataclass
class Job:
    """One launched trial. ``index`` is its creation order (job #)."""

    id: str
    index: int
    parameters: dict[str, Any]
    meta: dict[str, Any] = field(default_factory=dict)
    continue_from: str | None = None
    status: TaskStatus = TaskStatus.CREATED
    created_at: float = 0.0
    started_at: float | None = None
    ended_at: float | None = None
    reason: str = ""
    stats: list[SeriesStats] = field(default_factory=list)
    sent: bool = False
    notified: bool = False
    archived: bool = False

    # ------------------------------------------------------------- objective
    def objective_values(self, objective: MultiObjective) -> list[float] | None:
        """Every objective's current value, or None if any is missing (or NaN)."""
        if len(self.stats) != len(objective):
            return None
        out = []
        for obj, st in zip(objective.objectives, self.stats):
            v = obj.value(st.as_dict())  # a missing (None) statistic gives None
            if v is None:
                return None
            out.append(v)
        return out

    def objective_iterations(self) -> list[int | None]:
        return [st.iteration for st in self.stats]

    def objective_iteration(self) -> int | None:
        """The largest iteration reported for any objective (None before the first report)."""
        its = [i for i in self.objective_iterations() if i is not None]
        return max(its) if its else None

    def run_seconds(self, now: float) -> float:
        """Seconds this job has run (0 while queued)."""
        if self.started_at is None:
            return 0.0
        return max(0.0, (self.ended_at if self.ended_at is not None else now) - self.started_at)

    def as_trial(self, objective: MultiObjective) -> Trial:
        values = self.objective_values(objective)
        value: float | list[float] | None = None
        if values is not None:
            value = values[0] if len(values) == 1 else values
        return Trial(self.id, dict(self.parameters), dict(self.meta), self.status.value, value,
                     self.objective_iteration())

    # --------------------------------------------------------------- storage
    def to_row(self) -> dict[str, Any]:
        """JSON-friendly row of the optimizer's job table."""
        return {
            "index": self.index, "parameters": self.parameters, "meta": self.meta,
            "continue_from": self.continue_from, "status": self.status.value,
            "created_at": self.created_at, "started_at": self.started_at,
            "ended_at": self.ended_at, "reason": self.reason,
            "stats": [st.as_dict() for st in self.stats],
            "sent": self.sent, "notified": self.notified, "archived": self.archived,
        }

    @classmethod
    def from_row(cls, job_id: str, row: dict[str, Any]) -> Job:
        return cls(
            id=job_id, index=row["index"], parameters=row["parameters"], meta=row["meta"],
            continue_from=row.get("continue_from"), status=TaskStatus(row["status"]),
            created_at=row.get("created_at", 0.0), started_at=row.get("started_at"),
            ended_at=row.get("ended_at"), reason=row.get("reason", ""),
            stats=[SeriesStats(**st) for st in row.get("stats", [])],
            sent=row.get("sent", False), notified=row.get("notified", False),
            archived=row.get("archived", False))
