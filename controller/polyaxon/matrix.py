"""Polyaxon's ``matrix`` kinds as the ``V1*`` classes, and their optimizers.

=========  ==========================================================================
mapping    :class:`~controller.strategies.Mapping` with ``values``
grid       :class:`~controller.strategies.GridSearch`; ``numRuns`` -> ``total_max_jobs``;
           a distribution is rejected ("cannot be used with grid search")
random     :class:`~controller.strategies.RandomSearch`; ``numRuns`` (required) ->
           ``total_max_jobs`` (capped at the number of configurations when every param is
           discrete); ``seed``
hyperband  :class:`~controller.strategies.Hyperband`: Polyaxon's brackets and schedule
bayes      :class:`~controller.strategies.BayesianGP` (``numInitialRuns``, ``maxIterations``,
           ``utilityFunction``, ``seed``), scheduled as Polyaxon schedules it: the initial
           random runs, then one suggestion at a time once every run ended; a distribution
           other than uniform is rejected
hyperopt   ``algorithm: tpe`` (the default) -> ``OptimizerOptuna`` (Optuna's TPE), ``rand`` ->
           RandomSearch; ``total_max_jobs = numRuns * (maxIterations + 1)`` (Polyaxon runs
           iterations 0..maxIterations of ``numRuns`` suggestions each; unbounded without
           ``maxIterations``, as Polyaxon); pchoice is rejected (as Polyaxon), and so are the
           distributions Optuna has no equivalent of (quniform, qloguniform, the normals) for tpe;
           ``anneal`` is not supported
iterative  :class:`~controller.strategies.iterative.Iterative`: ``tuner.hubRef`` names a
           strategy class ``module:Class`` (``tuner.params`` are its arguments), run in
           Polyaxon's iterations 0..maxIterations
=========  ==========================================================================

Every kind: ``concurrency`` -> ``max_number_of_concurrent_tasks``, clamped to the number of runs
the matrix can create (Polyaxon: "only makes sense if less or equal to the total number of
possible runs"); without it every run may start at once, as Polyaxon's unset concurrency.
``earlyStopping`` -> ``early_stopping`` (see :mod:`.early_stopping`); ``metric.optimization`` ->
the objective's sign. A ``tuner`` other than an iterative one's (the container image that
computes Polyaxon's suggestions) is accepted and ignored.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

from ..objective import Objective
from ..optimizer import HyperParameterOptimizer
from ..parameters import Parameter
from ..strategies.bayes_gp import BayesianGP, parse_utility
from ..strategies.clearml_compat import ClearMLSearchStrategy
from ..strategies.grid_random import GridSearch, RandomSearch
from ..strategies.hyperband import Hyperband, HyperbandMath, HyperbandSchedule
from ..strategies.iterative import Iterative, load_strategy_class
from ..strategies.mapping import Mapping as MappingStrategy
from ..strategies.mapping import check_values
from .early_stopping import V1EarlyStopping, early_stopping_from_polyaxon, read_early_stopping
from .optimization import V1OptimizationMetric, V1OptimizationResource
from .params import V1HpParam, hp_parameters, read_params
from .schema import (
    Schema,
    ValidationError,
    optional,
    positive_int,
    to_float,
    to_int,
)

#: The kinds hyperopt's TPE can take here (those Optuna has a distribution for).
_TPE_KINDS = frozenset({"choice", "range", "linspace", "logspace", "geomspace", "daterange",
                        "datetimerange", "uniform", "loguniform"})


@dataclass
class PolyaxonMatrix:
    """A converted ``matrix``: what a :class:`HyperParameterOptimizer` needs besides the base
    task and the objective.

    ``optimizer_kwargs`` holds the strategy's arguments and the loop's (``total_max_jobs``,
    ``seed``), which every ``optimizer_class`` takes (each is a :class:`ClearMLSearchStrategy`);
    ``max_number_of_concurrent_tasks`` is the clamped concurrency (None: the optimizer's
    default, for a matrix whose number of runs is unbounded); ``early_stopping`` holds
    :func:`controller.stopping.build_policies` dicts; ``sign`` is ``"min"``/``"max"`` from
    ``metric.optimization`` (None without a metric).
    """

    kind: str
    optimizer_class: type[ClearMLSearchStrategy]
    hyper_parameters: list[Parameter]
    optimizer_kwargs: dict[str, Any]
    max_number_of_concurrent_tasks: int | None = None
    early_stopping: list[dict[str, Any]] = field(default_factory=list)
    sign: str | None = None

    def optimizer_arguments(self) -> dict[str, Any]:
        """Keyword arguments of :class:`HyperParameterOptimizer` (all but the base task and the
        objective)."""
        out: dict[str, Any] = {"hyper_parameters": list(self.hyper_parameters),
                               "optimizer_class": self.optimizer_class,
                               "early_stopping": list(self.early_stopping),
                               **self.optimizer_kwargs}
        if self.max_number_of_concurrent_tasks is not None:
            out["max_number_of_concurrent_tasks"] = self.max_number_of_concurrent_tasks
        return out

    def optimizer(self, base_task_id: str, objective: Objective,
                  **kwargs: Any) -> HyperParameterOptimizer:
        """The :class:`HyperParameterOptimizer` over ``base_task_id`` for ``objective``;
        ``kwargs`` are further optimizer arguments, over the matrix's."""
        return HyperParameterOptimizer(base_task_id, objective_metric_title=objective.title,
                                       objective_metric_series=objective.series,
                                       objective_metric_sign=objective.sign,
                                       **{**self.optimizer_arguments(), **kwargs})

    def build_strategy(self, **kwargs: Any) -> ClearMLSearchStrategy:
        """The strategy alone (e.g. for :func:`controller.simulate.simulate`); ``kwargs``
        (``objective_metric``, ...) go to its constructor too."""
        return self.optimizer_class(hyper_parameters=self.hyper_parameters,
                                    **{**self.optimizer_kwargs, **kwargs})


# ====================================================================== shared sections
@dataclasses.dataclass(kw_only=True)
class V1Tuner(Schema):
    """The component that computes suggestions: ``hubRef`` (for ``iterative``, a strategy class
    ``module:Class``), ``params`` (its arguments, ``{name: {value: ...}}`` or plain values),
    ``presets``, ``queue``, ``namespace`` (kept, not used)."""

    hub_ref: str
    presets: list[str] | None = None
    queue: str | None = None
    namespace: str | None = None
    params: dict[str, Any] | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.hub_ref, str) or not self.hub_ref:
            raise ValidationError(f"tuner hubRef must be a non-empty string, got "
                                  f"{self.hub_ref!r}")
        if self.params is not None and not isinstance(self.params, Mapping):
            raise ValidationError(f"tuner params must be a dict, got {self.params!r}")

    def arguments(self) -> dict[str, Any]:
        """``params`` as keyword arguments (a ``{value: ...}`` param gives its value)."""
        return {name: p["value"] if isinstance(p, Mapping) and set(p) == {"value"} else p
                for name, p in (self.params or {}).items()}


@dataclasses.dataclass(kw_only=True)
class GaussianProcessConfig(Schema):
    """``utilityFunction.gaussianProcess``: ``kernel`` (matern or rbf), ``lengthScale``, ``nu``
    (any Matern smoothness > 0), ``numRestartsOptimizer``."""

    kernel: str | None = None
    length_scale: float | None = None
    nu: float | None = None
    num_restarts_optimizer: int | None = None


@dataclasses.dataclass(kw_only=True)
class UtilityFunctionConfig(Schema):
    """``utilityFunction``: ``acquisitionFunction`` (ucb, ei, poi), ``kappa`` (ucb), ``eps``
    (ei, poi), ``gaussianProcess``, ``numWarmup``, ``numIterations``; validated by
    :func:`controller.strategies.bayes_gp.parse_utility`."""

    acquisition_function: str | None = None
    gaussian_process: GaussianProcessConfig | None = None
    kappa: float | None = None
    eps: float | None = None
    num_warmup: int | None = None
    num_iterations: int | None = None

    def __post_init__(self) -> None:
        if self.gaussian_process is not None:
            self.gaussian_process = GaussianProcessConfig.coerce(self.gaussian_process)
        try:
            parse_utility(self.to_dict())
        except ValueError as exc:
            raise ValidationError(str(exc)) from None


# ====================================================================== matrices
@dataclasses.dataclass(kw_only=True)
class _Matrix(Schema):
    """What every kind has: ``concurrency``, ``earlyStopping`` and (for most) ``params``."""

    concurrency: int | None = None
    early_stopping: list[V1EarlyStopping] | None = None

    def __post_init__(self) -> None:
        self.concurrency = optional(positive_int, self.concurrency, "concurrency")
        if self.early_stopping is not None:
            self.early_stopping = read_early_stopping(self.early_stopping)

    def hp(self) -> dict[str, V1HpParam]:
        """The read ``params`` (empty without)."""
        params = getattr(self, "params", None)
        return params if params is not None else {}

    def possible_runs(self) -> int | None:
        """The number of runs the matrix can create (None: unbounded or unknown)."""
        return None

    def metric_section(self) -> V1OptimizationMetric | None:
        """The matrix's ``metric`` (None for the kinds without one)."""
        return getattr(self, "metric", None)

    def strategy(self) -> tuple[type[ClearMLSearchStrategy], dict[str, Any]]:
        """The strategy class and its arguments (besides ``hyper_parameters``)."""
        raise NotImplementedError

    def convert(self, objective: Objective | None = None) -> PolyaxonMatrix:
        """This matrix as a :class:`PolyaxonMatrix`.

        ``objective``, when given, must agree with ``metric.optimization``; its series (or
        ``title/series``) may name the objective in ``earlyStopping``, as may ``metric.name``.

        Raises:
            ValidationError: for a param the kind does not allow, an invalid early-stopping
                entry, or a ``metric.optimization`` that contradicts ``objective``.
        """
        metric = self.metric_section()
        sign = metric.sign if metric is not None and metric.optimization is not None else None
        if objective is not None and sign is not None and sign != objective.order:
            raise ValidationError(f"metric optimization ({metric.optimization.value}) "  # type: ignore[union-attr]
                                  f"contradicts the objective's sign ({objective.sign})")
        names = {metric.name} if metric is not None else set()
        if objective is not None:
            names |= {objective.series, f"{objective.title}/{objective.series}"}
        cls, kwargs = self.strategy()
        possible = self.possible_runs()
        concurrency = self.concurrency if self.concurrency is not None else possible
        if concurrency is not None and possible is not None:
            concurrency = max(1, min(concurrency, possible))
        return PolyaxonMatrix(
            kind=self.kind or "", optimizer_class=cls, hyper_parameters=hp_parameters(self.hp()),
            optimizer_kwargs=kwargs, max_number_of_concurrent_tasks=concurrency,
            early_stopping=early_stopping_from_polyaxon(self.early_stopping, names), sign=sign)


def _read_params(params: Any) -> dict[str, V1HpParam] | None:
    return None if params is None else read_params(params)


def _reject(params: Mapping[str, V1HpParam], allowed: Any, why: str) -> None:
    for name, hp in params.items():
        if not allowed(hp):
            raise ValidationError(f"{hp_parameters({name: hp})[0].name}: {hp.kind} {why}")


def _grid_size(params: Mapping[str, V1HpParam]) -> int:
    return math.prod(hp.length() for hp in params.values())


@dataclasses.dataclass(kw_only=True)
class V1Mapping(_Matrix):
    """``mapping``: one run per dict of ``values``, in order."""

    _IDENTIFIER: ClassVar[str] = "mapping"
    values: list[dict[str, Any]]

    def __post_init__(self) -> None:
        super().__post_init__()
        try:
            check_values(self.values)
        except ValueError as exc:
            raise ValidationError(f"mapping {exc}") from None

    def has_key(self, key: str) -> bool:
        """Polyaxon's check that ``key`` is mapped (the first entry's keys)."""
        return bool(self.values) and key in self.values[0]

    def possible_runs(self) -> int | None:
        return len(self.values)

    def strategy(self) -> tuple[type[ClearMLSearchStrategy], dict[str, Any]]:
        return MappingStrategy, {"values": list(self.values)}


@dataclasses.dataclass(kw_only=True)
class V1GridSearch(_Matrix):
    """``grid``: the Cartesian product of ``params`` (distributions refused), truncated to
    ``numRuns``."""

    _IDENTIFIER: ClassVar[str] = "grid"
    params: dict[str, V1HpParam]
    num_runs: int | None = None

    def __post_init__(self) -> None:
        super().__post_init__()
        self.params = read_params(self.params)
        self.num_runs = optional(positive_int, self.num_runs, "numRuns")
        _reject(self.params, lambda hp: not hp.is_distribution,
                "is a distribution and cannot be used with grid search")

    def possible_runs(self) -> int | None:
        size = _grid_size(self.params)
        return size if self.num_runs is None else min(size, self.num_runs)

    def strategy(self) -> tuple[type[ClearMLSearchStrategy], dict[str, Any]]:
        return GridSearch, ({} if self.num_runs is None else {"total_max_jobs": self.num_runs})


@dataclasses.dataclass(kw_only=True)
class V1RandomSearch(_Matrix):
    """``random``: ``numRuns`` distinct random configurations (all of them when the discrete
    space is smaller)."""

    _IDENTIFIER: ClassVar[str] = "random"
    params: dict[str, V1HpParam]
    num_runs: int
    seed: int | None = None

    def __post_init__(self) -> None:
        super().__post_init__()
        self.params = read_params(self.params)
        self.num_runs = positive_int(self.num_runs, "numRuns")
        self.seed = optional(to_int, self.seed, "seed")

    def possible_runs(self) -> int | None:
        if any(hp.is_continuous for hp in self.params.values()):
            return self.num_runs
        return min(self.num_runs, _grid_size(self.params))

    def strategy(self) -> tuple[type[ClearMLSearchStrategy], dict[str, Any]]:
        kwargs: dict[str, Any] = {"total_max_jobs": self.possible_runs()}
        if self.seed is not None:
            kwargs["seed"] = self.seed
        return RandomSearch, kwargs


@dataclasses.dataclass(kw_only=True)
class V1Hyperband(_Matrix, HyperbandSchedule):
    """``hyperband``: Polyaxon's brackets (:class:`HyperbandSchedule`'s methods:
    ``get_num_runs``, ``get_num_runs_to_keep_for_iteration``, ``create_iteration``, ...) run by
    :class:`~controller.strategies.Hyperband`; ``resource`` names the input that receives each
    run's resource, ``resume`` continues a promoted configuration's run."""

    _IDENTIFIER: ClassVar[str] = "hyperband"
    params: dict[str, V1HpParam] | None = None
    max_iterations: int | None = None  # type: ignore[assignment]
    eta: float | None = None  # type: ignore[assignment]
    resource: V1OptimizationResource | None = None
    metric: V1OptimizationMetric | None = None
    resume: bool | None = None
    seed: int | None = None
    tuner: V1Tuner | None = None

    def __post_init__(self) -> None:
        super().__post_init__()
        self.params = _read_params(self.params)
        self.max_iterations = optional(positive_int, self.max_iterations, "maxIterations")
        self.eta = optional(to_float, self.eta, "eta")
        if self.eta is not None and self.eta < 0:
            raise ValidationError(f"eta must be >= 0, got {self.eta}")
        if isinstance(self.resource, str):  # hpqueue's shorthand: the input's name, type int
            self.resource = V1OptimizationResource(name=self.resource, type="int")
        self.resource = optional(lambda v, _: V1OptimizationResource.coerce(v), self.resource,
                                 "resource")
        self.metric = optional(lambda v, _: V1OptimizationMetric.coerce(v), self.metric,
                               "metric")
        if self.resume is not None and not isinstance(self.resume, bool):
            raise ValidationError(f"resume must be a bool, got {self.resume!r}")
        self.seed = optional(to_int, self.seed, "seed")
        self.tuner = optional(lambda v, _: V1Tuner.coerce(v), self.tuner, "tuner")

    def possible_runs(self) -> int | None:
        if self.max_iterations is None or self.eta is None or self.eta <= 1:
            return None
        return sum(count for _, _, count, _ in HyperbandMath(self.max_iterations,
                                                             self.eta).schedule())

    def strategy(self) -> tuple[type[ClearMLSearchStrategy], dict[str, Any]]:
        if self.max_iterations is None:
            raise ValidationError("hyperband needs maxIterations")
        kwargs: dict[str, Any] = {
            "max_iterations": self.max_iterations, "eta": self.eta, "resume": self.resume,
            "seed": self.seed,
            "resource": None if self.resource is None else self.resource.to_dict(),
            "metric": None if self.metric is None else self.metric.to_dict()}
        return Hyperband, {k: v for k, v in kwargs.items() if v is not None}


@dataclasses.dataclass(kw_only=True)
class V1Bayes(_Matrix):
    """``bayes``: ``numInitialRuns`` random runs, then ``maxIterations`` Gaussian-process
    suggestions, each once every run ended (Polyaxon's waiting)."""

    _IDENTIFIER: ClassVar[str] = "bayes"
    utility_function: UtilityFunctionConfig | None = None
    num_initial_runs: int
    max_iterations: int
    metric: V1OptimizationMetric
    params: dict[str, V1HpParam]
    seed: int | None = None
    tuner: V1Tuner | None = None

    def __post_init__(self) -> None:
        super().__post_init__()
        self.utility_function = optional(lambda v, _: UtilityFunctionConfig.coerce(v),
                                         self.utility_function, "utilityFunction")
        self.num_initial_runs = positive_int(self.num_initial_runs, "numInitialRuns")
        self.max_iterations = positive_int(self.max_iterations, "maxIterations")
        self.metric = V1OptimizationMetric.coerce(self.metric)
        self.params = read_params(self.params)
        self.seed = optional(to_int, self.seed, "seed")
        self.tuner = optional(lambda v, _: V1Tuner.coerce(v), self.tuner, "tuner")
        _reject(self.params, lambda hp: not hp.is_distribution or hp.is_uniform,
                "defines a non uniform distribution, and it cannot be used with bayesian "
                "optimization")

    def possible_runs(self) -> int | None:
        return self.num_initial_runs + self.max_iterations

    def strategy(self) -> tuple[type[ClearMLSearchStrategy], dict[str, Any]]:
        kwargs: dict[str, Any] = {"num_initial_runs": self.num_initial_runs,
                                  "max_iterations": self.max_iterations,
                                  "wait_for_results": True}
        if self.utility_function is not None:
            kwargs["utility_function"] = self.utility_function.to_dict()
        if self.seed is not None:
            kwargs["seed"] = self.seed
        return BayesianGP, kwargs


@dataclasses.dataclass(kw_only=True)
class V1Hyperopt(_Matrix):
    """``hyperopt``: iterations of ``numRuns`` suggestions (tpe -> Optuna's TPE, rand ->
    random search)."""

    _IDENTIFIER: ClassVar[str] = "hyperopt"
    max_iterations: int | None = None
    metric: V1OptimizationMetric
    algorithm: str | None = None
    params: dict[str, V1HpParam]
    num_runs: int
    seed: int | None = None
    tuner: V1Tuner | None = None

    def __post_init__(self) -> None:
        super().__post_init__()
        self.max_iterations = optional(positive_int, self.max_iterations, "maxIterations")
        self.metric = V1OptimizationMetric.coerce(self.metric)
        if self.algorithm is not None:
            self.algorithm = str(self.algorithm).lower()
            if self.algorithm not in ("tpe", "rand", "anneal"):
                raise ValidationError(f"hyperopt algorithm must be tpe, rand or anneal, got "
                                      f"{self.algorithm!r}")
        self.params = read_params(self.params)
        self.num_runs = positive_int(self.num_runs, "numRuns")
        self.seed = optional(to_int, self.seed, "seed")
        self.tuner = optional(lambda v, _: V1Tuner.coerce(v), self.tuner, "tuner")
        _reject(self.params, lambda hp: hp.kind != "pchoice", "cannot be used with hyperopt")

    def possible_runs(self) -> int | None:
        return None if self.max_iterations is None else self.num_runs * (self.max_iterations + 1)

    def strategy(self) -> tuple[type[ClearMLSearchStrategy], dict[str, Any]]:
        kwargs: dict[str, Any] = {} if self.seed is None else {"seed": self.seed}
        if self.max_iterations is not None:
            kwargs["total_max_jobs"] = self.possible_runs()
        algorithm = self.algorithm or "tpe"
        if algorithm == "rand":
            return RandomSearch, kwargs
        if algorithm == "tpe":
            _reject(self.params, lambda hp: hp.kind in _TPE_KINDS,
                    "has no Optuna distribution: hyperopt's tpe cannot use it here "
                    "(algorithm 'rand' can)")
            from ..strategies.optuna_search import OptimizerOptuna

            return OptimizerOptuna, kwargs
        raise ValidationError("hyperopt algorithm 'anneal' is not supported (tpe -> Optuna's "
                              "TPE, rand -> RandomSearch)")


@dataclasses.dataclass(kw_only=True)
class V1Iterative(_Matrix):
    """``iterative``: the strategy class ``tuner.hubRef`` (``module:Class``) run in Polyaxon's
    iterations 0..``maxIterations``."""

    _IDENTIFIER: ClassVar[str] = "iterative"
    params: dict[str, V1HpParam] | None = None
    max_iterations: int
    seed: int | None = None
    tuner: V1Tuner | None = None

    def __post_init__(self) -> None:
        super().__post_init__()
        self.params = _read_params(self.params)
        self.max_iterations = positive_int(self.max_iterations, "maxIterations")
        self.seed = optional(to_int, self.seed, "seed")
        self.tuner = optional(lambda v, _: V1Tuner.coerce(v), self.tuner, "tuner")

    def strategy(self) -> tuple[type[ClearMLSearchStrategy], dict[str, Any]]:
        if self.tuner is None:
            raise ValidationError("iterative needs tuner.hubRef: a strategy class "
                                  "'module:Class' (Polyaxon's scheduler has no default one)")
        try:
            load_strategy_class(self.tuner.hub_ref)
        except ValueError as exc:
            raise ValidationError(str(exc)) from None
        kwargs: dict[str, Any] = {"tuner": self.tuner.hub_ref,
                                  "tuner_arguments": self.tuner.arguments(),
                                  "max_iterations": self.max_iterations}
        if self.seed is not None:
            kwargs["seed"] = self.seed
        return Iterative, kwargs


MATRIX_CLASSES: dict[str, type[_Matrix]] = {c._IDENTIFIER: c for c in (  # type: ignore[misc]
    V1Mapping, V1GridSearch, V1RandomSearch, V1Hyperband, V1Bayes, V1Hyperopt, V1Iterative)}
V1Matrix = (V1Mapping | V1GridSearch | V1RandomSearch | V1Hyperband | V1Bayes | V1Hyperopt
            | V1Iterative)


def read_matrix(matrix: Any) -> _Matrix:
    """A ``matrix`` section (dict with camelCase or snake_case keys, or a ``V1*`` instance).

    Raises:
        ValidationError: for a missing or unknown kind, or an invalid section.
    """
    if isinstance(matrix, _Matrix):
        return matrix
    if not isinstance(matrix, Mapping):
        raise ValidationError(f"matrix must be a dict, got {matrix!r}")
    kind = matrix.get("kind")
    if kind not in MATRIX_CLASSES:
        raise ValidationError(f"matrix kind must be one of {', '.join(MATRIX_CLASSES)}, got "
                              f"{kind!r}")
    return MATRIX_CLASSES[kind].from_dict(matrix)


def matrix_from_polyaxon(matrix: Any, objective: Objective | None = None) -> PolyaxonMatrix:
    """A ``matrix`` (dict or ``V1*`` instance) as a :class:`PolyaxonMatrix` (see
    :meth:`_Matrix.convert` and the module docstring).

    Raises:
        ValidationError: (a ValueError) see :func:`read_matrix` and :meth:`_Matrix.convert`.
    """
    return read_matrix(matrix).convert(objective)


def optimizer_from_polyaxon(matrix: Any, base_task_id: str,
                            objective_metric_title: str, objective_metric_series: str,
                            objective_metric_sign: str | None = None,
                            **kwargs: Any) -> HyperParameterOptimizer:
    """A :class:`HyperParameterOptimizer` for a ``matrix`` (dict or ``V1*`` instance, see
    :func:`matrix_from_polyaxon`).

    The sign defaults to ``metric.optimization`` (``min`` without a metric). ``kwargs`` are
    further optimizer arguments (``execution_queue``, ``store``, ...); they override the
    matrix's (``total_max_jobs``, ``max_number_of_concurrent_tasks``, ...).

    Raises:
        ValueError: see :func:`matrix_from_polyaxon` and :class:`HyperParameterOptimizer`.
    """
    section = read_matrix(matrix)
    metric = section.metric_section()
    sign = objective_metric_sign or (metric.sign if metric is not None else "min")
    objective = Objective(objective_metric_title, objective_metric_series, sign)
    return section.convert(objective).optimizer(base_task_id, objective, **kwargs)


__all__ = ["MATRIX_CLASSES", "GaussianProcessConfig", "PolyaxonMatrix", "UtilityFunctionConfig",
           "V1Bayes", "V1GridSearch", "V1Hyperband", "V1Hyperopt", "V1Iterative", "V1Mapping",
           "V1Matrix", "V1RandomSearch", "V1Tuner", "matrix_from_polyaxon",
           "optimizer_from_polyaxon", "read_matrix"]
