"""Early-stopping policies, for every strategy (``HyperParameterOptimizer(early_stopping=[...])``).

* :class:`MetricThreshold` -- when any job reaches a value of the objective (or another scalar),
  stop every queued and running job and end the optimization (Polyaxon's metric early stopping).
* :class:`FailureRate` -- when at least ``percent`` % of the jobs so far failed, stop everything and
  end (Polyaxon's failure early stopping).
* :class:`MedianStopping` -- stop a running job whose best objective so far is worse than the
  median of the other jobs' best values at the same iteration, once it passed
  ``grace_iterations`` and at least ``min_samples`` other jobs reached that iteration.
* :class:`DiffStopping` -- the same comparison against the best of the other jobs: stop a job
  worse than it by more than ``percent`` % (Polyaxon's ``diff`` policy).
* :class:`TruncationStopping` -- stop a job that ranks in the worst ``percent`` % of the running
  jobs at an evaluation (Polyaxon's ``truncation`` policy).

Stopping is cooperative (the job sees the request at its next report) and the reason is kept on
the job. Policies are given as objects or as Polyaxon-style dicts (see :func:`build_policies`).
"""

from __future__ import annotations

import bisect
import math
import statistics
from abc import ABC
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from .objective import Objective, parse_sign


@dataclass(frozen=True)
class StopJob:
    """Stop one job (cooperatively), with a reason."""

    job_id: str
    reason: str


@dataclass(frozen=True)
class EndOptimization:
    """Stop every job and end the optimization, with a reason."""

    reason: str


Action = StopJob | EndOptimization


class StoppingPolicy(ABC):
    """A rule that watches results and may stop jobs or the whole optimization.

    ``value`` is the raw reported value; ``objective`` is the optimizer's first objective.
    Methods return an action or None. Policies hold only what they need to decide.
    """

    def on_scalar(self, job_id: str, title: str, series: str, iteration: int, value: float,
                  objective: Objective) -> Action | None:
        """A job reported a scalar."""
        return None

    def on_job_end(self, job_id: str, status: str, counts: Mapping[str, int]) -> Action | None:
        """A job ended; ``counts`` maps final statuses (and ``"total"``) to job counts."""
        return None

    def to_dict(self) -> dict[str, Any]:
        raise NotImplementedError


class MetricThreshold(StoppingPolicy):
    """End the optimization as soon as any job reports ``value`` or better.

    ``metric`` is ``"title/series"`` (default: the objective); ``optimization`` is
    ``minimize``/``maximize`` (default: the objective's direction).
    """

    def __init__(self, value: float, metric: str | None = None,
                 optimization: str | None = None) -> None:
        self.value = float(value)
        self.metric = metric
        self.optimization = optimization
        if metric is not None and metric.count("/") < 1:
            raise ValueError(f"metric_early_stopping: metric {metric!r} must be 'title/series'")
        if optimization is not None:
            parse_sign(optimization)

    def on_scalar(self, job_id: str, title: str, series: str, iteration: int, value: float,
                  objective: Objective) -> Action | None:
        if self.metric is not None:
            if self.metric != f"{title}/{series}":
                return None
        elif (title, series) != (objective.title, objective.series):
            return None
        maximize = (parse_sign(self.optimization)[0] == "max" if self.optimization
                    else objective.maximize)
        reached = value >= self.value if maximize else value <= self.value
        if reached:
            return EndOptimization(f"early stopping: job {job_id} reached {title}/{series} = "
                                   f"{value} ({'>=' if maximize else '<='} {self.value})")
        return None

    def to_dict(self) -> dict[str, Any]:
        return {"kind": "metric_early_stopping", "value": self.value, "metric": self.metric,
                "optimization": self.optimization}


class FailureRate(StoppingPolicy):
    """End the optimization once ``percent`` % of the jobs that ended so far failed."""

    def __init__(self, percent: float) -> None:
        if not 0 < float(percent) <= 100:
            raise ValueError(f"failure_early_stopping: percent must be in (0, 100], got {percent!r}")
        self.percent = float(percent)

    def on_job_end(self, job_id: str, status: str, counts: Mapping[str, int]) -> Action | None:
        failed, total = counts.get("failed", 0), counts.get("total", 0)
        if failed and total and failed * 100.0 >= self.percent * total:
            return EndOptimization(f"early stopping: {failed} of {total} jobs failed "
                                   f"(>= {self.percent:g}%)")
        return None

    def to_dict(self) -> dict[str, Any]:
        return {"kind": "failure_early_stopping", "percent": self.percent}


class _RankedStopping(StoppingPolicy):
    """Shared by the median, diff and truncation rules: each job's best value so far of one
    metric, compared at evaluation points with the other jobs' best values at that iteration.

    A job is evaluated when it reports the metric at an iteration ``it >= grace_iterations``
    that is a multiple of ``evaluation_interval``, and at least ``min_samples`` other jobs (the
    ones :meth:`_counts` admits) reported it at ``it`` or later. ``metric`` is ``"title/series"``
    (default: the objective); ``optimization`` its direction (default: the objective's).

    Cost: each evaluation looks at every job's history once (O(jobs · log reports)).
    """

    kind: str = ""

    def __init__(self, grace_iterations: int = 0, min_samples: int = 3,
                 evaluation_interval: int = 1, metric: str | None = None,
                 optimization: str | None = None) -> None:
        if grace_iterations < 0 or min_samples < 1 or evaluation_interval < 1:
            raise ValueError(f"{self.kind} stopping: grace_iterations must be >= 0, min_samples "
                             f">= 1 and evaluation_interval >= 1")
        if metric is not None and metric.count("/") < 1:
            raise ValueError(f"{self.kind} stopping: metric {metric!r} must be 'title/series'")
        if optimization is not None:
            parse_sign(optimization)
        self.grace_iterations = int(grace_iterations)
        self.min_samples = int(min_samples)
        self.evaluation_interval = int(evaluation_interval)
        self.metric = metric
        self.optimization = optimization
        # job -> (iterations ascending, best-so-far normalised values)
        self._history: dict[str, tuple[list[int], list[float]]] = {}
        self._finished: set[str] = set()

    def on_scalar(self, job_id: str, title: str, series: str, iteration: int, value: float,
                  objective: Objective) -> Action | None:
        watched = self.metric or f"{objective.title}/{objective.series}"
        if f"{title}/{series}" != watched or math.isnan(value):  # another metric, or NaN
            return None
        maximize = (parse_sign(self.optimization)[0] == "max" if self.optimization
                    else objective.maximize)
        its, best = self._history.setdefault(job_id, ([], []))
        loss = -value if maximize else value
        pos = bisect.bisect_left(its, iteration)
        if pos < len(its) and its[pos] == iteration:
            return None  # a repeated report changes nothing
        prev = best[pos - 1] if pos else float("inf")
        its.insert(pos, iteration)
        best.insert(pos, min(prev, loss))
        for k in range(pos + 1, len(best)):
            best[k] = min(best[k], best[k - 1])
        if iteration < self.grace_iterations or iteration % self.evaluation_interval:
            return None
        others = []
        for other, (o_its, o_best) in self._history.items():
            if other == job_id or not o_its or o_its[-1] < iteration or not self._counts(other):
                continue
            others.append(o_best[bisect.bisect_right(o_its, iteration) - 1])
        if len(others) < self.min_samples or not self._worse(best[pos], others):
            return None
        return StopJob(job_id, f"{self.kind} stopping: best {watched} at iteration {iteration} "
                               f"{self._why(len(others))}")

    def on_job_end(self, job_id: str, status: str, counts: Mapping[str, int]) -> Action | None:
        self._finished.add(job_id)
        return None

    def _counts(self, job_id: str) -> bool:
        """Whether another job's values take part in the comparison (all jobs by default)."""
        return True

    def _worse(self, loss: float, others: list[float]) -> bool:
        """True if a job whose best (lower is better) is ``loss`` must stop."""
        raise NotImplementedError

    def _why(self, n: int) -> str:
        raise NotImplementedError

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "grace_iterations": self.grace_iterations,
                "min_samples": self.min_samples, "evaluation_interval": self.evaluation_interval,
                "metric": self.metric, "optimization": self.optimization}


class MedianStopping(_RankedStopping):
    """Stop a job whose best value so far is worse than the median of the other jobs' (running
    and finished) best values at the same iteration (see :class:`_RankedStopping`)."""

    kind = "median"

    def _worse(self, loss: float, others: list[float]) -> bool:
        return loss > statistics.median(others)

    def _why(self, n: int) -> str:
        return f"worse than the median of {n} other jobs"


class DiffStopping(_RankedStopping):
    """Stop a job whose best value so far is worse than the best of the other jobs' (running
    and finished) at the same iteration by more than ``percent`` % of that best value's size
    (``loss > best + |best| * percent / 100``; see :class:`_RankedStopping`)."""

    kind = "diff"

    def __init__(self, percent: float, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if not 0 <= float(percent):
            raise ValueError(f"diff stopping: percent must be >= 0, got {percent!r}")
        self.percent = float(percent)

    def _worse(self, loss: float, others: list[float]) -> bool:
        best = min(others)
        return loss > best + abs(best) * self.percent / 100.0

    def _why(self, n: int) -> str:
        return f"worse than the best of {n} other jobs by more than {self.percent:g}%"

    def to_dict(self) -> dict[str, Any]:
        return {**super().to_dict(), "percent": self.percent}


class TruncationStopping(_RankedStopping):
    """At each evaluation, stop a job that ranks in the worst ``percent`` % (rounded down) of
    itself and the other jobs' best values at the same iteration; the other jobs are the running
    ones, plus the finished ones with ``include_succeeded`` (see :class:`_RankedStopping`)."""

    kind = "truncation"

    def __init__(self, percent: float, include_succeeded: bool = False, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if not 0 < float(percent) <= 100:
            raise ValueError(f"truncation stopping: percent must be in (0, 100], got {percent!r}")
        self.percent = float(percent)
        self.include_succeeded = bool(include_succeeded)

    def _counts(self, job_id: str) -> bool:
        return self.include_succeeded or job_id not in self._finished

    def _worse(self, loss: float, others: list[float]) -> bool:
        pool = len(others) + 1
        cut = math.floor(pool * self.percent / 100.0)
        return cut > 0 and sum(1 for o in others if o < loss) >= pool - cut

    def _why(self, n: int) -> str:
        return f"in the worst {self.percent:g}% of {n + 1} jobs"

    def to_dict(self) -> dict[str, Any]:
        return {**super().to_dict(), "percent": self.percent,
                "include_succeeded": self.include_succeeded}


_POLICY_KINDS: dict[str, type[StoppingPolicy]] = {
    "metric_early_stopping": MetricThreshold, "metric": MetricThreshold,
    "failure_early_stopping": FailureRate, "failure": FailureRate,
    "median": MedianStopping, "median_stopping": MedianStopping,
    "diff": DiffStopping, "diff_stopping": DiffStopping,
    "truncation": TruncationStopping, "truncation_stopping": TruncationStopping,
}


def build_policies(specs: Iterable[StoppingPolicy | Mapping[str, Any]] | None
                   ) -> list[StoppingPolicy]:
    """Policies from objects or Polyaxon-style dicts.

    Dicts: ``{"kind": "metric_early_stopping", "value": 0.05, "metric": "validation/loss",
    "optimization": "minimize"}``, ``{"kind": "failure_early_stopping", "percent": 50}``,
    ``{"kind": "median", "grace_iterations": 5, "min_samples": 3}``, ``{"kind": "diff",
    "percent": 10, ...}``, ``{"kind": "truncation", "percent": 25, ...}`` (the other keys are the
    classes' arguments). ValueError names a bad one.
    """
    out: list[StoppingPolicy] = []
    for spec in specs or ():
        if isinstance(spec, StoppingPolicy):
            out.append(spec)
            continue
        if not isinstance(spec, Mapping):
            raise ValueError(f"early_stopping entries must be policies or dicts, got {spec!r}")
        spec = dict(spec)
        kind = spec.pop("kind", None)
        if kind not in _POLICY_KINDS:
            raise ValueError(f"unknown early_stopping kind {kind!r}; known: "
                             "metric_early_stopping, failure_early_stopping, median, diff, "
                             "truncation")
        try:
            out.append(_POLICY_KINDS[kind](**spec))
        except TypeError as exc:
            raise ValueError(f"early_stopping {kind!r}: {exc}") from None
    return out
