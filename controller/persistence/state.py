"""An optimizer's saved state as typed values, and their encoding in Redis.

The state hash keeps one field per part (the cursor as text, every other part as JSON), so that a
save writes the parts it has and keeps the others; the encoding is the one hpqueue has always
written, so optimizers saved by an earlier version stay readable.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from workers import codec

from ..failures import JobFailure
from ..jobs import Job
from ..loop import Scheduler
from ..text import format_duration, format_values

#: Longest error text in a progress line (a longer line would wrap on a terminal).
LINE_ERROR_CHARS = 100
#: ``("minutes", m)`` counted from the start, or ``("at", seconds since the epoch)``.
TimeLimit = tuple[str, float]


@dataclass(frozen=True)
class SchedulerState:
    """What the :class:`~controller.loop.Scheduler` keeps beyond the job table."""

    counts: dict[str, int] = field(default_factory=dict)  # ended jobs by final status
    iterations_used: int = 0
    ending: str | None = None  # why the optimization is ending (None while it goes on)
    exhausted: bool = False  # the strategy has no more suggestions
    last_failure: JobFailure | None = None  # the job that failed last (for progress lines)

    @classmethod
    def of(cls, scheduler: Scheduler) -> SchedulerState:
        return cls(dict(scheduler.counts), scheduler.iterations_used, scheduler.ending,
                   scheduler.exhausted, scheduler.last_failure)

    def to_dict(self) -> dict[str, Any]:
        """The saved form; ``last_failure`` only once a job failed (the format of earlier
        versions otherwise)."""
        data: dict[str, Any] = {"counts": dict(self.counts),
                                "iterations_used": self.iterations_used, "ending": self.ending,
                                "exhausted": self.exhausted}
        if self.last_failure is not None:
            data["last_failure"] = self.last_failure.to_dict()
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> SchedulerState:
        last = data.get("last_failure")
        return cls(dict(data.get("counts", {})), data.get("iterations_used", 0),
                   data.get("ending"), data.get("exhausted", False),
                   JobFailure.from_dict(last) if last else None)


@dataclass(frozen=True)
class Timing:
    """The optimization's clock across sessions (a resumed optimizer continues it)."""

    session_started: float  # when this session's start() ran
    elapsed_before: float = 0.0  # seconds run by the earlier sessions
    time_limit: TimeLimit | None = None

    def elapsed(self, until: float) -> float:
        """Seconds the optimization has run up to ``until``, summed over its sessions."""
        return self.elapsed_before + max(0.0, until - self.session_started)

    def to_dict(self) -> dict[str, Any]:
        return {"session_started": self.session_started, "elapsed_before": self.elapsed_before,
                "time_limit": list(self.time_limit) if self.time_limit else None}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Timing:
        limit = data.get("time_limit")
        return cls(data["session_started"], data.get("elapsed_before", 0.0),
                   (str(limit[0]), float(limit[1])) if limit else None)


@dataclass(frozen=True)
class Resources:
    """Jobs running and waiting to run, as of the last budget report."""

    running: int
    pending: int
    time: float

    def to_dict(self) -> dict[str, Any]:
        return {"running": self.running, "pending": self.pending, "time": self.time}


@dataclass(frozen=True)
class SavedState:
    """The optimizer's state hash. ``None`` parts are not written by a save (the saved ones stay).

    ``cursor`` is the id of the last event the scheduler consumed; ``budget`` is ClearML's budget
    summary (:meth:`Budget.to_dict`) and ``resources`` the job counts, both refreshed once per
    report period.
    """

    cursor: str = "0-0"
    saved_at: float | None = None
    strategy: dict[str, Any] | None = None
    scheduler: SchedulerState = field(default_factory=SchedulerState)
    timing: Timing | None = None
    budget: dict[str, Any] | None = None
    resources: Resources | None = None

    def to_fields(self) -> dict[str, str]:
        """The fields of the state hash."""
        fields = {"cursor": self.cursor, "scheduler": codec.dumps(self.scheduler.to_dict())}
        if self.saved_at is not None:
            fields["saved_at"] = codec.dumps(self.saved_at)
        if self.strategy is not None:
            fields["strategy"] = codec.dumps(self.strategy, "strategy state")
        if self.timing is not None:
            fields["timing"] = codec.dumps(self.timing.to_dict())
        if self.budget is not None:
            fields["budget"] = codec.dumps(self.budget)
        if self.resources is not None:
            fields["resources"] = codec.dumps(self.resources.to_dict())
        return fields

    @classmethod
    def from_fields(cls, raw: Mapping[str, str]) -> SavedState:
        """Decode a state hash (empty for an optimizer that never ran)."""
        timing = codec.loads(raw.get("timing"))
        resources = codec.loads(raw.get("resources"))
        return cls(cursor=raw.get("cursor", "0-0"), saved_at=codec.loads(raw.get("saved_at")),
                   strategy=codec.loads(raw.get("strategy")),
                   scheduler=SchedulerState.from_dict(codec.loads(raw.get("scheduler"), {})),
                   timing=Timing.from_dict(timing) if timing else None,
                   budget=codec.loads(raw.get("budget")),
                   resources=Resources(**resources) if resources else None)

    def elapsed_seconds(self, live: bool, now: float) -> float:
        """Seconds the optimization has run, summed over its sessions: up to ``now`` while a
        controller drives it (``live``), else up to the last save."""
        if self.timing is None:
            return 0.0
        end = now if live or self.saved_at is None else self.saved_at
        return self.timing.elapsed(end)


@dataclass(frozen=True)
class BestPoint:
    """The best objective changed: at ``time``, job ``job_id`` (job #``job_index``) leads."""

    time: float
    job_id: str
    job_index: int
    value: list[float]

    def to_dict(self) -> dict[str, Any]:
        return {"time": self.time, "job_id": self.job_id, "job_index": self.job_index,
                "value": list(self.value)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> BestPoint:
        return cls(data["time"], data["job_id"], data["job_index"], list(data["value"]))


@dataclass(frozen=True)
class SavedOptimizer:
    """Everything saved of one optimizer, read at one instant."""

    state: SavedState
    jobs: list[Job]  # by job index
    best: list[BestPoint]  # oldest first
    live: bool  # a controller holds the lease


@dataclass
class Progress:
    """A cheap snapshot of a (running) optimization, for live progress lines and listings.

    ``done`` counts ended jobs (exact; ``counts`` by final status); ``running``/``queued`` come
    from the optimizer's last resources report (refreshed every report period); ``best`` is the
    best objective so far; ``last_failure`` the job that failed last.
    """

    status: str
    live: bool
    done: int
    running: int
    queued: int
    best: list[float] | None
    best_job: int | None
    elapsed_seconds: float
    counts: dict[str, int] = field(default_factory=dict)
    last_failure: JobFailure | None = None

    @property
    def failed(self) -> int:
        return self.counts.get("failed", 0)

    def line(self) -> str:
        """``done 3 | running 2 | queued 1 | best 0.047 (job #2) | 1m 02s``; with failed jobs,
        ``done 3 (failed 1) | ... | 1m 02s | last failure: job #1 ValueError: bad lr``."""
        best = "-" if self.best is None else f"{format_values(self.best)} (job #{self.best_job})"
        failed = f" (failed {self.failed})" if self.failed else ""
        line = (f"done {self.done}{failed} | running {self.running} | queued {self.queued} | "
                f"best {best} | {format_duration(self.elapsed_seconds)}")
        if self.failed and self.last_failure is not None:
            error = self.last_failure.error
            if len(error) > LINE_ERROR_CHARS:
                error = error[:LINE_ERROR_CHARS - 1] + "…"
            line += f" | last failure: job #{self.last_failure.index} {error}"
        return line


def restore_scheduler(scheduler: Scheduler, jobs: Iterable[Job], state: SchedulerState,
                      strategy_state: dict[str, Any] | None) -> None:
    """Rebuild a fresh scheduler and its strategy from a saved job table and states, as a
    resumed controller does (no strategy state saved: the strategy starts afresh)."""
    jobs = sorted(jobs, key=lambda j: j.index)
    scheduler.restore(jobs, state.counts, state.iterations_used, state.ending, state.exhausted)
    if strategy_state is not None:
        trials = [j.as_trial(scheduler.objective) for j in jobs]
        scheduler.strategy.load_state_dict(strategy_state, trials)
