"""Run a strategy through the real :class:`~controller.loop.Scheduler` in simulated time.

No Redis, no workers: a trial is a :class:`TrialModel` that says what the trial would report and
when. Events (start, each report, the end) are processed in simulated-time order, with the same
limits, early stopping and stop decisions as on real workers; a stopped trial ends at its next
report, as a cooperative stop does. Used by the strategy contract tests and by
``bench/search_quality.py``.
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from workers.status import TaskStatus

from .budget import Budget
from .jobs import Job
from .loop import Outcome, Scheduler
from .objective import MultiObjective, Objective
from .stopping import StoppingPolicy
from .strategies.base import SearchStrategy


@dataclass(frozen=True)
class Report:
    """One report of the objective, ``after`` seconds into the trial."""

    after: float
    iteration: int
    value: float


class TrialModel(Protocol):
    """What a trial with these parameters reports; ``start_iteration`` > 0 when it continues
    another trial from its checkpoint (only the remaining iterations are run and paid for).
    Return the reports in time order and the trial's total run time; an empty list with
    ``failed`` True simulates a crash."""

    def __call__(self, parameters: dict[str, Any], start_iteration: int
                 ) -> tuple[list[Report], float, bool]: ...


@dataclass
class Point:
    """The state of the search after one job ended."""

    time: float
    compute: float
    jobs: int
    best: float | None


@dataclass
class SimulationResult:
    """Outcome of :func:`simulate`."""

    reason: str
    time: float
    compute: float
    jobs: list[Job]
    curve: list[Point] = field(default_factory=list)
    best_value: float | None = None
    best_parameters: dict[str, Any] | None = None


def simulate(strategy: SearchStrategy, model: TrialModel, *,
             objective: Objective | MultiObjective | None = None, workers: int = 4,
             total_max_jobs: int | None = None, max_iteration_per_job: int | None = None,
             compute_time_limit: float | None = None, time_limit_per_job: float | None = None,
             time_limit: float | None = None, policies: Sequence[StoppingPolicy] = (),
             max_events: int = 10_000_000,
             on_job_end: Callable[[Scheduler, Job], None] | None = None) -> SimulationResult:
    """Run the optimization to its end in simulated time (seconds; limits in minutes as in the
    optimizer, ``time_limit`` in seconds). Returns the best-so-far curve over time and compute."""
    objective = objective or Objective("objective", "value", "min")
    multi = objective if isinstance(objective, MultiObjective) else MultiObjective([objective])
    strategy.set_objective(multi)
    sched = Scheduler(strategy, multi, concurrency=workers,
                      budget=Budget(total_max_jobs, max_iteration_per_job, compute_time_limit),
                      time_limit_per_job=time_limit_per_job, policies=policies)
    obj0 = multi.objectives[0]
    ids = (f"sim{i}" for i in itertools.count())
    queue: list[tuple[float, int, str, str, Any]] = []
    seq = itertools.count()
    pending_stop: set[str] = set()
    result = SimulationResult("", 0.0, 0.0, [])
    now = 0.0

    def push(t: float, kind: str, job_id: str, payload: Any = None) -> None:
        heapq.heappush(queue, (t, next(seq), kind, job_id, payload))

    def handle(out: Outcome) -> None:
        pending_stop.update(s.job_id for s in out.stops)
        for note in out.notify:
            job = sched.jobs[note.job_id]
            if on_job_end is not None:
                on_job_end(sched, job)

    def start(job: Job) -> None:
        start_it = 0
        if job.continue_from:
            prev = sched.jobs.get(job.continue_from)
            last = prev.objective_iteration() if prev else None
            start_it = last + 1 if last is not None else 0
        reports, runtime, failed = model(dict(job.parameters), start_it)
        push(now, "start", job.id)
        for r in reports:
            push(now + r.after, "report", job.id, r)
        push(now + runtime, "end", job.id, TaskStatus.FAILED if failed else TaskStatus.COMPLETED)

    for _ in range(max_events):
        if time_limit is not None:
            handle(sched.housekeeping(now, deadline=time_limit))
        for job in sched.launch(now, lambda: next(ids)):
            start(job)
        if sched.done is not None:
            break
        if not queue:
            break
        now, _, kind, job_id, payload = heapq.heappop(queue)
        job = sched.jobs[job_id]
        if job.status.is_final:
            continue
        if kind == "start":
            handle(sched.on_status(job_id, TaskStatus.IN_PROGRESS, now))
        elif kind == "report":
            handle(sched.on_scalar(job_id, obj0.title, obj0.series, payload.iteration,
                                   payload.value))
            if job_id in pending_stop:  # the trial sees the stop request at this report
                handle(sched.on_status(job_id, TaskStatus.STOPPED, now, job.reason))
        else:
            handle(sched.on_status(job_id, payload, now))
        for queued_id in [j for j in pending_stop if sched.jobs[j].started_at is None]:
            handle(sched.on_status(queued_id, TaskStatus.STOPPED, now, "stopped while queued"))
        handle(sched.housekeeping(now))
        if sched.leaderboard.best() is not None or sched.jobs[job_id].status.is_final:
            _record(result, sched, now)
    result.reason = sched.done or "event limit reached"
    result.time = now
    result.compute = sched.compute_seconds(now)
    result.jobs = sorted(sched.jobs.values(), key=lambda j: j.index)
    best = sched.leaderboard.best()
    if best is not None:
        result.best_value = sched.leaderboard.values(best)[0]
        result.best_parameters = dict(sched.jobs[best].parameters)
    return result


def _record(result: SimulationResult, sched: Scheduler, now: float) -> None:
    best = sched.leaderboard.best()
    value = sched.leaderboard.values(best)[0] if best is not None else None
    point = Point(now, sched.compute_seconds(now), sched.created, value)
    if not result.curve or (result.curve[-1].best, result.curve[-1].jobs) != (value,
                                                                               point.jobs):
        result.curve.append(point)
