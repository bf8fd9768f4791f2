"""An optimizer's record in Redis as a plain summary: what ``hpq top``/``status``, the report
and the dashboard show.

The summary is read from the optimizer's task record and ``configuration`` and from what it
saves (:class:`~controller.persistence.OptimizerRepository`: the job table, the state and the
best-over-time list). It works while the optimizer runs (from any process) and after it ended::

    summary = load_summary(store, optimizer_id)
    summary.top(5)                       # best first; failed and metric-less jobs never rank
"""

from __future__ import annotations

import json
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from workers.record import TaskRecord
from workers.store import Store

from .jobs import Job
from .objective import MultiObjective, Objective
from .parameters import Parameter, SearchSpace
from .persistence import OptimizerRepository, SavedOptimizer, SavedState
from .ranking import Leaderboard
from .space import Dimension

_RANKABLE = ("completed", "stopped")


@dataclass
class JobSummary:
    """One row of the job table. ``rank`` is 0 for the best job, None for unranked ones
    (failed, still running, or ended without the objective)."""

    id: str
    index: int
    status: str
    values: list[float] | None
    iterations: list[int | None]
    parameters: dict[str, Any]
    reason: str = ""
    archived: bool = False
    run_seconds: float = 0.0
    rank: int | None = None


@dataclass
class OptimizerSummary:
    """Everything the reports show about one optimizer."""

    id: str
    name: str
    project: str
    status: str
    end_reason: str
    live: bool
    config: dict[str, Any]
    objectives: list[dict[str, str]]
    parameter_names: list[str]
    jobs: list[JobSummary]
    best_over_time: list[dict[str, Any]] = field(default_factory=list)
    budget: dict[str, dict[str, Any]] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)
    elapsed_seconds: float = 0.0

    @property
    def ranked(self) -> list[JobSummary]:
        """Jobs that rank, best first."""
        return [j for j in self.jobs if j.rank is not None]

    def top(self, k: int | None) -> list[JobSummary]:
        """The best ``k`` jobs (all ranked ones when k is None)."""
        return self.ranked if k is None else self.ranked[:max(k, 0)]

    @property
    def best(self) -> JobSummary | None:
        ranked = self.ranked
        return ranked[0] if ranked else None

    @property
    def objective_labels(self) -> list[str]:
        """``title/series`` of each objective."""
        return [f"{o['title']}/{o['series']}" for o in self.objectives]

    @property
    def running(self) -> int:
        return self.counts.get("in_progress", 0)

    @property
    def queued(self) -> int:
        return self.counts.get("queued", 0) + self.counts.get("created", 0)

    @property
    def done(self) -> int:
        return sum(self.counts.get(s, 0) for s in ("completed", "failed", "stopped"))


# ------------------------------------------------------------------- loading
def load_summary(store: Store, opt_id: str, now: float | None = None,
                 saved: SavedOptimizer | None = None) -> OptimizerSummary:
    """Read an optimizer's saved data; ``saved``: what the caller has just loaded of it (the
    dashboard loads it parsing only the job rows that changed).

    Raises TaskNotFoundError for an unknown id, ValueError if the task is not an optimizer.
    """
    now = time.time() if now is None else now
    record, config, objective = optimizer_record(store, opt_id)
    saved = OptimizerRepository(store).load(opt_id) if saved is None else saved
    rows = saved.jobs
    jobs = _rank([_job_summary(j, objective, now) for j in rows], objective)
    elapsed = saved.state.elapsed_seconds(saved.live, now)
    start = min((j.created_at for j in rows), default=record.created or now)
    best = [{**p.to_dict(), "elapsed": p.time - start} for p in saved.best]
    return OptimizerSummary(
        id=opt_id, name=record.name, project=record.project,
        status=record.status.value, end_reason=record.status_reason,
        live=saved.live, config=config, objectives=config["objectives"],
        parameter_names=_parameter_names(config, rows), jobs=jobs, best_over_time=best,
        budget=_budget(config, saved.state, rows, elapsed, now),
        counts=dict(Counter(j.status.value for j in rows)), elapsed_seconds=elapsed)


def optimizer_record(store: Store, opt_id: str
                     ) -> tuple[TaskRecord, dict[str, Any], MultiObjective]:
    """An optimizer's task record, its saved configuration and its objective.

    Raises TaskNotFoundError for an unknown id, ValueError if the task is not an optimizer.
    """
    record = store.record(opt_id)
    if not record.configuration:
        raise ValueError(f"task {opt_id} is not an hpqueue optimizer (it has no configuration)")
    config = json.loads(record.configuration)
    return record, config, MultiObjective([Objective.from_dict(o) for o in config["objectives"]])


def _job_summary(job: Job, objective: MultiObjective, now: float) -> JobSummary:
    return JobSummary(id=job.id, index=job.index, status=job.status.value,
                      values=job.objective_values(objective),
                      iterations=job.objective_iterations(), parameters=dict(job.parameters),
                      reason=job.reason, archived=job.archived, run_seconds=job.run_seconds(now))


def _rank(jobs: list[JobSummary], objective: MultiObjective) -> list[JobSummary]:
    """Rank like the optimizer's leaderboard; ranked jobs first, the rest by job index."""
    board = Leaderboard(objective)
    by_id = {j.id: j for j in jobs}
    for j in jobs:
        if j.status in _RANKABLE and j.values is not None:
            board.add(j.id, j.index, j.values)
    ranked = [by_id[i] for i in board.ranked()]
    for rank, j in enumerate(ranked):
        j.rank = rank
    return ranked + [j for j in jobs if j.rank is None]


def _parameter_names(config: dict[str, Any], rows: list[Job]) -> list[str]:
    try:
        names = SearchSpace.from_dicts(config.get("hyper_parameters", [])).names
    except (TypeError, ValueError):
        names = []
    extra = sorted({k for j in rows for k in j.parameters} - set(names))
    return list(names) + extra


def _budget(config: dict[str, Any], state: SavedState, rows: list[Job], elapsed: float,
            now: float) -> dict[str, dict[str, Any]]:
    """``{jobs|iterations|compute_time|time: {"limit", "used", "fraction"}}`` (None = no limit).

    Computed from the job table, so it is exact even between the optimizer's budget reports.
    Compute and optimization time are in minutes.
    """
    total, per_job = config.get("total_max_jobs"), config.get("max_iteration_per_job")
    time_limit = (state.timing.time_limit if state.timing else None) or (
        ("minutes", config["optimization_time_limit"])
        if config.get("optimization_time_limit") else None)

    def entry(limit: float | None, used: float) -> dict[str, Any]:
        return {"limit": limit, "used": used, "fraction": used / limit if limit else None}

    out = {
        "jobs": entry(total, len(rows)),
        "iterations": entry(total * per_job if total and per_job else None,
                            state.scheduler.iterations_used),
        "compute_time": entry(config.get("compute_time_limit"),
                              sum(j.run_seconds(now) for j in rows) / 60.0),
        "time": entry(time_limit[1] if time_limit and time_limit[0] == "minutes" else None,
                      elapsed / 60.0),
    }
    if time_limit and time_limit[0] == "at":
        out["time"]["until"] = time_limit[1]
    return out


def dimensions(config: dict[str, Any]) -> dict[str, Dimension]:
    """The dimension of each saved parameter of one name that has one (its axis: log scale,
    categories); a parameter this process cannot rebuild gets a plain axis."""
    out: dict[str, Dimension] = {}
    for data in config.get("hyper_parameters", []):
        try:
            dimension = Parameter.from_dict(data).dimension()
        except (KeyError, TypeError, ValueError):
            continue
        if dimension is not None and dimension.name is not None:
            out[dimension.name] = dimension
    return out
