"""Hyper-parameter ranges, ClearML-compatible.

One rule for sampling and for the grid: a stepped range has a finite list of points
(:meth:`Parameter.to_list`), and :meth:`Parameter.get_value` draws uniformly from that very list.
Points never leave ``[min_value, max_value]``; ``include_max_value`` decides whether
``max_value`` itself is a point (added even when it is off the step grid, as ClearML does);
stepped values are rounded to the step's precision (0.3, not 0.30000000000000004).

Unlike ClearML, randomness comes from the generator the caller passes (each optimizer has its own
seed) rather than from one process-wide ``Random(1337)``.

Besides ClearML's ranges, Polyaxon's distributions (:class:`PChoiceParameter`,
:class:`QUniformParameter`, :class:`NormalParameter`; :mod:`controller.polyaxon` converts a
``matrix`` into them). Each class says how the models see it in :meth:`Parameter.dimension`
(:mod:`controller.space`); nothing else looks at parameter classes.
"""

from __future__ import annotations

import itertools
import math
from abc import ABC, abstractmethod
from collections.abc import Iterable, Mapping, Sequence
from decimal import Decimal
from typing import Any, TypeGuard, TypeVar

import numpy as np

from .space import Combinations, Dimension, Interval, Points

_CONTINUOUS_GRID_POINTS = 100
#: Tolerance of the pchoice probability sum (0.7 + 0.2 + 0.1 is 0.9999999999999999 or more).
_PROBABILITY_SLACK = 1e-9


def _decimals(*numbers: float) -> int:
    """Decimal places needed to write each of ``numbers`` exactly as typed."""
    places = 0
    for n in numbers:
        exponent = Decimal(repr(float(n))).normalize().as_tuple().exponent
        if isinstance(exponent, int):
            places = max(places, -exponent)
    return min(places, 15)


def _rng(rng: np.random.Generator | None) -> np.random.Generator:
    return rng if rng is not None else np.random.default_rng()


def _check_name(name: Any) -> str:
    if not isinstance(name, str) or not name:
        raise ValueError(f"parameter name must be a non-empty string like 'General/lr', got {name!r}")
    return name


def check_number(value: Any, what: str) -> float:
    """``value`` as a float if it is a finite number (not a bool); ValueError naming ``what``."""
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise ValueError(f"{what} must be a number, got {value!r}")
    if not math.isfinite(value):
        raise ValueError(f"{what} must be finite, got {value!r}")
    return float(value)


class RandomSeed:
    """ClearML's global seed for sampling: :meth:`set_random_seed` makes every strategy built
    afterwards without a ``seed`` of its own use it. Until it is called :meth:`get_random_seed`
    is None and each strategy draws its own seed (ClearML starts every process at 1337)."""

    _seed: int | None = None

    @staticmethod
    def set_random_seed(seed: int = 1337) -> None:
        """The seed of every strategy built from now on without its own ``seed``."""
        RandomSeed._seed = int(seed)

    @staticmethod
    def get_random_seed() -> int | None:
        """The seed :meth:`set_random_seed` set, or None."""
        return RandomSeed._seed


class Parameter(RandomSeed, ABC):
    """A searchable hyper-parameter: a named range of values.

    ``name`` is the full ``"Section/name"`` key of the task parameter it sets
    (``ParameterSet`` has ``name`` None: it sets several).
    """

    name: str | None

    @abstractmethod
    def get_value(self, rng: np.random.Generator | None = None) -> dict[str, Any]:
        """One random sample: ``{name: value}``."""

    @abstractmethod
    def to_list(self) -> list[dict[str, Any]]:
        """Every grid point, in order: ``[{name: value}, ...]``."""

    @abstractmethod
    def contains(self, values: Mapping[str, Any]) -> bool:
        """True if the values this parameter sets in ``values`` are inside its range."""

    def names(self) -> list[str]:
        """The task parameter names this parameter sets."""
        return [self.name] if self.name else []

    def dimension(self) -> Dimension | None:
        """How the models see this parameter (see :mod:`controller.space`); None if they cannot
        represent it (they sample it, or reject it). Override it in a parameter class of your own
        to make it modelled."""
        return None

    def is_finite(self) -> bool:
        """True if :meth:`to_list` lists every value :meth:`get_value` can draw (its dimension
        is finite)."""
        dimension = self.dimension()
        return dimension is not None and dimension.finite

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly description; :func:`Parameter.from_dict` rebuilds the parameter."""
        out: dict[str, Any] = {"type": type(self).__name__}
        for key, value in self.__dict__.items():
            if key.startswith("_"):
                continue
            out[key] = value
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Parameter:
        """Inverse of :meth:`to_dict`; ValueError for an unknown ``type``."""
        data = dict(data)
        kind = data.pop("type", None)
        if kind not in _PARAMETER_CLASSES:
            raise ValueError(f"unknown parameter type {kind!r}; known: "
                             f"{sorted(_PARAMETER_CLASSES)}")
        return _PARAMETER_CLASSES[kind]._from_fields(data)

    @classmethod
    def _from_fields(cls, data: dict[str, Any]) -> Parameter:
        return cls(**data)

    def __repr__(self) -> str:
        fields = ", ".join(f"{k}={v!r}" for k, v in self.to_dict().items() if k != "type")
        return f"{type(self).__name__}({fields})"

    def __eq__(self, other: object) -> bool:
        return type(self) is type(other) and self.to_dict() == other.to_dict()  # type: ignore


class _SteppedRange(Parameter):
    """Shared logic of the numeric ranges: a finite point list, or a continuous interval."""

    name: str
    min_value: float
    max_value: float
    step_size: float | None
    include_max: bool

    def _points(self) -> list[float]:
        lo, hi = self.min_value, self.max_value
        step = self.step_size or (hi - lo) / _CONTINUOUS_GRID_POINTS
        if step <= 0 or hi == lo:
            return [lo]
        places = _decimals(lo, step)
        count = math.floor((hi - lo) / step + 1e-9)
        points = [round(lo + i * step, places) for i in range(count + 1)]
        points = [p for p in points if p <= hi]
        if self.include_max:
            if not math.isclose(points[-1], hi, rel_tol=0, abs_tol=step * 1e-9):
                points.append(hi)
            else:
                points[-1] = hi
        elif len(points) > 1 and math.isclose(points[-1], hi, rel_tol=0, abs_tol=step * 1e-9):
            points.pop()
        return points

    def _check_bounds(self) -> None:
        if self.min_value > self.max_value:
            raise ValueError(f"{type(self).__name__} {self.name!r}: min_value {self.min_value} > "
                             f"max_value {self.max_value}")
        if self.step_size is not None and self.step_size <= 0:
            raise ValueError(f"{type(self).__name__} {self.name!r}: step_size must be > 0, got "
                             f"{self.step_size}")


class UniformParameterRange(_SteppedRange):
    """A float in ``[min_value, max_value]``: continuous, or on a grid of ``step_size``."""

    def __init__(self, name: str, min_value: float, max_value: float,
                 step_size: float | None = None, include_max_value: bool = True) -> None:
        self.name = _check_name(name)
        self.min_value = check_number(min_value, f"{name}: min_value")
        self.max_value = check_number(max_value, f"{name}: max_value")
        self.step_size = None if step_size is None else check_number(step_size,
                                                                      f"{name}: step_size")
        self.include_max = bool(include_max_value)
        self._check_bounds()

    @classmethod
    def _from_fields(cls, data: dict[str, Any]) -> Parameter:
        return cls(data["name"], data["min_value"], data["max_value"], data.get("step_size"),
                   data.get("include_max", True))

    def get_value(self, rng: np.random.Generator | None = None) -> dict[str, Any]:
        gen = _rng(rng)
        if self.step_size is None:
            value = float(gen.uniform(self.min_value, self.max_value))
            return {self.name: min(max(value, self.min_value), self.max_value)}
        points = self._points()
        return {self.name: points[int(gen.integers(len(points)))]}

    def to_list(self) -> list[dict[str, Any]]:
        return [{self.name: p} for p in self._points()]

    def contains(self, values: Mapping[str, Any]) -> bool:
        v = values.get(self.name)
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            return False
        if self.step_size is None:
            return self.min_value <= v <= self.max_value
        return any(math.isclose(v, p, rel_tol=1e-12, abs_tol=1e-12) for p in self._points())

    def dimension(self) -> Dimension:
        """An :class:`~controller.space.Interval`, or the ordered points of the step grid."""
        if self.step_size is None:
            return Interval(self.name, self.min_value, self.max_value)
        return Points(self.name, self._points, ordered=True, step=self.step_size)


class UniformIntegerParameterRange(_SteppedRange):
    """An integer in ``[min_value, max_value]`` on a grid of ``step_size`` (default 1)."""

    min_value: int
    max_value: int
    step_size: int

    def __init__(self, name: str, min_value: int, max_value: int, step_size: int = 1,
                 include_max_value: bool = True) -> None:
        self.name = _check_name(name)
        for what, v in (("min_value", min_value), ("max_value", max_value),
                        ("step_size", step_size)):
            if isinstance(v, bool) or not isinstance(v, (int, np.integer)):
                raise ValueError(f"{name}: {what} must be an integer, got {v!r}")
        self.min_value = int(min_value)
        self.max_value = int(max_value)
        self.step_size = int(step_size)
        self.include_max = bool(include_max_value)
        self._check_bounds()

    @classmethod
    def _from_fields(cls, data: dict[str, Any]) -> Parameter:
        return cls(data["name"], data["min_value"], data["max_value"], data.get("step_size", 1),
                   data.get("include_max", True))

    def _points(self) -> list[int]:  # type: ignore[override]
        points = list(range(self.min_value, self.max_value + 1, self.step_size))
        if self.include_max and points[-1] != self.max_value:
            points.append(self.max_value)
        if not self.include_max and len(points) > 1 and points[-1] == self.max_value:
            points.pop()
        return points

    def get_value(self, rng: np.random.Generator | None = None) -> dict[str, Any]:
        points = self._points()
        return {self.name: points[int(_rng(rng).integers(len(points)))]}

    def to_list(self) -> list[dict[str, Any]]:
        return [{self.name: p} for p in self._points()]

    def contains(self, values: Mapping[str, Any]) -> bool:
        v = values.get(self.name)
        return isinstance(v, int) and not isinstance(v, bool) and v in self._points()

    def dimension(self) -> Dimension:
        """The ordered integer points of the grid."""
        return Points(self.name, self._points, ordered=True, step=self.step_size, integer=True)


class LogUniformParameterRange(UniformParameterRange):
    """``base ** x`` for an exponent ``x`` in ``[min_value, max_value]`` (ClearML's convention:
    the bounds are exponents), continuous or on an exponent grid of ``step_size``."""

    def __init__(self, name: str, min_value: float, max_value: float, base: float = 10,
                 step_size: float | None = None, include_max_value: bool = True) -> None:
        super().__init__(name, min_value, max_value, step_size, include_max_value)
        self.base = check_number(base, f"{name}: base")
        if self.base <= 0 or self.base == 1:
            raise ValueError(f"{name}: base must be > 0 and != 1, got {base!r}")

    @classmethod
    def _from_fields(cls, data: dict[str, Any]) -> Parameter:
        return cls(data["name"], data["min_value"], data["max_value"], data.get("base", 10),
                   data.get("step_size"), data.get("include_max", True))

    def _power(self, exponent: float) -> float:
        return float(f"{self.base ** exponent:.12g}")

    @property
    def low(self) -> float:
        """The smallest value (``base ** min_value``)."""
        return self._power(self.min_value)

    @property
    def high(self) -> float:
        """The largest value (``base ** max_value``)."""
        return self._power(self.max_value)

    def get_value(self, rng: np.random.Generator | None = None) -> dict[str, Any]:
        exponent = super().get_value(rng)[self.name]
        return {self.name: self._power(exponent)}

    def to_list(self) -> list[dict[str, Any]]:
        return [{self.name: self._power(p)} for p in self._points()]

    def contains(self, values: Mapping[str, Any]) -> bool:
        v = values.get(self.name)
        if isinstance(v, bool) or not isinstance(v, (int, float)) or v <= 0:
            return False
        if self.step_size is None:
            lo, hi = sorted((self.low, self.high))
            return lo * (1 - 1e-12) <= v <= hi * (1 + 1e-12)
        return any(math.isclose(v, p[self.name], rel_tol=1e-9) for p in self.to_list())

    def dimension(self) -> Dimension:
        """An :class:`~controller.space.Interval` of exponents (coordinates in ``base``), or the
        ordered points of the exponent grid."""
        if self.step_size is None:
            low, high = sorted((self.low, self.high))
            return Interval(self.name, self.min_value, self.max_value, log_base=self.base,
                            bounds=(low, high))
        return Points(self.name, lambda: [self._power(p) for p in self._points()], ordered=True,
                      log_base=self.base)


class DiscreteParameterRange(Parameter):
    """One of ``values`` (any JSON values; their types are kept)."""

    name: str

    def __init__(self, name: str, values: Sequence[Any] = ()) -> None:
        self.name = _check_name(name)
        if isinstance(values, (str, bytes)) or not isinstance(values, Iterable):
            raise ValueError(f"{name}: values must be a list, got {values!r}")
        self.values = list(values)
        if not self.values:
            raise ValueError(f"{name}: values may not be empty")

    def get_value(self, rng: np.random.Generator | None = None) -> dict[str, Any]:
        return {self.name: self.values[int(_rng(rng).integers(len(self.values)))]}

    def to_list(self) -> list[dict[str, Any]]:
        return [{self.name: v} for v in self.values]

    def contains(self, values: Mapping[str, Any]) -> bool:
        return self.name in values and values[self.name] in self.values

    def dimension(self) -> Dimension:
        """The values as an unordered choice."""
        return Points(self.name, self.values)


class ParameterSet(Parameter):
    """One of several combinations; each is ``{name: constant or Parameter}``.

    A nested Parameter is sampled (or expanded on the grid) under its own name.
    """

    def __init__(self, parameter_combinations: Sequence[Mapping[str, Any]] = ()) -> None:
        self.name = None
        combos = []
        for combo in parameter_combinations:
            if not isinstance(combo, Mapping) or not combo:
                raise ValueError(f"ParameterSet: each combination must be a non-empty dict, got "
                                 f"{combo!r}")
            combos.append({k: Parameter.from_dict(v) if isinstance(v, Mapping) and "type" in v
                           else v for k, v in combo.items()})
        if not combos:
            raise ValueError("ParameterSet: parameter_combinations may not be empty")
        self.parameter_combinations = combos

    @classmethod
    def _from_fields(cls, data: dict[str, Any]) -> Parameter:
        # ClearML's to_dict() names the combinations "values" (and adds "name": None)
        return cls(data["parameter_combinations"] if "parameter_combinations" in data
                   else data["values"])

    @property
    def values(self) -> list[dict[str, Any]]:
        """The combinations (ClearML's attribute name)."""
        return self.parameter_combinations

    def to_dict(self) -> dict[str, Any]:
        return {"type": "ParameterSet", "parameter_combinations": [
            {k: v.to_dict() if isinstance(v, Parameter) else v for k, v in combo.items()}
            for combo in self.parameter_combinations]}

    def names(self) -> list[str]:
        out: list[str] = []
        for combo in self.parameter_combinations:
            for key, value in combo.items():
                for n in (value.names() if isinstance(value, Parameter) else [key]):
                    if n not in out:
                        out.append(n)
        return out

    def get_value(self, rng: np.random.Generator | None = None) -> dict[str, Any]:
        gen = _rng(rng)
        combo = self.parameter_combinations[int(gen.integers(len(self.parameter_combinations)))]
        out: dict[str, Any] = {}
        for key, value in combo.items():
            out.update(value.get_value(gen) if isinstance(value, Parameter) else {key: value})
        return out

    def to_list(self) -> list[dict[str, Any]]:
        out = []
        for combo in self.parameter_combinations:
            axes = [v.to_list() if isinstance(v, Parameter) else [{k: v}]
                    for k, v in combo.items()]
            for point in itertools.product(*axes):
                merged: dict[str, Any] = {}
                for part in point:
                    merged.update(part)
                out.append(merged)
        return out

    def contains(self, values: Mapping[str, Any]) -> bool:
        for combo in self.parameter_combinations:
            if all(v.contains(values) if isinstance(v, Parameter) else values.get(k) == v
                   for k, v in combo.items()):
                return True
        return False

    def is_finite(self) -> bool:
        """True if every nested parameter is finite."""
        return all(v.is_finite() for combo in self.parameter_combinations for v in combo.values()
                   if isinstance(v, Parameter))

    def dimension(self) -> Dimension | None:
        """:class:`~controller.space.Combinations` of constant combinations; None when a
        combination nests a range (it is only sampled)."""
        if any(isinstance(v, Parameter) for c in self.parameter_combinations for v in c.values()):
            return None
        return Combinations(self.parameter_combinations)


# ---------------------------------------------------------------------- Polyaxon's distributions
def _quantize(x: float, q: float) -> int | float:
    """Polyaxon's ``np.round(x // q) * q``: ``x`` floored to a multiple of ``q``; an int when
    ``q`` is one, else rounded to ``q``'s decimals (0.3, not 0.30000000000000004)."""
    k = int(x // q)
    if isinstance(q, int):
        return k * q
    return round(k * q, _decimals(q))


def _is_multiple(value: float, q: float) -> bool:
    k = round(value / q)
    return math.isclose(value, k * q, rel_tol=1e-9, abs_tol=abs(q) * 1e-9)


def _is_number(value: Any) -> TypeGuard[int | float]:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _positive_q(name: str, q: Any) -> int | float:
    """``q`` as given (an int stays an int) if it is a number > 0; ValueError naming ``name``."""
    if check_number(q, f"{name}: q") <= 0:
        raise ValueError(f"{name}: q must be > 0, got {q!r}")
    return int(q) if isinstance(q, (int, np.integer)) else float(q)


class _Distribution(Parameter):
    """A sampled distribution: it has no grid (Polyaxon rejects distributions in grid search)
    and no :meth:`dimension` (its prior is not uniform: the models would lose it)."""

    name: str

    def to_list(self) -> list[dict[str, Any]]:
        """Always ValueError: a distribution has no grid points."""
        raise ValueError(f"{self.name}: {type(self).__name__} is a distribution and cannot be "
                         f"used with grid search")


class PChoiceParameter(_Distribution):
    """One of ``values``, drawn with the given probabilities (Polyaxon's ``pchoice``).

    ``values`` is a list of ``[value, probability]`` pairs; probabilities are in [0, 1] and sum
    to at most 1. As in Polyaxon (numpy's ``multinomial``), a sum below 1 leaves the rest to the
    last value.

    Raises:
        ValueError: naming the parameter, for an empty list, a pair that is not
            ``[value, probability]``, a probability outside [0, 1] or a sum above 1.
    """

    def __init__(self, name: str, values: Sequence[Sequence[Any]]) -> None:
        self.name = _check_name(name)
        if isinstance(values, (str, bytes)) or not isinstance(values, Sequence) or not values:
            raise ValueError(f"{name}: pchoice expects a non-empty list of [value, probability], "
                             f"got {values!r}")
        pairs = []
        for pair in values:
            if isinstance(pair, (str, bytes)) or not isinstance(pair, Sequence) or len(pair) != 2:
                raise ValueError(f"{name}: pchoice expects [value, probability] pairs, got "
                                 f"{pair!r}")
            p = check_number(pair[1], f"{name}: probability of {pair[0]!r}")
            if not 0 <= p <= 1:
                raise ValueError(f"{name}: probability of {pair[0]!r} must be in [0, 1], got {p}")
            pairs.append([pair[0], p])
        total = sum(p for _, p in pairs)
        if total > 1 + _PROBABILITY_SLACK:
            raise ValueError(f"{name}: pchoice probabilities sum to {total:g}, more than 1")
        self.values = pairs

    def get_value(self, rng: np.random.Generator | None = None) -> dict[str, Any]:
        probabilities = np.array([p for _, p in self.values])
        probabilities /= max(1.0, probabilities.sum())
        index = int(_rng(rng).multinomial(1, probabilities).argmax())
        return {self.name: self.values[index][0]}

    def contains(self, values: Mapping[str, Any]) -> bool:
        return self.name in values and any(values[self.name] == v for v, _ in self.values)


class QUniformParameter(_Distribution):
    """Polyaxon's ``quniform`` (``round(uniform(low, high) // q) * q``) or, with ``log``, its
    ``qloguniform`` (``round(exp(uniform(low, high)) // q) * q``: ``low``/``high`` are
    exponents of e, hyperopt's convention). Values are multiples of ``q``: ints when ``q`` is an
    int.

    Raises:
        ValueError: naming the parameter, for a bound that is not a finite number,
            ``low > high`` or ``q <= 0``.
    """

    def __init__(self, name: str, low: float, high: float, q: float, log: bool = False) -> None:
        self.name = _check_name(name)
        self.low = check_number(low, f"{name}: low")
        self.high = check_number(high, f"{name}: high")
        if self.low > self.high:
            raise ValueError(f"{name}: low {low} > high {high}")
        self.q = _positive_q(name, q)
        self.log = bool(log)

    def _bounds(self) -> tuple[float, float]:
        """The range of ``x`` before quantisation."""
        if self.log:
            return math.exp(self.low), math.exp(self.high)
        return self.low, self.high

    def get_value(self, rng: np.random.Generator | None = None) -> dict[str, Any]:
        x = float(_rng(rng).uniform(self.low, self.high))
        return {self.name: _quantize(math.exp(x) if self.log else x, self.q)}

    def contains(self, values: Mapping[str, Any]) -> bool:
        v = values.get(self.name)  # type: ignore[arg-type]
        if not _is_number(v) or not _is_multiple(v, self.q):
            return False
        low, high = (_quantize(b, self.q) for b in self._bounds())
        slack = abs(self.q) * 1e-9
        return low - slack <= v <= high + slack


class NormalParameter(_Distribution):
    """Polyaxon's ``normal`` (``normal(loc, scale)``), ``lognormal`` (``log``:
    ``lognormal(mean=loc, sigma=scale)``) and their quantised ``qnormal``/``qlognormal``
    (``q``: ``round(x // q) * q``; ints when ``q`` is an int).

    Raises:
        ValueError: naming the parameter, for a ``loc``/``scale`` that is not a finite number,
            ``scale < 0`` or ``q <= 0``.
    """

    def __init__(self, name: str, loc: float, scale: float, q: float | None = None,
                 log: bool = False) -> None:
        self.name = _check_name(name)
        self.loc = check_number(loc, f"{name}: loc")
        self.scale = check_number(scale, f"{name}: scale")
        if self.scale < 0:
            raise ValueError(f"{name}: scale must be >= 0, got {scale}")
        self.q = None if q is None else _positive_q(name, q)
        self.log = bool(log)

    def get_value(self, rng: np.random.Generator | None = None) -> dict[str, Any]:
        gen = _rng(rng)
        x = float(gen.lognormal(self.loc, self.scale) if self.log
                  else gen.normal(self.loc, self.scale))
        return {self.name: x if self.q is None else _quantize(x, self.q)}

    def contains(self, values: Mapping[str, Any]) -> bool:
        v = values.get(self.name)  # type: ignore[arg-type]
        if not _is_number(v):
            return False
        if self.q is not None and not _is_multiple(v, self.q):
            return False
        if self.log:
            return v >= 0 if self.q is not None else v > 0
        return True



_PARAMETER_CLASSES: dict[str, type[Parameter]] = {
    c.__name__: c for c in (UniformParameterRange, UniformIntegerParameterRange,
                            LogUniformParameterRange, DiscreteParameterRange, ParameterSet,
                            PChoiceParameter, QUniformParameter, NormalParameter)}
_P = TypeVar("_P", bound=type[Parameter])


def register_parameter_class(cls: _P) -> _P:
    """Let :meth:`Parameter.from_dict` rebuild ``cls`` (its ``type`` is the class name); usable
    as a class decorator. A module defining parameter classes must be imported before a saved
    search space that uses them is loaded (``controller`` imports its own)."""
    _PARAMETER_CLASSES[cls.__name__] = cls
    return cls


class SearchSpace:
    """The product of several parameters: sampling, the grid, and membership."""

    def __init__(self, parameters: Iterable[Parameter]) -> None:
        self.parameters = list(parameters)
        for p in self.parameters:
            if not isinstance(p, Parameter):
                raise TypeError(f"hyper_parameters must be Parameter objects, got {p!r}")
        names: list[str] = []
        for p in self.parameters:
            for n in p.names():
                if n in names:
                    raise ValueError(f"parameter {n!r} is defined twice")
                names.append(n)
        self.names = names

    def sample(self, rng: np.random.Generator | None = None) -> dict[str, Any]:
        """One random configuration."""
        gen = _rng(rng)
        out: dict[str, Any] = {}
        for p in self.parameters:
            out.update(p.get_value(gen))
        return out

    def is_finite(self) -> bool:
        """True if the grid lists every configuration :meth:`sample` can draw."""
        return all(p.is_finite() for p in self.parameters)

    def grid_size(self) -> int:
        """Number of grid points (the product of each parameter's list length)."""
        return math.prod(len(p.to_list()) for p in self.parameters) if self.parameters else 0

    def grid_point(self, index: int) -> dict[str, Any]:
        """The ``index``-th point of the Cartesian grid (the last parameter varies fastest)."""
        lists = [p.to_list() for p in self.parameters]
        out: dict[str, Any] = {}
        for values in reversed(lists):
            index, i = divmod(index, len(values))
            out.update(values[i])
        return {n: out[n] for n in self.names if n in out}

    def contains(self, config: Mapping[str, Any]) -> bool:
        """True if every parameter's values in ``config`` are inside its range."""
        return all(p.contains(config) for p in self.parameters)

    def to_dicts(self) -> list[dict[str, Any]]:
        return [p.to_dict() for p in self.parameters]

    @classmethod
    def from_dicts(cls, data: Iterable[Mapping[str, Any]]) -> SearchSpace:
        return cls(Parameter.from_dict(d) for d in data)
