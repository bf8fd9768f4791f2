"""BOHB (Falkner et al., ICML 2018): Hyperband whose new configurations come from a model.

The brackets, rungs and promotions are :class:`~.hyperband.Hyperband`'s, with BOHB's budget
convention: ``max_iterations = max_budget / min_budget`` and each trial receives its budget
(``min_budget * r * eta**rung``, between ``min_budget`` and ``max_budget``) in the ``resource``
parameter. Brackets repeat, most aggressive first, until ``total_max_jobs`` jobs were started
(ClearML's ``OptimizerBOHB`` counted brackets there); without ``total_max_jobs`` one Hyperband
round runs.

A new rung-0 configuration is random with probability ``random_fraction`` or while there is no
model; otherwise it comes from the tree-structured Parzen estimator of hpbandster's BOHB:

* observations are the completed trials with an objective, grouped by budget; the model uses the
  largest budget that has at least ``min_points_in_model`` of them and more than ``d`` (the number
  of modelled parameters) in each of its two sets;
* the best ``max(min_points_in_model, top_n_percent% of n)`` form the *good* set, the next
  ``max(min_points_in_model, (100 - top_n_percent)% of n)`` the *bad* set;
* each set gets a product kernel density on the parameters' vector encoding
  (:mod:`controller.space`: a range in ``[0, 1]``, with Gaussian kernels; a list of choices by
  its index, with Aitchison-Aitken kernels), with normal-reference bandwidths floored at
  ``min_bandwidth``;
* ``num_samples`` candidates are drawn around good points (Gaussian widths times
  ``bandwidth_factor``, truncated to ``[0, 1]``) and the one maximising ``l(x) / g(x)`` is decoded
  back to a valid point of each range (stepped and integer ranges land on their grid).

A :class:`ParameterSet` or a parameter without a dimension (Polyaxon's distributions) is not
modelled: its value is drawn at random. numpy only.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..parameters import Parameter
from ..space import Scalar
from .base import Decision, Suggestion, Trial, Wait
from .clearml_compat import clearml_positional
from .hyperband import Hyperband, _number

#: ClearML's positional order of ``OptimizerBOHB``'s arguments.
_CLEARML_ORDER = ("base_task_id", "hyper_parameters", "objective_metric", "execution_queue",
                  "num_concurrent_workers", "min_iteration_per_job", "max_iteration_per_job",
                  "total_max_jobs", "pool_period_min", "time_limit_per_job",
                  "compute_time_limit", "local_port")
_TINY = 1e-32
_TRUNCNORM_ROUNDS = 64


def _codec(p: Parameter) -> Scalar | None:
    """The model's view of ``p`` (its vector encoding); None for a parameter drawn at random
    (a ParameterSet, or one without a dimension)."""
    dimension = p.dimension()
    return dimension if isinstance(dimension, Scalar) else None


@dataclass(frozen=True)
class ProductKDE:
    """A product-kernel density on encoded points: Gaussian kernels on continuous dimensions
    (``sizes == 0``), Aitchison-Aitken kernels on categorical ones."""

    data: np.ndarray
    bw: np.ndarray
    sizes: np.ndarray

    @classmethod
    def fit(cls, data: np.ndarray, sizes: np.ndarray, min_bandwidth: float) -> ProductKDE:
        """Normal-reference bandwidths (``1.06 * std * n**(-1/(4+d))``, as statsmodels),
        floored at ``min_bandwidth``; a categorical bandwidth is capped at ``(c-1)/c``, where
        its kernel becomes uniform."""
        n, d = data.shape
        bw = np.maximum(1.06 * data.std(axis=0) * n ** (-1.0 / (4 + d)), min_bandwidth)
        cap = np.where(sizes > 0, (sizes - 1) / np.maximum(sizes, 1), np.inf)
        return cls(data, np.minimum(bw, cap), sizes)

    def pdf(self, x: np.ndarray) -> np.ndarray:
        """Density at each row of ``x`` (shape ``(m, d)``)."""
        diff = x[:, None, :] - self.data[None, :, :]
        cont = self.sizes == 0
        h = np.where(cont, self.bw, 1.0)  # categorical bandwidths may be 0
        gauss = np.exp(-0.5 * (diff / h) ** 2) / (math.sqrt(2 * math.pi) * h)
        other = self.bw / np.maximum(self.sizes - 1, 1)
        aitchison = np.where(diff == 0, 1 - self.bw, other)
        kernels = np.where(cont, gauss, aitchison)
        return kernels.prod(axis=2).mean(axis=1)

    def sample(self, rng: np.random.Generator, count: int, factor: float) -> np.ndarray:
        """``count`` points near random data points: truncated Gaussians of width
        ``factor * bw`` on continuous dimensions; on categorical ones the point's category kept
        with probability ``1 - bw``, else a uniform draw (hpbandster's scheme)."""
        rows = self.data[rng.integers(len(self.data), size=count)]
        cont = self.sizes == 0
        out = rows.copy()
        out[:, cont] = _truncated_normal(rng, rows[:, cont], factor * self.bw[cont])
        cat = ~cont
        redraw = rng.random((count, int(cat.sum()))) >= 1 - self.bw[cat]
        uniform = np.floor(rng.random((count, int(cat.sum()))) * self.sizes[cat])
        out[:, cat] = np.where(redraw, uniform, rows[:, cat])
        return out


def _truncated_normal(rng: np.random.Generator, mean: np.ndarray, sd: np.ndarray
                      ) -> np.ndarray:
    """Normal draws around ``mean`` restricted to [0, 1] by rejection (clipped if a draw keeps
    missing, which only a huge width makes likely)."""
    sd = np.broadcast_to(sd, mean.shape)
    out = rng.normal(mean, sd)
    for _ in range(_TRUNCNORM_ROUNDS):
        outside = (out < 0) | (out > 1)
        if not outside.any():
            break
        out[outside] = rng.normal(mean[outside], sd[outside])
    return np.clip(out, 0.0, 1.0)


@dataclass(frozen=True)
class DensityModel:
    """BOHB's model of one budget: ``l`` (good) and ``g`` (bad) densities."""

    good: ProductKDE
    bad: ProductKDE
    budget: float


class OptimizerBOHB(Hyperband):
    """BOHB with ClearML's ``OptimizerBOHB`` constructor (see the module docstring).

    Positional arguments follow ClearML's ``OptimizerBOHB``: ``base_task_id, hyper_parameters,
    objective_metric, execution_queue, num_concurrent_workers, min_iteration_per_job,
    max_iteration_per_job, total_max_jobs, pool_period_min, time_limit_per_job,
    compute_time_limit, local_port`` (see :class:`~.clearml_compat.ClearMLSearchStrategy`).

    Args:
        min_iteration_per_job, max_iteration_per_job: the budget range when ``min_budget`` /
            ``max_budget`` are not given (the budget is then a number of iterations).
        total_max_jobs: brackets repeat until this many jobs were started (None: one round).
        local_port: accepted for ClearML compatibility (default 9090); unused (there is no Pyro
            name server).
        resource: the task parameter receiving the budget (see :class:`Hyperband`). Without
            it (ClearML's ``OptimizerBOHB``), the budget is counted in reported iterations: no
            parameter is set, and a job is stopped once it reports the objective at an
            iteration >= its budget; such a stop counts as the job's result.
        eta, min_budget, max_budget, min_points_in_model, top_n_percent, num_samples,
        random_fraction, bandwidth_factor, min_bandwidth: BOHB's knobs, with its defaults
            (``min_points_in_model``: number of modelled parameters + 1; a smaller value is
            raised to it with a warning, as hpbandster does).
        resume, concurrency: as for :class:`Hyperband`.

    Rung-0 suggestions carry ``meta["model_based"]`` (True when the model proposed them).

    Raises:
        ValueError: ``"OptimizerBOHB is missing a defined budget ..."`` without a budget range;
            for an invalid budget range or knob; and as :class:`Hyperband`.
    """

    def __init__(self, *args: Any, resource: str | Mapping[str, Any] | None = None,
                 eta: float = 3, min_budget: float | None = None,
                 max_budget: float | None = None, min_points_in_model: int | None = None,
                 top_n_percent: float = 15, num_samples: int = 64,
                 random_fraction: float = 1 / 3, bandwidth_factor: float = 3,
                 min_bandwidth: float = 1e-3, resume: bool = False,
                 concurrency: int | None = None, **kwargs: Any) -> None:
        kwargs = clearml_positional(type(self).__name__, _CLEARML_ORDER, args, kwargs)
        self.local_port: int = kwargs.pop("local_port", 9090)
        self.min_budget, self.max_budget = _budget_range(
            min_budget if min_budget is not None else kwargs.get("min_iteration_per_job"),
            max_budget if max_budget is not None else kwargs.get("max_iteration_per_job"))
        super().__init__(max_iterations=self.max_budget / self.min_budget, eta=eta,
                         resource=resource, resume=resume, concurrency=concurrency, **kwargs)
        self._codecs = [_codec(p) for p in self.space.parameters]
        self._modelled = [c for c in self._codecs if c is not None]
        self._sizes = np.array([c.vector_size for c in self._modelled], dtype=float)
        self.min_points_in_model = self._min_points(min_points_in_model)
        self.top_n_percent = _in_open_interval("top_n_percent", top_n_percent, 0, 100)
        if isinstance(num_samples, bool) or not isinstance(num_samples, int) or num_samples < 1:
            raise ValueError(f"num_samples must be a positive integer, got {num_samples!r}")
        self.num_samples = num_samples
        if not 0 <= _number("random_fraction", random_fraction) <= 1:
            raise ValueError(f"random_fraction must be in [0, 1], got {random_fraction}")
        self.random_fraction = float(random_fraction)
        self.bandwidth_factor = _in_open_interval("bandwidth_factor", bandwidth_factor, 0,
                                                  math.inf)
        self.min_bandwidth = _in_open_interval("min_bandwidth", min_bandwidth, 0, math.inf)

    _budget_in_iterations = True

    # ------------------------------------------------------------------ contract
    def on_trial_start(self, job_id: str, suggestion: Suggestion) -> None:
        super().on_trial_start(job_id, suggestion)
        self._budgets[job_id] = suggestion.meta["resource"]

    def on_trial_result(self, job_id: str, iteration: int, value: float | list[float]
                        ) -> Decision:
        """Without ``resource``: STOP once the job reported the objective at its budget."""
        budget = self._budgets.get(job_id) if self.resource is None else None
        return Decision.STOP if budget is not None and iteration >= budget else Decision.CONTINUE

    def suggest(self) -> Suggestion | Wait | None:
        """As :meth:`Hyperband.suggest`; None once ``total_max_jobs`` jobs were started."""
        if self.total_max_jobs is not None and self._started >= self.total_max_jobs:
            return None
        return super().suggest()

    # ------------------------------------------------------------------ hooks
    def _reset_trials(self) -> None:
        super()._reset_trials()
        self._budgets: dict[str, float] = {}

    def _trial_loss(self, trial: Trial) -> float | None:
        """As :meth:`Hyperband._trial_loss`; without ``resource`` a job stopped at its budget
        counts too."""
        if (self.resource is None and trial.status == "stopped" and trial.value is not None
                and trial.iteration is not None and trial.iteration >= trial.meta["resource"]):
            trial = Trial(trial.job_id, trial.parameters, trial.meta, "completed", trial.value,
                          trial.iteration)
        return super()._trial_loss(trial)

    def _bracket(self, iteration: int) -> int | None:
        if self.total_max_jobs is None:
            return super()._bracket(iteration)
        return self._cycled_bracket(iteration)

    def _has_next_rung(self, bracket: int) -> bool:
        """hpbandster's successive halving: rungs ``0..bracket`` (no extra rung)."""
        return self.rung < bracket

    def _resource_value(self, bracket: int, rung: int) -> int | float:
        """The budget: ``min_budget * r * eta**rung`` (12 significant digits, then cast)."""
        r = self.math.get_n_resources(self.math.get_resources(bracket), rung)
        value = float(f"{self.min_budget * r:.12g}")
        return self.resource.cast(value) if self.resource is not None else value

    def _new_config(self) -> tuple[dict[str, Any], dict[str, Any]]:
        explore = bool(self.rng.random() < self.random_fraction)
        model = None if explore else self.model()
        if model is None:
            return super()._new_config()[0], {"model_based": False}
        return self._propose(model), {"model_based": True}

    # ------------------------------------------------------------------ model
    def model(self) -> DensityModel | None:
        """The good/bad densities of the largest budget with enough observations, or None."""
        for budget, observations in sorted(self._observations().items(), reverse=True):
            model = self._fit(budget, sorted(observations))
            if model is not None:
                return model
        return None

    def _observations(self) -> dict[float, list[tuple[float, int]]]:
        """``{budget: [(loss, config), ...]}`` of every completed trial with an objective."""
        out: dict[float, list[tuple[float, int]]] = {}
        for (iteration, rung), results in self._results.items():
            budget = self._resource_value(self._cycled_bracket(iteration), rung)
            out.setdefault(budget, []).extend((loss, config) for config, loss in results.items()
                                              if loss is not None)
        return out

    def _fit(self, budget: float, ranked: list[tuple[float, int]]) -> DensityModel | None:
        """Densities of the good and bad observations of one budget (best first), or None."""
        n, d = len(ranked), len(self._modelled)
        if d == 0 or n < self.min_points_in_model:
            return None
        n_good = max(self.min_points_in_model, int(self.top_n_percent * n // 100))
        n_bad = max(self.min_points_in_model, int((100 - self.top_n_percent) * n // 100))
        good, bad = ranked[:n_good], ranked[n_good:n_good + n_bad]
        if len(good) <= d or len(bad) <= d:
            return None
        return DensityModel(ProductKDE.fit(self._encode(good), self._sizes, self.min_bandwidth),
                      ProductKDE.fit(self._encode(bad), self._sizes, self.min_bandwidth),
                      budget)

    def _cycled_bracket(self, iteration: int) -> int:
        """The bracket of ``iteration`` when brackets repeat (the same for the first round)."""
        return self.math.get_bracket(iteration % (self.math.s_max + 1))

    def _encode(self, observations: list[tuple[float, int]]) -> np.ndarray:
        return np.array([[c.to_vector(self._configs[config][c.name]) for c in self._modelled]
                         for _, config in observations], dtype=float)

    def _propose(self, model: DensityModel) -> dict[str, Any]:
        """The candidate maximising ``l(x) / g(x)``, decoded; unmodelled parameters random."""
        candidates = model.good.sample(self.rng, self.num_samples, self.bandwidth_factor)
        score = (np.maximum(model.bad.pdf(candidates), _TINY)
                 / np.maximum(model.good.pdf(candidates), _TINY))
        best = iter(candidates[int(np.argmin(score))])
        config: dict[str, Any] = {}
        for p, codec in zip(self.space.parameters, self._codecs, strict=True):
            config.update(p.get_value(self.rng) if codec is None
                          else {codec.name: codec.from_vector(next(best))})
        return config

    def _min_points(self, requested: int | None) -> int:
        floor = len(self._modelled) + 1
        if requested is None:
            return floor
        if isinstance(requested, bool) or not isinstance(requested, int):
            raise ValueError(f"min_points_in_model must be an integer, got {requested!r}")
        if requested < floor:
            warnings.warn(f"min_points_in_model={requested} is below the number of modelled "
                          f"parameters + 1; using {floor}", stacklevel=3)
            return floor
        return requested


def _budget_range(lo: float | None, hi: float | None) -> tuple[float, float]:
    if lo is None or hi is None:
        raise ValueError("OptimizerBOHB is missing a defined budget: give min_budget and "
                         "max_budget, or min_iteration_per_job and max_iteration_per_job")
    lo, hi = _number("min_budget", lo), _number("max_budget", hi)
    if not 0 < lo <= hi:
        raise ValueError(f"need 0 < min_budget <= max_budget, got {lo} and {hi}")
    return lo, hi


def _in_open_interval(what: str, value: Any, lo: float, hi: float) -> float:
    if not lo < _number(what, value) < hi:
        raise ValueError(f"{what} must be in ({lo}, {hi}), got {value}")
    return float(value)
