"""Polyaxon's ``earlyStopping`` entries and policies, and their hpqueue policies.

* ``V1FailureEarlyStopping(percent)`` -> :class:`~controller.stopping.FailureRate`: once
  ``percent`` % of the jobs created so far failed, every queued and running job is stopped and
  the optimization ends (Polyaxon's scheduler).
* ``V1MetricEarlyStopping(metric, value, optimization)`` without a policy ->
  :class:`~controller.stopping.MetricThreshold`: once any job reports ``value`` or better, every
  queued and running job is stopped and the optimization ends.
* with ``policy`` -> only the jobs the policy picks are stopped (``value`` is not used):
  ``V1MedianStoppingPolicy`` -> :class:`~controller.stopping.MedianStopping`,
  ``V1DiffStoppingPolicy`` -> :class:`~controller.stopping.DiffStopping`,
  ``V1TruncationStoppingPolicy`` -> :class:`~controller.stopping.TruncationStopping`
  (``evaluationInterval``, ``minInterval`` -> ``grace_iterations``, ``minSamples`` (default 3),
  ``percent``, ``includeSucceeded``). Polyaxon's open-source scheduler enforces no policy.

``metric`` names a scalar: the objective when it is the objective's name (its series, or
``title/series``), ``title/series`` as written, and any other bare name ``name`` the scalar of
title ``name`` and series ``name``, which :mod:`workers.tracking` reports for
``log_metrics(name=...)``. An entry without ``kind`` (as in the documentation's hyperband
example) is a metric entry when it names a ``metric``, else a failure entry.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping
from typing import Any, ClassVar

from ..stopping import build_policies
from .optimization import V1Optimization
from .schema import Schema, ValidationError, optional, positive_int, to_float, to_int


@dataclasses.dataclass(kw_only=True)
class _Policy(Schema):
    """The fields every policy shares."""

    evaluation_interval: int | None = None
    min_interval: int | None = None
    min_samples: int | None = None

    def __post_init__(self) -> None:
        self.evaluation_interval = optional(positive_int, self.evaluation_interval,
                                            "evaluationInterval")
        self.min_interval = optional(to_int, self.min_interval, "minInterval")
        self.min_samples = optional(positive_int, self.min_samples, "minSamples")

    def policy_arguments(self) -> dict[str, Any]:
        """The hpqueue policy's arguments (besides ``metric`` and ``optimization``)."""
        out = {"kind": self.kind, "grace_iterations": self.min_interval or 0,
               "evaluation_interval": self.evaluation_interval or 1}
        if self.min_samples is not None:
            out["min_samples"] = self.min_samples
        return out


@dataclasses.dataclass(kw_only=True)
class V1MedianStoppingPolicy(_Policy):
    """Stop the runs whose best value is worse than the median of all runs' best values."""

    _IDENTIFIER: ClassVar[str] = "median"


@dataclasses.dataclass(kw_only=True)
class V1DiffStoppingPolicy(_Policy):
    """Stop the runs worse than the best run by more than ``percent`` %."""

    _IDENTIFIER: ClassVar[str] = "diff"
    percent: float
    evaluation_interval: int | None = dataclasses.field()

    def __post_init__(self) -> None:
        super().__post_init__()
        self.percent = to_float(self.percent, "percent")

    def policy_arguments(self) -> dict[str, Any]:
        return {**super().policy_arguments(), "percent": self.percent}


@dataclasses.dataclass(kw_only=True)
class V1TruncationStoppingPolicy(_Policy):
    """Stop ``percent`` % of the running runs (the worst) at every evaluation."""

    _IDENTIFIER: ClassVar[str] = "truncation"
    percent: float
    evaluation_interval: int | None = dataclasses.field()
    include_succeeded: bool | None = None

    def __post_init__(self) -> None:
        super().__post_init__()
        self.percent = to_float(self.percent, "percent")
        if self.include_succeeded is not None and not isinstance(self.include_succeeded, bool):
            raise ValidationError(f"includeSucceeded must be a bool, got "
                                  f"{self.include_succeeded!r}")

    def policy_arguments(self) -> dict[str, Any]:
        return {**super().policy_arguments(), "percent": self.percent,
                "include_succeeded": bool(self.include_succeeded)}


_POLICIES: dict[str, type[_Policy]] = {c._IDENTIFIER: c for c in (  # type: ignore[misc]
    V1MedianStoppingPolicy, V1DiffStoppingPolicy, V1TruncationStoppingPolicy)}


def _read_policy(policy: Any) -> _Policy:
    if isinstance(policy, _Policy):
        return policy
    kind = policy.get("kind") if isinstance(policy, Mapping) else None
    if kind not in _POLICIES:
        raise ValidationError(f"policy kind must be one of {', '.join(_POLICIES)}, got {kind!r}")
    return _POLICIES[kind].from_dict(policy)


def _metric_name(metric: str, objective_names: set[str]) -> str | None:
    """The hpqueue metric of a Polyaxon metric name (None: the objective)."""
    if metric in objective_names:
        return None
    return metric if "/" in metric else f"{metric}/{metric}"


@dataclasses.dataclass(kw_only=True)
class V1MetricEarlyStopping(Schema):
    """Stop when a run's ``metric`` reaches ``value`` (or as ``policy`` decides)."""

    _IDENTIFIER: ClassVar[str] = "metric_early_stopping"
    metric: str
    value: float
    optimization: V1Optimization
    policy: _Policy | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.metric, str) or not self.metric:
            raise ValidationError(f"metric must be a non-empty string, got {self.metric!r}")
        self.value = to_float(self.value, "value")
        self.optimization = V1Optimization.parse(self.optimization)
        if self.policy is not None:
            self.policy = _read_policy(self.policy)

    def to_policy(self, objective_names: set[str]) -> dict[str, Any]:
        """The :func:`controller.stopping.build_policies` dict (see the module docstring)."""
        watched = {"metric": _metric_name(self.metric, objective_names),
                   "optimization": self.optimization.value}
        if self.policy is None:
            return {"kind": self.kind, "value": self.value, **watched}
        return {**self.policy.policy_arguments(), **watched}


@dataclasses.dataclass(kw_only=True)
class V1FailureEarlyStopping(Schema):
    """Stop everything once ``percent`` % of the runs failed."""

    _IDENTIFIER: ClassVar[str] = "failure_early_stopping"
    percent: float

    def __post_init__(self) -> None:
        self.percent = to_float(self.percent, "percent")

    def to_policy(self, objective_names: set[str]) -> dict[str, Any]:
        """The :func:`controller.stopping.build_policies` dict."""
        return {"kind": self.kind, "percent": self.percent}


V1EarlyStopping = V1MetricEarlyStopping | V1FailureEarlyStopping
_ENTRIES: dict[str, type[V1EarlyStopping]] = {
    "metric_early_stopping": V1MetricEarlyStopping,
    "failure_early_stopping": V1FailureEarlyStopping}


def read_early_stopping(entries: Any) -> list[V1EarlyStopping]:
    """``earlyStopping`` (dicts or instances) as instances (see the module docstring for a
    missing ``kind``).

    Raises:
        ValidationError: naming the entry (``earlyStopping[i]``).
    """
    if entries is None:
        return []
    if not isinstance(entries, (list, tuple)):
        raise ValidationError(f"earlyStopping must be a list, got {entries!r}")
    out: list[V1EarlyStopping] = []
    for i, entry in enumerate(entries):
        try:
            out.append(_read_entry(entry))
        except ValidationError as exc:
            raise ValidationError(f"earlyStopping[{i}]: {exc}") from None
    return out


def _read_entry(entry: Any) -> V1EarlyStopping:
    if isinstance(entry, (V1MetricEarlyStopping, V1FailureEarlyStopping)):
        return entry
    if not isinstance(entry, Mapping):
        raise ValidationError(f"an entry must be a dict, got {entry!r}")
    kind = entry.get("kind")
    if kind is None:
        kind = "metric_early_stopping" if "metric" in entry else "failure_early_stopping"
    if kind not in _ENTRIES:
        raise ValidationError(f"kind must be failure_early_stopping or metric_early_stopping, "
                              f"got {kind!r}")
    return _ENTRIES[kind].from_dict({**entry, "kind": kind})


def early_stopping_from_polyaxon(entries: Iterable[Any] | None,
                                 objective_names: Iterable[str] = ()) -> list[dict[str, Any]]:
    """Polyaxon's ``earlyStopping`` list as :func:`controller.stopping.build_policies` dicts
    (see the module docstring); ``objective_names`` are the names that mean the objective.

    Raises:
        ValidationError: naming the entry: unknown kind or field, or an invalid value.
    """
    names = set(objective_names)
    out = [entry.to_policy(names) for entry in read_early_stopping(entries)]
    try:
        build_policies(out)
    except (TypeError, ValueError) as exc:
        raise ValidationError(f"earlyStopping: {exc}") from None
    return out
