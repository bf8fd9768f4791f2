"""The scheduler: the optimizer's decisions, with no I/O.

It is fed trial events (status changes and scalar reports) and the time, and answers with what
to launch and what to do: stop a job, archive one, notify the callback, end the optimization.
The Redis/Celery driver (:mod:`controller.driver`) and the simulator (:mod:`controller.simulate`)
run the very same scheduler, so limits, early stopping and strategies behave identically in
benchmarks with simulated time and on real workers.

Semantics (where ClearML differs, see the README):

* ``concurrency`` counts queued plus running jobs; ``total_max_jobs`` is never exceeded.
* ``time_limit_per_job`` (minutes) stops a job that runs longer; ``max_iteration_per_job`` stops a
  job whose objective iteration passes it; the compute budget (minutes of run time summed) ends
  the optimization and stops running jobs once used up.
* A job "ends with its objective" when it completes or is stopped after reporting it; it then
  ranks, and the callback is notified once. Failed jobs and jobs without the objective never rank.
* ``save_top_k`` archives finished jobs ranked below k (never running ones) and restores a job
  that climbs back into the top k.
* Failures: ``max_failed_jobs`` ends the optimization once that many jobs failed; when the first
  :data:`FIRST_FAILURES` jobs to end all failed with one error, the outcome carries a warning; an
  optimization that ends by itself (job limit, exhausted space, a stalled strategy) with every
  job failed ends with ``all N jobs failed: <most common error>``.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from workers.outcomes import ScalarStats
from workers.status import TaskStatus

from .budget import Budget, ComputeMeter
from .failures import JobFailure, error_line
from .jobs import Job, SeriesStats
from .objective import MultiObjective
from .ranking import Leaderboard
from .stopping import Action, EndOptimization, StopJob, StoppingPolicy
from .strategies.base import WAIT, Decision, SearchStrategy, Suggestion

#: How many jobs must end, all failed with the same error, before the scheduler warns.
FIRST_FAILURES = 3


@dataclass(frozen=True)
class Archive:
    """Set a finished job's archived flag."""

    job_id: str
    archived: bool


@dataclass(frozen=True)
class Notify:
    """A job ended with its objective: call the completion callback (once). ``best`` is the
    best job when it ended (what the callback is told, even if it runs after later endings)."""

    job_id: str
    best: str | None = None


@dataclass(frozen=True)
class Reply:
    """The answer to a job's request (:mod:`workers.messages`): ``body`` is
    ``{"id", "ok", "result" | "error"}``. The driver saves it with the state it depends on."""

    job_id: str
    body: dict[str, Any]


@dataclass
class Outcome:
    """What the driver must carry out after feeding the scheduler."""

    stops: list[StopJob] = field(default_factory=list)
    archives: list[Archive] = field(default_factory=list)
    notify: list[Notify] = field(default_factory=list)
    replies: list[Reply] = field(default_factory=list)
    dirty: set[str] = field(default_factory=set)
    #: failed jobs whose failure callback is due (once each)
    failed: list[str] = field(default_factory=list)
    #: what the driver logs as warnings
    warnings: list[str] = field(default_factory=list)

    def extend(self, other: Outcome) -> None:
        self.stops += other.stops
        self.archives += other.archives
        self.notify += other.notify
        self.replies += other.replies
        self.dirty |= other.dirty
        self.failed += other.failed
        self.warnings += other.warnings


class Scheduler:
    """Decisions of one optimization (single-threaded: the caller serialises access)."""

    def __init__(self, strategy: SearchStrategy, objective: MultiObjective, *,
                 concurrency: int, budget: Budget, time_limit_per_job: float | None = None,
                 policies: Sequence[StoppingPolicy] = (), save_top_k: int | None = None,
                 max_failed_jobs: int | None = None) -> None:
        if concurrency < 1:
            raise ValueError(f"max_number_of_concurrent_tasks must be >= 1, got {concurrency}")
        if max_failed_jobs is not None and max_failed_jobs < 1:
            raise ValueError(f"max_failed_jobs must be >= 1 or None, got {max_failed_jobs}")
        self.strategy = strategy
        self.objective = objective
        self.concurrency = concurrency
        self.budget = budget
        self.time_limit_per_job = time_limit_per_job
        self.policies = list(policies)
        self.save_top_k = save_top_k if save_top_k and save_top_k > 0 else None
        self.max_failed_jobs = max_failed_jobs
        self.jobs: dict[str, Job] = {}
        self.active: dict[str, Job] = {}
        self.leaderboard = Leaderboard(objective)
        self.compute = ComputeMeter()
        self.counts: Counter[str] = Counter()
        self.iterations_used = 0
        self.exhausted = False
        self.stalled = False
        self.ending: str | None = None
        #: failed jobs by error (:func:`~controller.failures.error_line`), and the latest one
        self.errors: Counter[str] = Counter()
        self.last_failure: JobFailure | None = None
        self._stop_requested: set[str] = set()
        # the error of each of the first FIRST_FAILURES jobs to end (None: it did not fail)
        self._first_endings: list[str | None] = []

    # ------------------------------------------------------------------ launching
    @property
    def created(self) -> int:
        return len(self.jobs)

    def launch(self, now: float, new_id: Callable[[], str]) -> list[Job]:
        """Ask the strategy for jobs to launch now (free slots and budget permitting).

        Each suggestion becomes a queued job (id from ``new_id``) and the strategy hears of it
        (``on_trial_start``) before it is asked again. The driver then creates and enqueues them.
        """
        if self.ending or self.exhausted:
            return []
        free = self.concurrency - len(self.active)
        left = self.budget.jobs_left(self.created)
        if left is not None:
            free = min(free, left)
        if free <= 0 or self.budget.compute_exhausted(self.compute_seconds(now)):
            return []
        out: list[Job] = []
        while len(out) < free:
            s = self.strategy.suggest()
            if s is None:
                self.exhausted = True
                break
            if s is WAIT:
                self.stalled = not self.active and not out
                break
            if not isinstance(s, Suggestion):
                raise TypeError(f"{type(self.strategy).__name__}.suggest() returned {s!r}")
            out.append(self.add_job(new_id(), s, now))
        return out

    def add_job(self, job_id: str, suggestion: Suggestion, now: float) -> Job:
        """Record the job the driver created for ``suggestion`` and tell the strategy."""
        job = Job(id=job_id, index=self.created, parameters=dict(suggestion.parameters),
                  meta=dict(suggestion.meta), continue_from=suggestion.continue_from,
                  status=TaskStatus.QUEUED, created_at=now,
                  stats=[SeriesStats() for _ in self.objective.objectives])
        self.jobs[job_id] = job
        self.active[job_id] = job
        self.strategy.on_trial_start(job_id, suggestion)
        return job

    # -------------------------------------------------------------------- events
    def on_status(self, job_id: str, status: TaskStatus, now: float, reason: str = ""
                  ) -> Outcome:
        """A job's status changed."""
        out = Outcome()
        job = self.jobs.get(job_id)
        if job is None or job.status.is_final or job.status == status:
            return out
        out.dirty.add(job_id)
        if status == TaskStatus.QUEUED and job.status == TaskStatus.IN_PROGRESS:
            # an attempt was lost: the next one starts a clean history, as in the store
            job.stats = [SeriesStats() for _ in self.objective.objectives]
        job.status = status
        if status == TaskStatus.IN_PROGRESS:
            if job.started_at is None:
                job.started_at = now
        elif status.is_final:
            self._end_job(job, now, reason, out)
        return out

    def on_scalar(self, job_id: str, title: str, series: str, iteration: int, value: float,
                  stats: ScalarStats | None = None) -> Outcome:
        """A job reported a scalar; ``stats``: the series' aggregate after it, as the store
        computed it (see :meth:`SeriesStats.add`)."""
        out = Outcome()
        job = self.jobs.get(job_id)
        if job is None or job.status.is_final:
            return out
        is_objective = False
        for series_stats, obj in zip(job.stats, self.objective.objectives):
            if (obj.title, obj.series) == (title, series):
                before = series_stats.iteration
                series_stats.add(iteration, value, stats)
                if before is None or iteration > before:
                    self.iterations_used += iteration - (before or 0)
                is_objective = True
        for policy in self.policies:
            self._apply(policy.on_scalar(job_id, title, series, iteration, value,
                                         self.objective.objectives[0]), out)
        if not is_objective:
            return out
        out.dirty.add(job_id)
        limit = self.budget.max_iteration_per_job
        if limit is not None and iteration > limit:
            self._stop(job_id, f"max_iteration_per_job ({limit}) passed", out)
        values = job.objective_values(self.objective)
        if values is not None and job_id not in self._stop_requested:
            decision = self.strategy.on_trial_result(
                job_id, iteration, values[0] if len(values) == 1 else values)
            if decision == Decision.STOP:
                self._stop(job_id, f"stopped by {type(self.strategy).__name__}", out)
        return out

    def on_message(self, job_id: str, body: Mapping[str, Any]) -> Outcome:
        """A job's request (``{"type", "data", "id"?}``): the strategy's
        :meth:`~SearchStrategy.on_trial_message` answers it; a request with an ``id`` gets a
        :class:`Reply` (an error reply when the job is not running or the strategy refuses)."""
        out = Outcome()
        job = self.jobs.get(job_id)
        if job is None:
            return out  # not one of ours
        request_id = body.get("id")
        kind = str(body.get("type", ""))
        answer: dict[str, Any]
        if job.status.is_final:
            answer = {"ok": False, "error": f"job {job_id} has ended ({job.status.value})"}
        else:
            try:
                data = body.get("data") or {}
                if not isinstance(data, Mapping):
                    raise TypeError(f"request data must be an object, got {data!r}")
                answer = {"ok": True,
                          "result": self.strategy.on_trial_message(job_id, kind, data)}
            except (ValueError, TypeError, KeyError) as exc:
                answer = {"ok": False, "error": str(exc)}
        if request_id is not None:
            out.replies.append(Reply(job_id, {"id": request_id, **answer}))
        return out

    def _end_job(self, job: Job, now: float, reason: str, out: Outcome) -> None:
        job.ended_at = now
        job.reason = reason or job.reason
        self.active.pop(job.id, None)
        self.compute.add_finished(job, now)
        self.counts[job.status.value] += 1
        if job.status == TaskStatus.FAILED:
            self._failed(job, out)
        self._note_first_ending(job, out)
        self.strategy.on_trial_complete(job.as_trial(self.objective))
        values = job.objective_values(self.objective)
        if values is not None and job.status in (TaskStatus.COMPLETED, TaskStatus.STOPPED):
            rank = self.leaderboard.add(job.id, job.index, values)
            out.notify.append(Notify(job.id, self.leaderboard.best()))
            out.archives += self._archive_changes(job.id, rank)
        counts = {**self.counts, "total": self.created}
        for policy in self.policies:
            self._apply(policy.on_job_end(job.id, job.status.value, counts), out)

    def _failed(self, job: Job, out: Outcome) -> None:
        error = error_line(job.reason)
        self.errors[error] += 1
        self.last_failure = JobFailure(job.id, job.index, error)
        out.failed.append(job.id)
        failed = self.counts[TaskStatus.FAILED.value]
        if self.max_failed_jobs is not None and failed >= self.max_failed_jobs:
            top, count = self.top_error()
            self.end(f"max_failed_jobs ({self.max_failed_jobs}) reached: {failed} jobs failed; "
                     f"most common error ({count}): {top}", out)

    def _note_first_ending(self, job: Job, out: Outcome) -> None:
        """Warn once when the first :data:`FIRST_FAILURES` jobs to end all failed alike."""
        if len(self._first_endings) >= FIRST_FAILURES:
            return
        failed = job.status == TaskStatus.FAILED
        self._first_endings.append(error_line(job.reason) if failed else None)
        if len(self._first_endings) == FIRST_FAILURES and \
                len(set(self._first_endings)) == 1 and self._first_endings[0] is not None:
            out.warnings.append(
                f"the first {FIRST_FAILURES} jobs all failed with the same error: "
                f"{self._first_endings[0]} (see hpq job {job.id}); the optimization goes on "
                "(max_failed_jobs ends it early)")

    def top_error(self) -> tuple[str, int]:
        """The most common error of the failed jobs and its count (ties: by error text);
        ``("", 0)`` when no job failed."""
        if not self.errors:
            return "", 0
        return min(self.errors.items(), key=lambda kv: (-kv[1], kv[0]))

    # --------------------------------------------------------------- housekeeping
    def housekeeping(self, now: float, deadline: float | None = None) -> Outcome:
        """Time limits and budgets; call at least every few seconds."""
        out = Outcome()
        if deadline is not None and now >= deadline:
            self.end("time limit reached", out)
        if self.time_limit_per_job is not None:
            limit = self.time_limit_per_job * 60.0
            for job in list(self.active.values()):
                if job.started_at is not None and job.run_seconds(now) > limit:
                    self._stop(job.id, f"time_limit_per_job ({self.time_limit_per_job:g} min) "
                                       "exceeded", out)
        if self.budget.compute_exhausted(self.compute_seconds(now)):
            self.end("compute_time_limit reached", out)
        return out

    def end(self, reason: str, out: Outcome | None = None) -> Outcome:
        """End the optimization: no new jobs; every active job is asked to stop."""
        out = out if out is not None else Outcome()
        if self.ending is None:
            self.ending = reason
        for job_id in list(self.active):
            self._stop(job_id, reason, out)
        return out

    @property
    def done(self) -> str | None:
        """Why the optimization is over (None while it goes on)."""
        if self.active:
            return None
        if self.ending:
            return self.ending
        if self.exhausted:
            reason = "search space exhausted"
        elif self.stalled:
            reason = f"{type(self.strategy).__name__} waits for results but no job is running"
        elif self.budget.jobs_left(self.created) == 0:
            reason = "total_max_jobs reached"
        else:
            return None
        return self._all_failed() or reason

    def _all_failed(self) -> str | None:
        """``all N jobs failed: <most common error>`` when every job failed, else None."""
        n = self.created
        if not n or self.counts[TaskStatus.FAILED.value] != n:
            return None
        error, count = self.top_error()
        others = len(self.errors) - 1
        detail = f" ({count} of them; {others} other error{'s' * (others > 1)})" if others else ""
        return f"all {n} jobs failed: {error}{detail}"

    def compute_seconds(self, now: float) -> float:
        return self.compute.total(self.active.values(), now)

    # ------------------------------------------------------------------- helpers
    def _apply(self, action: Action | None, out: Outcome) -> None:
        if isinstance(action, StopJob):
            self._stop(action.job_id, action.reason, out)
        elif isinstance(action, EndOptimization):
            self.end(action.reason, out)

    def _stop(self, job_id: str, reason: str, out: Outcome) -> None:
        job = self.jobs.get(job_id)
        if job is None or job.status.is_final or job_id in self._stop_requested:
            return
        self._stop_requested.add(job_id)
        job.reason = reason
        out.dirty.add(job_id)
        out.stops.append(StopJob(job_id, reason))

    def _archive_changes(self, job_id: str, rank: int) -> list[Archive]:
        k = self.save_top_k
        if k is None:
            return []
        if len(self.objective) == 1:
            top = self.leaderboard.top(k + 1)
            candidates = {job_id, *top}
        else:
            top = self.leaderboard.top(k)
            candidates = set(self.leaderboard.ranked())
        keep = set(top[:k])
        changes = []
        for jid in candidates:
            job = self.jobs[jid]
            should = jid not in keep
            if job.archived != should:
                job.archived = should
                changes.append(Archive(jid, should))
        return sorted(changes, key=lambda a: self.jobs[a.job_id].index)

    # ------------------------------------------------------------------- restore
    def restore(self, jobs: Iterable[Job], counts: dict[str, int], iterations_used: int,
                ending: str | None, exhausted: bool) -> None:
        """Rebuild from a saved job table (the strategy restores itself separately)."""
        for job in sorted(jobs, key=lambda j: j.index):
            self.jobs[job.id] = job
            if job.status.is_final:
                self.compute.add_finished(job, job.ended_at or 0.0)
                values = job.objective_values(self.objective)
                if values is not None and job.status in (TaskStatus.COMPLETED,
                                                         TaskStatus.STOPPED):
                    self.leaderboard.add(job.id, job.index, values)
            else:
                self.active[job.id] = job
            if job.reason and not job.status.is_final:
                self._stop_requested.add(job.id)
        self.counts = Counter(counts)
        self.iterations_used = iterations_used
        self.ending = ending
        self.exhausted = exhausted
        ended = sorted((j for j in self.jobs.values() if j.status.is_final),
                       key=lambda j: (j.ended_at or 0.0, j.index))
        for job in ended:
            if job.status == TaskStatus.FAILED:
                self.errors[error_line(job.reason)] += 1
                self.last_failure = JobFailure(job.id, job.index, error_line(job.reason))
        self._first_endings = [error_line(j.reason) if j.status == TaskStatus.FAILED else None
                               for j in ended[:FIRST_FAILURES]]
