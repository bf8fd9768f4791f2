"""Run a strategy through the real :class:`~controller.loop.Scheduler` in simulated time.

No Redis, no workers: a trial is a :class:`TrialModel` that says what the trial would report and
when. Events (start, each report, the end) are processed in simulated-time order, with the same
limits, early stopping and stop decisions as on real workers; a stopped trial ends at its next
report, as a cooperative stop does. Used by the strategy contract tests and by
``bench/search_quality.py``::

    sim = Simulation(strategy, objective, model, workers=4, total_max_jobs=100)
    sim.run(until=lambda s: s.ended >= 10)   # True once the optimization is over
    snapshot = sim.snapshot()                # JSON: what the Redis driver saves, and the time
    again = Simulation(fresh_strategy, objective, model, workers=4, total_max_jobs=100)
    again.restore(snapshot)                  # a resumed controller: running trials go on
    again.run()
    again.result()                           # jobs, best-so-far curve, best parameters

:func:`simulate` runs one optimization to its end.
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
from .persistence import SchedulerState, restore_scheduler
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
    """Outcome of a :class:`Simulation` (``reason`` is '' while the optimization goes on)."""

    reason: str
    time: float
    compute: float
    jobs: list[Job]
    curve: list[Point] = field(default_factory=list)
    best_value: float | None = None
    best_parameters: dict[str, Any] | None = None


class Simulation:
    """One optimization in simulated time (seconds; limits in minutes as in the optimizer,
    ``time_limit`` in seconds). ``objective`` is the first objective the model reports.

    Job ids are ``sim0``, ``sim1``, ... in creation order. ``scheduler`` is the real one: read
    its jobs, counts and leaderboard at any point.
    """

    def __init__(self, strategy: SearchStrategy, objective: Objective | MultiObjective,
                 model: TrialModel, *, workers: int = 4, total_max_jobs: int | None = None,
                 max_iteration_per_job: int | None = None,
                 compute_time_limit: float | None = None,
                 time_limit_per_job: float | None = None, time_limit: float | None = None,
                 policies: Sequence[StoppingPolicy] = ()) -> None:
        multi = objective if isinstance(objective, MultiObjective) else MultiObjective([objective])
        strategy.set_objective(multi)
        self.scheduler = Scheduler(
            strategy, multi, concurrency=workers,
            budget=Budget(total_max_jobs, max_iteration_per_job, compute_time_limit),
            time_limit_per_job=time_limit_per_job, policies=policies)
        self.model = model
        self.time_limit = time_limit
        self.now = 0.0
        self.done: str | None = None  # why the optimization is over (None while it goes on)
        self.curve: list[Point] = []
        self._reported = multi.objectives[0]
        self._ids = (f"sim{i}" for i in itertools.count())
        self._events: list[tuple[float, int, str, str, Any]] = []
        self._seq = itertools.count()
        self._pending_stop: set[str] = set()

    @property
    def ended(self) -> int:
        """How many jobs have ended."""
        return sum(j.status.is_final for j in self.scheduler.jobs.values())

    # ---------------------------------------------------------------------- running
    def step(self) -> bool:
        """One pass of the loop: launch what the scheduler allows now, then process the next
        event. False (and ``done`` set) once the optimization is over."""
        if self.done is not None:
            return False
        sched = self.scheduler
        if self.time_limit is not None:
            self._handle(sched.housekeeping(self.now, deadline=self.time_limit))
        for job in sched.launch(self.now, lambda: next(self._ids)):
            self._start(job, self.now)
        if sched.done is not None or not self._events:
            self.done = sched.done or "no events left"
            return False
        self.now, _, kind, job_id, payload = heapq.heappop(self._events)
        job = sched.jobs[job_id]
        if job.status.is_final:
            return True
        if kind == "start":
            self._handle(sched.on_status(job_id, TaskStatus.IN_PROGRESS, self.now))
        elif kind == "report":
            self._handle(sched.on_scalar(job_id, self._reported.title, self._reported.series,
                                         payload.iteration, payload.value))
            if job_id in self._pending_stop:  # the trial sees the stop request at this report
                self._handle(sched.on_status(job_id, TaskStatus.STOPPED, self.now, job.reason))
        else:
            self._handle(sched.on_status(job_id, payload, self.now))
        for queued_id in [j for j in self._pending_stop if sched.jobs[j].started_at is None]:
            self._handle(sched.on_status(queued_id, TaskStatus.STOPPED, self.now,
                                         "stopped while queued"))
        self._handle(sched.housekeeping(self.now))
        if sched.leaderboard.best() is not None or job.status.is_final:
            self._record()
        return True

    def run(self, until: Callable[[Simulation], bool] | None = None,
            max_events: int = 10_000_000) -> bool:
        """Step until the optimization is over (True), ``until(self)`` holds before a step, or
        ``max_events`` steps were taken (False)."""
        for _ in range(max_events):
            if until is not None and until(self):
                return False
            if not self.step():
                return True
        return False

    def result(self) -> SimulationResult:
        sched = self.scheduler
        best = sched.leaderboard.best()
        return SimulationResult(
            self.done or "", self.now, sched.compute_seconds(self.now),
            sorted(sched.jobs.values(), key=lambda j: j.index), list(self.curve),
            sched.leaderboard.values(best)[0] if best is not None else None,
            dict(sched.jobs[best].parameters) if best is not None else None)

    # ------------------------------------------------------------------- resuming
    def snapshot(self) -> dict[str, Any]:
        """What the Redis driver saves -- the job rows, the strategy's and the scheduler's
        state -- and the simulated time, as JSON-compatible values."""
        sched = self.scheduler
        return {"rows": {j.id: j.to_row() for j in sched.jobs.values()},
                "strategy": sched.strategy.state_dict(),
                "scheduler": SchedulerState.of(sched).to_dict(), "now": self.now}

    def restore(self, snapshot: dict[str, Any]) -> None:
        """Continue from ``snapshot`` as a resumed controller does (call on a new simulation,
        built with a new strategy and the same arguments): the scheduler and strategy are
        rebuilt from the saved rows and states, and the trials that were queued or running
        go on as they would have while the controller was down."""
        if self.scheduler.jobs:
            raise ValueError("restore() needs a new simulation; this one has jobs already")
        jobs = [Job.from_row(job_id, row) for job_id, row in snapshot["rows"].items()]
        sched = self.scheduler
        restore_scheduler(sched, jobs, SchedulerState.from_dict(snapshot["scheduler"]),
                          snapshot["strategy"])
        self.now = snapshot["now"]
        self._ids = (f"sim{i}" for i in itertools.count(len(jobs)))
        self._pending_stop = {j.id for j in jobs if not j.status.is_final and j.reason}
        for job in sorted(sched.active.values(), key=lambda j: j.index):
            started = job.started_at is not None
            self._start(job, job.started_at if job.started_at is not None else job.created_at,
                        started)

    # -------------------------------------------------------------------- helpers
    def _push(self, t: float, kind: str, job_id: str, payload: Any = None) -> None:
        heapq.heappush(self._events, (t, next(self._seq), kind, job_id, payload))

    def _handle(self, out: Outcome) -> None:
        self._pending_stop.update(s.job_id for s in out.stops)

    def _start(self, job: Job, start: float, started: bool = False) -> None:
        """Queue the job's events from ``start`` on; of a job that was already running (a
        resumed simulation re-attaching it), only those the scheduler has not seen."""
        start_iteration = 0
        if job.continue_from:
            prev = self.scheduler.jobs.get(job.continue_from)
            last = prev.objective_iteration() if prev else None
            start_iteration = last + 1 if last is not None else 0
        reports, runtime, failed = self.model(dict(job.parameters), start_iteration)
        if not started:
            self._push(start, "start", job.id)
        seen = job.objective_iteration()
        for r in reports:
            t = start + r.after
            if not started or t > self.now or (
                    t == self.now and (seen is None or r.iteration > seen)):
                self._push(t, "report", job.id, r)
        self._push(start + runtime, "end", job.id,
                   TaskStatus.FAILED if failed else TaskStatus.COMPLETED)

    def _record(self) -> None:
        sched = self.scheduler
        best = sched.leaderboard.best()
        value = sched.leaderboard.values(best)[0] if best is not None else None
        point = Point(self.now, sched.compute_seconds(self.now), sched.created, value)
        if not self.curve or (self.curve[-1].best, self.curve[-1].jobs) != (value, point.jobs):
            self.curve.append(point)


def simulate(strategy: SearchStrategy, model: TrialModel, *,
             objective: Objective | MultiObjective | None = None, max_events: int = 10_000_000,
             **limits: Any) -> SimulationResult:
    """Run one optimization to its end (:class:`Simulation`'s arguments; the objective defaults
    to ``objective/value`` minimized). Returns the best-so-far curve over time and compute."""
    sim = Simulation(strategy, objective or Objective("objective", "value", "min"), model,
                     **limits)
    sim.run(max_events=max_events)
    result = sim.result()
    result.reason = result.reason or "event limit reached"
    return result
