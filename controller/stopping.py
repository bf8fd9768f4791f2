"""Early-stopping policies, for every strategy (``HyperParameterOptimizer(early_stopping=[...])``).

* :class:`MetricThreshold` -- when any job reaches a value of the objective (or another scalar),
  stop every queued and running job and end the optimization (Polyaxon's metric early stopping).
* :class:`FailureRate` -- when at least ``percent`` % of the jobs so far failed, stop everything and
  end (Polyaxon's failure early stopping).
* :class:`MedianStopping` -- stop a running job whose best objective so far is worse than the
  median of the other jobs' best values at the same iteration, once it passed
  ``grace_iterations`` and at least ``min_samples`` other jobs reached that iteration.

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


class MedianStopping(StoppingPolicy):
    """Stop a job whose best objective so far is worse than the median of the others' at the
    same iteration (after ``grace_iterations``, with at least ``min_samples`` others).

    Cost: each objective report looks at every job's history once (O(jobs · log reports)).
    """

    def __init__(self, grace_iterations: int = 0, min_samples: int = 3) -> None:
        if grace_iterations < 0 or min_samples < 1:
            raise ValueError("median stopping: grace_iterations must be >= 0 and min_samples >= 1")
        self.grace_iterations = int(grace_iterations)
        self.min_samples = int(min_samples)
        # job -> (iterations ascending, best-so-far normalised values)
        self._history: dict[str, tuple[list[int], list[float]]] = {}

    def on_scalar(self, job_id: str, title: str, series: str, iteration: int, value: float,
                  objective: Objective) -> Action | None:
        if (title, series) != (objective.title, objective.series) or math.isnan(value):
            return None
        its, best = self._history.setdefault(job_id, ([], []))
        loss = objective.normalize(value)
        pos = bisect.bisect_left(its, iteration)
        if pos < len(its) and its[pos] == iteration:
            return None  # a repeated report changes nothing
        prev = best[pos - 1] if pos else float("inf")
        its.insert(pos, iteration)
        best.insert(pos, min(prev, loss))
        for k in range(pos + 1, len(best)):
            best[k] = min(best[k], best[k - 1])
        if iteration < self.grace_iterations:
            return None
        others = []
        for other, (o_its, o_best) in self._history.items():
            if other == job_id or not o_its or o_its[-1] < iteration:
                continue
            others.append(o_best[bisect.bisect_right(o_its, iteration) - 1])
        if len(others) < self.min_samples:
            return None
        median = statistics.median(others)
        if best[pos] > median:
            return StopJob(job_id, f"median stopping: best {objective.title}/{objective.series} "
                                   f"at iteration {iteration} worse than the median of "
                                   f"{len(others)} other jobs")
        return None

    def to_dict(self) -> dict[str, Any]:
        return {"kind": "median", "grace_iterations": self.grace_iterations,
                "min_samples": self.min_samples}


def build_policies(specs: Iterable[StoppingPolicy | Mapping[str, Any]] | None
                   ) -> list[StoppingPolicy]:
    """Policies from objects or Polyaxon-style dicts.

    Dicts: ``{"kind": "metric_early_stopping", "value": 0.05, "metric": "validation/loss",
    "optimization": "minimize"}``, ``{"kind": "failure_early_stopping", "percent": 50}``,
    ``{"kind": "median", "grace_iterations": 5, "min_samples": 3}``. ValueError names a bad one.
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
        try:
            if kind in ("metric_early_stopping", "metric"):
                out.append(MetricThreshold(**spec))
            elif kind in ("failure_early_stopping", "failure"):
                out.append(FailureRate(**spec))
            elif kind in ("median", "median_stopping"):
                out.append(MedianStopping(**spec))
            else:
                raise ValueError(f"unknown early_stopping kind {kind!r}; known: "
                                 "metric_early_stopping, failure_early_stopping, median")
        except TypeError as exc:
            raise ValueError(f"early_stopping {kind!r}: {exc}") from None
    return out
