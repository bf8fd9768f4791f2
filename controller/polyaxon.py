"""Polyaxon's ``matrix`` section: its param generators as Parameters, its kinds as strategies.

:func:`parameters_from_polyaxon` turns ``params: {name: {kind, value}}`` into Parameters (a name
without a section gets ``General/``); :func:`matrix_from_polyaxon` turns a whole ``matrix`` into
the arguments of a :class:`~controller.optimizer.HyperParameterOptimizer`;
:func:`optimizer_from_polyaxon` builds the optimizer. Keys may be camelCase (``numRuns``, as in a
polyaxonfile) or snake_case (``num_runs``).

Param kinds (each accepts a list, a dict with Polyaxon's field names, or an ``"a:b:c"`` string,
except choice and pchoice, lists only, and the date kinds, lists or dicts):

===============  ===========================================  ===================================
Polyaxon kind    value                                        hpqueue parameter
===============  ===========================================  ===================================
choice           ``[v1, v2, ...]``                            DiscreteParameterRange
pchoice          ``[[v1, p1], [v2, p2], ...]``                :class:`PChoiceParameter`
range            ``[start, stop, step]`` (stop exclusive)     DiscreteParameterRange of the values
linspace         ``[start, stop, num]``                       DiscreteParameterRange of the values
logspace         ``[start, stop, num]`` or ``+ [base]``       DiscreteParameterRange of the values
geomspace        ``[start, stop, num]``                       DiscreteParameterRange of the values
daterange        ``["2019-06-22", "2019-07-25", days]``       DiscreteParameterRange of ISO dates
datetimerange    ``["2019-06-22 21:00", ..., seconds]``       DiscreteParameterRange of ISO times
uniform          ``[low, high]``                              UniformParameterRange
quniform         ``[low, high, q]``                           :class:`QUniformParameter`
loguniform       ``[low, high]`` (exponents, base e)          LogUniformParameterRange(base=e)
qloguniform      ``[low, high, q]``                           :class:`QUniformParameter` (log)
normal           ``[loc, scale]``                             :class:`NormalParameter`
qnormal          ``[loc, scale, q]``                          :class:`NormalParameter` (q)
lognormal        ``[loc, scale]``                             :class:`NormalParameter` (log)
qlognormal       ``[loc, scale, q]``                          :class:`NormalParameter` (log, q)
===============  ===========================================  ===================================

Generated values are plain Python numbers: ``range`` gives ints when start, stop and step are
all integers, and is computed in decimal arithmetic, so ``stop`` is never a value (numpy's
``arange(1, 1.3, 0.1)`` yields 1.3000000000000003); the spaces are numpy's, rounded to 12
significant digits (0.3, not 0.30000000000000004). JSON has no dates: the date kinds give ISO
strings (``"2019-06-22"``, ``"2019-06-22T21:00:00"``). The distributions sample with Polyaxon's
formulas (hypertune ``matrix/dist.py``), including its quantisation ``round(x // q) * q``, which
floors to a multiple of ``q`` (Polyaxon's documentation says ``round(x / q) * q``; its code
floors). Polyaxon's optional ``size`` must be absent or 1 (a trial takes one value), and
``{{ ref }}`` templates are not resolved.

Validation, as Polyaxon's (ValueError naming the parameter): too few or too many elements, ``start
>= stop`` for range, the spaces and the date kinds, a zero ``step``/``num``/``q``, pchoice
probabilities outside [0, 1] or summing to more than 1.

Matrix kinds:

=========  ==========================================================================
mapping    :class:`~controller.strategies.Mapping` with ``values``
grid       :class:`~controller.strategies.GridSearch`; ``numRuns`` -> ``total_max_jobs``;
           a distribution is rejected ("cannot be used with grid search")
random     :class:`~controller.strategies.RandomSearch`; ``numRuns`` (required) ->
           ``total_max_jobs``; ``seed``
hyperband  :class:`~controller.strategies.Hyperband` (:meth:`Hyperband.polyaxon_kwargs`)
bayes      :class:`~controller.strategies.BayesianGP` (``numInitialRuns``, ``maxIterations``,
           ``utilityFunction``, ``seed``); a distribution other than uniform is rejected
hyperopt   ``algorithm: tpe`` (the default) -> ``OptimizerOptuna`` (Optuna's TPE), ``rand`` ->
           RandomSearch; ``total_max_jobs = numRuns * (maxIterations + 1)`` (Polyaxon runs
           iterations 0..maxIterations of ``numRuns`` suggestions each; unbounded without
           ``maxIterations``, as Polyaxon); pchoice is rejected (as Polyaxon), and so are the
           distributions Optuna has no equivalent of (quniform, qloguniform, the normals) for tpe;
           ``anneal`` is not supported
iterative  not supported (Polyaxon's scheduler never implemented it): write a SearchStrategy
=========  ==========================================================================

Every kind: ``concurrency`` -> ``max_number_of_concurrent_tasks`` (unset: the optimizer's
default, 10; Polyaxon: unlimited), ``earlyStopping`` -> ``early_stopping`` (see
:func:`early_stopping_from_polyaxon`), ``metric.optimization`` -> the objective's sign. ``tuner``
(the container image that computes Polyaxon's suggestions) is accepted and ignored.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import ROUND_CEILING, Decimal
from typing import Any

import numpy as np

from workers.task import normalize_parameters

from .objective import Objective
from .optimizer import HyperParameterOptimizer
from .parameters import (
    DiscreteParameterRange,
    LogUniformParameterRange,
    NormalParameter,
    Parameter,
    PChoiceParameter,
    QUniformParameter,
    UniformParameterRange,
    check_number,
)
from .stopping import build_policies
from .strategies.bayes_gp import BayesianGP
from .strategies.clearml_compat import ClearMLSearchStrategy
from .strategies.grid_random import GridSearch, RandomSearch
from .strategies.hyperband import Hyperband, _metric_order
from .strategies.mapping import Mapping as MappingStrategy

#: Largest number of values a range or space may generate.
_MAX_VALUES = 1_000_000


# ============================================================ params
#: kind -> (required fields, optional fields), in Polyaxon's list order.
_FIELDS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "range": (("start", "stop", "step"), ()),
    "linspace": (("start", "stop", "num"), ()),
    "logspace": (("start", "stop", "num"), ("base",)),
    "geomspace": (("start", "stop", "num"), ()),
    "daterange": (("start", "stop", "step"), ()),
    "datetimerange": (("start", "stop", "step"), ()),
    "uniform": (("low", "high"), ("size",)),
    "quniform": (("low", "high", "q"), ("size",)),
    "loguniform": (("low", "high"), ("size",)),
    "qloguniform": (("low", "high", "q"), ("size",)),
    "normal": (("loc", "scale"), ("size",)),
    "qnormal": (("loc", "scale", "q"), ("size",)),
    "lognormal": (("loc", "scale"), ("size",)),
    "qlognormal": (("loc", "scale", "q"), ("size",)),
}
_DATE_KINDS = {"daterange", "datetimerange"}
_ORDERED_KINDS = {"range", "linspace", "logspace", "geomspace", *_DATE_KINDS}
#: Polyaxon's ``is_distribution`` kinds.
DISTRIBUTIONS = frozenset({"pchoice", "uniform", "quniform", "loguniform", "qloguniform",
                           "normal", "qnormal", "lognormal", "qlognormal"})
#: The kinds hyperopt's TPE can take here (those Optuna has a distribution for).
_TPE_KINDS = frozenset({"choice", "range", "linspace", "logspace", "geomspace", "daterange",
                        "datetimerange", "uniform", "loguniform"})


def _string_number(name: str, text: str) -> int | float:
    text = text.strip()
    try:
        return int(text)
    except ValueError:
        try:
            return float(text)
        except ValueError:
            raise ValueError(f"{name}: {text!r} is not a number") from None


def _fields(name: str, kind: str, value: Any) -> dict[str, Any]:
    """Polyaxon's list, dict or ``"a:b:c"`` form of a range or distribution as a dict, with
    Polyaxon's ``_validate_range`` checks (element count, order, non-zero third element)."""
    required, optional = _FIELDS[kind]
    keys = required + optional
    if isinstance(value, str):
        if kind in _DATE_KINDS or ":" not in value:
            raise ValueError(f"{name}: {kind} does not accept the string {value!r}; give a list"
                             + ("" if kind in _DATE_KINDS else " or 'a:b:c'"))
        value = [_string_number(name, part) for part in value.split(":")]
    if isinstance(value, Mapping):
        unknown = sorted(set(value) - set(keys))
        missing = [k for k in required if k not in value]
        if unknown or missing:
            raise ValueError(f"{name}: {kind} expects the fields {', '.join(keys)}; "
                             + (f"unknown: {', '.join(map(str, unknown))}" if unknown
                                else f"missing: {', '.join(missing)}"))
        out = dict(value)
    elif isinstance(value, (list, tuple)):
        if not len(required) <= len(value) <= len(keys):
            raise ValueError(f"{name}: {kind} expects a list of {len(required)}"
                             + (f" or {len(keys)}" if optional else "")
                             + f" elements ({', '.join(keys)}), got {len(value)}")
        out = dict(zip(keys, value))
    else:
        raise ValueError(f"{name}: {kind} expects a list or a dict, got {value!r}")
    out = {k: v.item() if isinstance(v, np.generic) else v for k, v in out.items()}
    if out.get("size") not in (None, 1):
        raise ValueError(f"{name}: size {out['size']!r} is not supported (a trial takes one value)")
    out.pop("size", None)
    if kind not in _DATE_KINDS:
        for key, v in out.items():
            if v is not None or key in required:
                check_number(v, f"{name}: {kind} {key}")
    if kind in _ORDERED_KINDS and kind not in _DATE_KINDS and out["start"] >= out["stop"]:
        raise ValueError(f"{name}: {kind} stop must be greater than start, got start "
                         f"{out['start']}, stop {out['stop']}")
    if len(required) == 3 and not out[required[2]]:
        raise ValueError(f"{name}: {kind} {required[2]} cannot be 0")
    return out


def _plain(value: Any) -> int | float:
    """A numpy number as a Python one, floats rounded to 12 significant digits."""
    number = value.item() if isinstance(value, np.generic) else value
    if isinstance(number, float):
        if not math.isfinite(number):
            raise ValueError(f"generates a non-finite value ({number})")
        return float(f"{number:.12g}")
    return number


def _count(name: str, kind: str, n: int) -> int:
    if n < 1:
        raise ValueError(f"{name}: {kind} generates no values")
    if n > _MAX_VALUES:
        raise ValueError(f"{name}: {kind} generates {n} values, more than {_MAX_VALUES}")
    return n


def _num(name: str, kind: str, num: Any) -> int:
    if num != int(num):
        raise ValueError(f"{name}: {kind} num must be an integer, got {num!r}")
    return _count(name, kind, int(num))


def _arange(name: str, f: dict[str, Any]) -> list[int | float]:
    """``range``: start, start + step, ... below stop, in decimal arithmetic."""
    start, stop, step = (Decimal(repr(f[k])) for k in ("start", "stop", "step"))
    n = _count(name, "range", int(((stop - start) / step).to_integral_value(ROUND_CEILING)))
    integer = all(isinstance(f[k], int) for k in ("start", "stop", "step"))
    return [int(start + i * step) if integer else float(start + i * step) for i in range(n)]


def _space(name: str, kind: str, f: dict[str, Any]) -> list[int | float]:
    """``linspace``, ``logspace`` or ``geomspace``: numpy's values as plain numbers."""
    num = _num(name, kind, f["num"])
    try:
        with np.errstate(all="ignore"):  # a non-finite value is reported below
            if kind == "linspace":
                values = np.linspace(f["start"], f["stop"], num)
            elif kind == "logspace":
                values = np.logspace(f["start"], f["stop"], num, base=f.get("base") or 10)
            else:
                values = np.geomspace(f["start"], f["stop"], num)
        return [_plain(v) for v in values]
    except ValueError as exc:
        raise ValueError(f"{name}: {kind} {exc}") from None


def _date_range(name: str, kind: str, f: dict[str, Any]) -> list[str]:
    """``daterange`` (step in days) or ``datetimerange`` (step in seconds) as ISO strings."""
    parse: Callable[[str], date] = (date.fromisoformat if kind == "daterange"
                                    else datetime.fromisoformat)
    try:
        start, stop = (v if isinstance(v, date) else parse(v)
                       for v in (f["start"], f["stop"]))
        step = timedelta(**{"days" if kind == "daterange" else "seconds":
                            check_number(f["step"], f"{name}: {kind} step")})
        if start >= stop:
            raise ValueError(f"stop must be after start, got start {start}, stop {stop}")
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{name}: {kind} {exc}") from None
    if step <= timedelta(0):
        raise ValueError(f"{name}: {kind} step must be > 0, got {f['step']!r}")
    n = _count(name, kind, math.ceil((stop - start) / step))
    return [(start + i * step).isoformat() for i in range(n)]


def _parameter(name: str, kind: str, value: Any) -> Parameter:
    """One Polyaxon param as a Parameter (see the module docstring's table)."""
    if kind == "choice":
        if not isinstance(value, (list, tuple)) or not value:
            raise ValueError(f"{name}: choice expects a non-empty list, got {value!r}")
        return DiscreteParameterRange(name, list(value))
    if kind == "pchoice":
        return PChoiceParameter(name, value)
    f = _fields(name, kind, value)
    if kind == "range":
        return DiscreteParameterRange(name, _arange(name, f))
    if kind in ("linspace", "logspace", "geomspace"):
        return DiscreteParameterRange(name, _space(name, kind, f))
    if kind in _DATE_KINDS:
        return DiscreteParameterRange(name, _date_range(name, kind, f))
    if kind == "uniform":
        return UniformParameterRange(name, f["low"], f["high"])
    if kind == "loguniform":
        return LogUniformParameterRange(name, f["low"], f["high"], base=math.e)
    if kind in ("quniform", "qloguniform"):
        return QUniformParameter(name, f["low"], f["high"], f["q"], log=kind == "qloguniform")
    return NormalParameter(name, f["loc"], f["scale"], f.get("q"), log="lognormal" in kind)


def _parse_params(params: Any) -> list[tuple[str, Parameter]]:
    """``(kind, parameter)`` of each entry of Polyaxon's ``params``, in order."""
    if not isinstance(params, Mapping):
        raise ValueError(f"params must be a dict of {{name: {{kind, value}}}}, got {params!r}")
    out = []
    for key, spec in params.items():
        name = next(iter(normalize_parameters({key: None}, "params")))
        if not isinstance(spec, Mapping) or set(spec) != {"kind", "value"}:
            raise ValueError(f"{name}: a param is {{'kind': ..., 'value': ...}}, got {spec!r}")
        kind = spec["kind"]
        if kind != "choice" and kind != "pchoice" and kind not in _FIELDS:
            raise ValueError(f"{name}: unknown param kind {kind!r}; known: "
                             f"{', '.join(['choice', 'pchoice', *_FIELDS])}")
        out.append((kind, _parameter(name, kind, spec["value"])))
    return out


def parameters_from_polyaxon(params: Mapping[str, Mapping[str, Any]]) -> list[Parameter]:
    """Polyaxon's ``params: {name: {kind, value}}`` as Parameters, in order (see the module
    docstring for the kinds, their forms and values); ``General/`` is added to a name without a
    section.

    Raises:
        ValueError: naming the parameter, for an unknown kind or an invalid value.
    """
    return [parameter for _, parameter in _parse_params(params)]


# ============================================================ matrix
_KEYS: dict[str, frozenset[str]] = {
    "mapping": frozenset({"values", "concurrency", "early_stopping"}),
    "grid": frozenset({"params", "num_runs", "concurrency", "early_stopping"}),
    "random": frozenset({"params", "num_runs", "seed", "concurrency", "early_stopping"}),
    "hyperband": frozenset({"params", "max_iterations", "eta", "resource", "metric", "resume",
                            "seed", "concurrency", "tuner", "early_stopping"}),
    "bayes": frozenset({"params", "utility_function", "num_initial_runs", "max_iterations",
                        "metric", "seed", "concurrency", "tuner", "early_stopping"}),
    "hyperopt": frozenset({"params", "algorithm", "num_runs", "max_iterations", "metric", "seed",
                           "concurrency", "tuner", "early_stopping"}),
}
_REQUIRED: dict[str, tuple[str, ...]] = {
    "mapping": ("values",), "grid": ("params",), "random": ("params", "num_runs"),
    "hyperband": (), "bayes": ("params", "num_initial_runs", "max_iterations", "metric"),
    "hyperopt": ("params", "num_runs", "metric"),
}
#: Keys every kind handles here rather than in the strategy.
_COMMON = frozenset({"params", "concurrency", "early_stopping", "tuner", "metric"})


def _snake(section: Mapping[str, Any], where: str) -> dict[str, Any]:
    """``section`` with snake_case keys; ValueError for a key given in both spellings."""
    if not isinstance(section, Mapping):
        raise ValueError(f"{where} must be a dict, got {section!r}")
    out: dict[str, Any] = {}
    for key, value in section.items():
        name = re.sub(r"(?<=[a-z0-9])([A-Z])", r"_\1", str(key)).lower()
        if name in out:
            raise ValueError(f"{where}: {name} is given twice (camelCase and snake_case)")
        out[name] = value
    return out


def _camel(key: str) -> str:
    """Polyaxon's spelling of a snake_case key (for messages)."""
    return re.sub(r"_([a-z])", lambda m: m.group(1).upper(), key)


def _positive_int(where: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{where} must be a positive integer, got {value!r}")
    return value


@dataclass
class PolyaxonMatrix:
    """A converted Polyaxon ``matrix``: what a :class:`HyperParameterOptimizer` needs besides the
    base task and the objective.

    ``optimizer_kwargs`` holds the strategy's arguments and the loop's (``total_max_jobs``,
    ``seed``), which every ``optimizer_class`` takes (each is a :class:`ClearMLSearchStrategy`);
    ``max_number_of_concurrent_tasks`` is None when the matrix sets no ``concurrency``;
    ``early_stopping`` holds :func:`controller.stopping.build_policies` dicts; ``sign`` is
    ``"min"``/``"max"`` from ``metric.optimization`` (None without a metric).
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

    def build_strategy(self, **kwargs: Any) -> ClearMLSearchStrategy:
        """The strategy alone (e.g. for :func:`controller.simulate.simulate`); ``kwargs``
        (``objective_metric``, ...) go to its constructor too."""
        return self.optimizer_class(hyper_parameters=self.hyper_parameters,
                                    **{**self.optimizer_kwargs, **kwargs})


def early_stopping_from_polyaxon(entries: Iterable[Mapping[str, Any]] | None,
                                 objective_names: Iterable[str] = ()) -> list[dict[str, Any]]:
    """Polyaxon's ``earlyStopping`` list as :func:`controller.stopping.build_policies` dicts.

    * ``{kind: failure_early_stopping, percent}`` -> :class:`~controller.stopping.FailureRate`.
    * ``{kind: metric_early_stopping, metric, value, optimization}`` ->
      :class:`~controller.stopping.MetricThreshold` (any job reaching ``value`` ends the
      optimization, as Polyaxon's scheduler does).
    * with ``policy: {kind: median, evaluationInterval, minInterval, minSamples}`` ->
      :class:`~controller.stopping.MedianStopping` on the objective (``minInterval`` ->
      ``grace_iterations``, ``minSamples`` -> ``min_samples``; every report is evaluated, so
      ``evaluationInterval`` has no effect). Polyaxon's open-source scheduler enforces no policy;
      ``truncation`` and ``diff`` are not supported.

    ``metric`` is ``"title/series"``; a bare name (Polyaxon's form) is accepted when it is one
    of ``objective_names`` and then means the objective.

    Raises:
        ValueError: naming the entry: unknown kind or field, an unsupported policy, a bare metric
            name that is not the objective's, or an invalid value.
    """
    names = set(objective_names)
    out: list[dict[str, Any]] = []
    for i, raw in enumerate(entries or ()):
        where = f"earlyStopping[{i}]"
        entry = _snake(raw, where)
        kind = entry.pop("kind", None)
        fields = {"failure_early_stopping": {"percent"},
                  "metric_early_stopping": {"metric", "value", "optimization", "policy"}}
        if kind not in fields:
            raise ValueError(f"{where}: kind must be failure_early_stopping or "
                             f"metric_early_stopping, got {kind!r}")
        unknown = sorted(set(entry) - fields[kind])
        if unknown:
            raise ValueError(f"{where}: unknown field(s) {', '.join(unknown)}")
        if kind == "failure_early_stopping":
            out.append({"kind": kind, **entry})
            continue
        metric = entry.get("metric")
        if metric in names:
            metric = None
        elif not (isinstance(metric, str) and "/" in metric):
            raise ValueError(f"{where}: metric {metric!r} must be 'title/series' (a bare name is "
                             f"accepted only for the objective: {sorted(names) or 'none given'})")
        policy = entry.get("policy")
        if policy is None:
            out.append({"kind": kind, "value": entry.get("value"), "metric": metric,
                        "optimization": entry.get("optimization")})
            continue
        policy = _snake(policy, f"{where}.policy")
        if policy.pop("kind", None) != "median":
            raise ValueError(f"{where}.policy: only the median policy is supported")
        unknown = sorted(set(policy) - {"evaluation_interval", "min_interval", "min_samples"})
        if unknown:
            raise ValueError(f"{where}.policy: unknown field(s) {', '.join(unknown)}")
        if metric is not None:
            raise ValueError(f"{where}: the median policy watches the objective, not {metric!r}")
        median: dict[str, Any] = {"kind": "median",
                                  "grace_iterations": policy.get("min_interval") or 0}
        if policy.get("min_samples") is not None:
            median["min_samples"] = policy["min_samples"]
        out.append(median)
    try:
        build_policies(out)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"earlyStopping: {exc}") from None
    return out


def _reject_kinds(kinds: Sequence[tuple[str, Parameter]], allowed: Callable[[str], bool],
                  why: str) -> None:
    for kind, parameter in kinds:
        if not allowed(kind):
            raise ValueError(f"{parameter.name}: {kind} {why}")


def matrix_from_polyaxon(matrix: Mapping[str, Any],
                         objective: Objective | None = None) -> PolyaxonMatrix:
    """A Polyaxon ``matrix`` section (camelCase or snake_case keys) as a
    :class:`PolyaxonMatrix` (see the module docstring for each kind).

    ``objective``, when given, must agree with ``metric.optimization``, and its series (or
    ``"title/series"``) may name the objective in ``earlyStopping`` (so may ``metric.name``).

    Raises:
        ValueError: for a missing, unknown or unsupported kind (iterative; hyperopt's anneal), an
            unknown or missing key, a param not allowed by the kind, an invalid param, count or
            early-stopping entry, or a ``metric.optimization`` that contradicts ``objective``.
    """
    config = _snake(matrix, "matrix")
    kind = config.pop("kind", None)
    if kind == "iterative":
        raise ValueError("matrix kind 'iterative' is not supported (Polyaxon's scheduler never "
                         "implemented it): write a SearchStrategy instead")
    if kind not in _KEYS:
        raise ValueError(f"matrix kind must be one of {', '.join(_KEYS)}, got {kind!r}")
    unknown = sorted(set(config) - _KEYS[kind])
    missing = [k for k in _REQUIRED[kind] if config.get(k) is None]
    if unknown or missing:
        raise ValueError(f"matrix kind {kind!r}: "
                         + (f"unknown key(s) {', '.join(map(_camel, unknown))}" if unknown
                            else f"missing key(s) {', '.join(map(_camel, missing))}"))
    metric = config.get("metric")
    sign = _metric_order(metric)
    if objective is not None and metric and sign is not None and sign != objective.order:
        raise ValueError(f"metric optimization ({metric['optimization']}) contradicts the "
                         f"objective's sign ({objective.sign})")
    names = {metric["name"]} if metric and "name" in metric else set()
    if objective is not None:
        names |= {objective.series, f"{objective.title}/{objective.series}"}
    params = _parse_params(config["params"]) if config.get("params") is not None else []
    own = {k: v for k, v in config.items() if k not in _COMMON and v is not None}
    kwargs: dict[str, Any]
    cls: type[ClearMLSearchStrategy]
    if kind == "mapping":
        cls, kwargs = MappingStrategy, own
    elif kind == "grid":
        _reject_kinds(params, lambda k: k not in DISTRIBUTIONS,
                      "is a distribution and cannot be used with grid search")
        cls, kwargs = GridSearch, {}
        if "num_runs" in own:
            kwargs["total_max_jobs"] = _positive_int("numRuns", own["num_runs"])
    elif kind == "random":
        cls = RandomSearch
        kwargs = {"total_max_jobs": _positive_int("numRuns", own.pop("num_runs")), **own}
    elif kind == "hyperband":
        cls, kwargs = Hyperband, Hyperband.polyaxon_kwargs({**own, "metric": metric})
    elif kind == "bayes":
        _reject_kinds(params, lambda k: k not in DISTRIBUTIONS or k == "uniform",
                      "defines a non uniform distribution, and it cannot be used with bayesian "
                      "optimization")
        cls, kwargs = BayesianGP, own
    else:
        cls, kwargs = _hyperopt(own, params)
    concurrency = config.get("concurrency")
    return PolyaxonMatrix(
        kind=kind, optimizer_class=cls, hyper_parameters=[p for _, p in params],
        optimizer_kwargs=kwargs,
        max_number_of_concurrent_tasks=(None if concurrency is None
                                        else _positive_int("concurrency", concurrency)),
        early_stopping=early_stopping_from_polyaxon(config.get("early_stopping"), names),
        sign=sign)


def _hyperopt(own: dict[str, Any], params: Sequence[tuple[str, Parameter]]
              ) -> tuple[type[ClearMLSearchStrategy], dict[str, Any]]:
    """Strategy and arguments of a hyperopt matrix (``own``: its keys besides the common ones)."""
    algorithm = str(own.pop("algorithm", "tpe")).lower()
    _reject_kinds(params, lambda k: k != "pchoice", "cannot be used with hyperopt")
    num_runs = _positive_int("numRuns", own.pop("num_runs"))
    max_iterations = own.pop("max_iterations", None)
    if max_iterations is not None:
        own["total_max_jobs"] = num_runs * (_positive_int("maxIterations", max_iterations) + 1)
    if algorithm == "rand":
        return RandomSearch, own
    if algorithm == "tpe":
        _reject_kinds(params, lambda k: k in _TPE_KINDS,
                      "has no Optuna distribution: hyperopt's tpe cannot use it here "
                      "(algorithm 'rand' can)")
        from .strategies.optuna_search import OptimizerOptuna

        return OptimizerOptuna, own
    raise ValueError(f"hyperopt algorithm {algorithm!r} is not supported (tpe -> Optuna's TPE, "
                     f"rand -> RandomSearch)")


def optimizer_from_polyaxon(matrix: Mapping[str, Any], base_task_id: str,
                            objective_metric_title: str, objective_metric_series: str,
                            objective_metric_sign: str | None = None,
                            **kwargs: Any) -> HyperParameterOptimizer:
    """A :class:`HyperParameterOptimizer` for a Polyaxon ``matrix`` (see
    :func:`matrix_from_polyaxon`).

    The sign defaults to ``metric.optimization`` (``min`` without a metric). ``kwargs`` are
    further optimizer arguments (``execution_queue``, ``store``, ...); they override the
    matrix's (``total_max_jobs``, ``max_number_of_concurrent_tasks``, ...).

    Raises:
        ValueError: see :func:`matrix_from_polyaxon` and :class:`HyperParameterOptimizer`.
    """
    sign = objective_metric_sign or _metric_order(_snake(matrix, "matrix").get("metric")) or "min"
    objective = Objective(objective_metric_title, objective_metric_series, sign)
    converted = matrix_from_polyaxon(matrix, objective)
    return HyperParameterOptimizer(base_task_id, objective_metric_title=objective_metric_title,
                                   objective_metric_series=objective_metric_series,
                                   objective_metric_sign=sign,
                                   **{**converted.optimizer_arguments(), **kwargs})
