"""The search-space transform: every parameter as the models see it.

:meth:`Parameter.dimension <controller.parameters.Parameter.dimension>` is the one place where a
parameter's class decides how it is modelled. The strategies (Optuna's distributions, BOHB's
densities, the GP's unit cube, PBT's explore step) and the report's parallel-coordinates chart
work on the :class:`Dimension` it returns and never test parameter classes.

Kinds of dimension:

* :class:`Interval` (a :class:`Scalar`, the dimension of one parameter) -- a continuous range: the values ``base ** t`` (``t`` itself without a log
  base) for the *coordinates* ``t`` in ``[low, high]`` (a LogUniformParameterRange's bounds are
  exponents, ClearML's convention);
* :class:`Points` (a :class:`Scalar`) -- a finite list of values in the parameter's order: the grid of a stepped or
  integer range (``ordered``), or a list of choices;
* :class:`Combinations` -- one of several constant combinations of parameters (a ParameterSet
  without nested ranges).

A parameter has no dimension (None) when the models cannot represent it: a ParameterSet with
nested ranges, and the distributions with a non-uniform prior (Polyaxon's pchoice, quniform,
normal...), whose probabilities a model with a uniform prior would lose. Strategies sample such a
parameter (BOHB, PBT) or reject it (Optuna, the GP).

A dimension offers:

* ``finite`` and ``points`` -- its values when it has finitely many (None for a continuous
  range);
* the **unit cube** (Polyaxon's encoding, :class:`SpaceEncoder`): a numeric dimension is one
  coordinate, linear in ``t`` over ``[low, high]`` (over its points' coordinates for a finite
  one), decoded to the nearest valid value; a non-numeric one is one-hot over its values, decoded
  by argmax;
* :meth:`~Dimension.optuna_codec` -- the Optuna distribution and the mapping of values to it;
* ``log_scale`` and ``categories`` -- how to draw its axis;

and a :class:`Scalar` also:

* the **vector** (ConfigSpace's one number per parameter, as hpbandster's BOHB uses it): a
  continuous range linear onto [0, 1]; point ``i`` of ``n`` of an ordered grid at
  ``(i + 0.5) / n``; a choice by its index (``vector_size`` is the number of choices, 0 for a
  continuous number);
* :meth:`~Scalar.perturb` -- PBT's explore step: ``value * factor`` kept in the range and on its
  points.
"""

from __future__ import annotations

import itertools
import json
import math
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from functools import cached_property
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from optuna.distributions import BaseDistribution

    from .parameters import SearchSpace

#: Value types Optuna's CategoricalDistribution stores as they are.
_CHOICE_TYPES = (type(None), bool, int, float, str)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _value_key(value: Any) -> str:
    return json.dumps(value, sort_keys=True)


class Dimension(ABC):
    """One parameter (or one ParameterSet) as the models see it; see the module docstring."""

    #: The task parameter it sets; None for :class:`Combinations` (several names).
    name: str | None = None

    @property
    def width(self) -> int:
        """Coordinates it takes in the unit cube."""
        return 1

    @property
    def log_scale(self) -> bool:
        """True if its axis is best drawn on a log scale."""
        return False

    @property
    def categories(self) -> list[Any] | None:
        """The values of an unordered choice, in order (an axis of categories); else None."""
        return None

    @property
    def finite(self) -> bool:
        """True if it has finitely many values (``points``); False for a continuous range."""
        return True

    @property
    @abstractmethod
    def points(self) -> list[Any] | None:
        """The finite values, in order; None for a continuous range."""

    @abstractmethod
    def encode(self, config: Mapping[str, Any]) -> list[float]:
        """The ``width`` unit-cube coordinates of the values ``config`` sets."""

    @abstractmethod
    def decode(self, unit: np.ndarray) -> dict[str, Any]:
        """``{name: value}`` of the valid value nearest to the coordinates ``unit``."""

    @abstractmethod
    def optuna_codec(self) -> OptunaCodec | None:
        """The Optuna distribution and value mapping; None if Optuna has no distribution."""


class Scalar(Dimension):
    """The dimension of one parameter (``name``): a continuous range or a finite list.

    Its numbers (on one unit-cube coordinate) are located by their coordinate ``t`` (the value,
    or its logarithm in ``log_base``) between ``low`` and ``high``.
    """

    name: str
    log_base: float | None

    @property
    def vector_size(self) -> int:
        """0 for a continuous number of the vector, else the number of categories."""
        return 0

    @abstractmethod
    def to_vector(self, value: Any) -> float:
        """The vector number of ``value``."""

    @abstractmethod
    def from_vector(self, x: float) -> Any:
        """The value of vector number ``x``: always a valid value."""

    @abstractmethod
    def optuna_codec(self) -> OptunaCodec:
        """The Optuna distribution and value mapping."""

    @abstractmethod
    def perturb(self, value: Any, factor: float) -> Any:
        """PBT's explore step: ``value * factor`` kept inside the range and on its points (a
        non-numeric choice moves to the next value, or the previous one for ``factor <= 1``)."""

    @property
    @abstractmethod
    def low(self) -> float:
        """The smallest coordinate."""

    @property
    @abstractmethod
    def high(self) -> float:
        """The largest coordinate."""

    @property
    def log_scale(self) -> bool:
        return self.log_base is not None

    @property
    def span(self) -> float:
        """``high - low``, or 1 for a single value (which then encodes to 0)."""
        return (self.high - self.low) or 1.0

    def coordinate(self, value: Any) -> float:
        """``t`` of ``value``: its logarithm in ``log_base``, or the value itself."""
        number = float(value)
        return math.log(number, self.log_base) if self.log_base else number

    def encode(self, config: Mapping[str, Any]) -> list[float]:
        return [(self.coordinate(config[self.name]) - self.low) / self.span]

    def _unit_coordinate(self, unit: np.ndarray) -> float:
        return min(max(self.low + float(unit[0]) * self.span, self.low), self.high)


class Interval(Scalar):
    """A continuous range: values ``log_base ** t`` (or ``t``) for ``t`` in ``[low, high]``.

    ``bounds`` are the smallest and largest value (default ``(low, high)``; a log range passes
    its own, rounded, values).
    """

    def __init__(self, name: str, low: float, high: float, log_base: float | None = None,
                 bounds: tuple[float, float] | None = None) -> None:
        self.name, self._low, self._high, self.log_base = name, low, high, log_base
        self.bounds = bounds if bounds is not None else (low, high)

    @property
    def low(self) -> float:
        return self._low

    @property
    def high(self) -> float:
        return self._high

    def __repr__(self) -> str:
        return (f"Interval({self.name!r}, {self.low!r}, {self.high!r}, log_base="
                f"{self.log_base!r}, bounds={self.bounds!r})")

    @property
    def finite(self) -> bool:
        return False

    @property
    def points(self) -> None:
        return None

    def value(self, t: float) -> float:
        """The value at coordinate ``t``."""
        return self.log_base ** t if self.log_base is not None else t

    def clip(self, value: float) -> float:
        """``value`` kept inside ``bounds``."""
        return min(max(value, self.bounds[0]), self.bounds[1])

    def decode(self, unit: np.ndarray) -> dict[str, Any]:
        return {self.name: self.clip(float(self.value(self._unit_coordinate(unit))))}

    def to_vector(self, value: Any) -> float:
        t = self.coordinate(value)
        return (t - self.low) / (self.high - self.low) if self.high > self.low else 0.5

    def from_vector(self, x: float) -> Any:
        return self.clip(self.value(self.low + float(x) * (self.high - self.low)))

    def optuna_codec(self) -> OptunaCodec:
        from optuna.distributions import FloatDistribution

        lo, hi = self.bounds
        return OptunaCodec(self.name, FloatDistribution(lo, hi, log=self.log_base is not None),
                           "continuous", [lo] if lo == hi else None)

    def perturb(self, value: Any, factor: float) -> Any:
        return self.clip(value * factor)


class Points(Scalar):
    """A finite list of values, in order (repeats kept): ``values`` is the list, or a function
    returning it (called on first use, so that describing a huge range costs nothing).

    ``ordered``: the grid of a numeric range (stepped or integer) rather than a list of choices;
    ``step``: its grid step when the grid is linear (then ``integer`` says whether the values are
    ints); ``log_base``: the values' coordinates are their logarithms (a stepped log range);
    ``extent``: the unit cube's bounds of numeric values when they are not the smallest and
    largest value (Polyaxon's ``range`` spans ``[start, stop]``, stop excluded from the values).
    """

    def __init__(self, name: str, values: Sequence[Any] | Callable[[], Sequence[Any]],
                 ordered: bool = False, step: float | None = None, integer: bool = False,
                 log_base: float | None = None,
                 extent: tuple[float, float] | None = None) -> None:
        self.name, self._values, self.ordered = name, values, ordered
        self.step, self.integer, self.log_base = step, integer, log_base
        self._given_extent = extent

    def __repr__(self) -> str:
        return (f"Points({self.name!r}, {self.values!r}, ordered={self.ordered}, step="
                f"{self.step!r}, integer={self.integer}, log_base={self.log_base!r})")

    @cached_property
    def values(self) -> list[Any]:
        """The values, in order."""
        return list(self._values() if callable(self._values) else self._values)

    @property
    def points(self) -> list[Any]:
        return self.values

    @cached_property
    def numeric(self) -> bool:
        """True if every value is a number (always for a range's grid)."""
        return self.ordered or all(_is_number(v) for v in self.values)

    @property
    def categories(self) -> list[Any] | None:
        return None if self.ordered else self.values

    @property
    def width(self) -> int:
        return 1 if self.numeric else len(self.values)

    @property
    def vector_size(self) -> int:
        return 0 if self.ordered else len(self.values)

    @cached_property
    def _coordinates(self) -> list[float]:
        return [self.coordinate(v) for v in self.values]

    @cached_property
    def _extent(self) -> tuple[float, float]:
        if self._given_extent is not None:
            low, high = (self.coordinate(v) for v in self._given_extent)
            return min(low, *self._coordinates), max(high, *self._coordinates)
        return min(self._coordinates), max(self._coordinates)

    @property
    def low(self) -> float:
        return self._extent[0]

    @property
    def high(self) -> float:
        return self._extent[1]

    @cached_property
    def _options(self) -> list[dict[str, Any]]:
        return [{self.name: v} for v in self.values]

    # ---------------------------------------------------------------- unit cube
    def encode(self, config: Mapping[str, Any]) -> list[float]:
        return super().encode(config) if self.numeric else _one_hot(self._options, config)

    def decode(self, unit: np.ndarray) -> dict[str, Any]:
        if not self.numeric:
            return dict(self._options[int(np.argmax(unit))])
        t = self._unit_coordinate(unit)
        best = min(zip(self._coordinates, self.values), key=lambda p: abs(p[0] - t))
        return {self.name: best[1]}

    # ---------------------------------------------------------------- vector
    @cached_property
    def _array(self) -> np.ndarray:
        return np.asarray(self.values, dtype=float)

    def to_vector(self, value: Any) -> float:
        if not self.ordered:
            return float(self.values.index(value))
        i = int(np.argmin(np.abs(self._array - value)))
        return (i + 0.5) / len(self.values)

    def from_vector(self, x: float) -> Any:
        if not self.ordered:
            return self.values[int(x)]
        i = min(int(float(x) * len(self.values)), len(self.values) - 1)
        return self.values[max(i, 0)]

    # ---------------------------------------------------------------- Optuna, PBT
    def optuna_codec(self) -> OptunaCodec:
        from optuna.distributions import FloatDistribution, IntDistribution

        points = self.values
        if self.step is not None and _on_grid(points, self.step):
            distribution: BaseDistribution = (
                IntDistribution(points[0], points[-1], step=int(self.step)) if self.integer
                else FloatDistribution(points[0], points[-1], step=self.step))
            return OptunaCodec(self.name, distribution, "grid", points)
        return _categorical(self.name, points)

    def perturb(self, value: Any, factor: float) -> Any:
        points = list(self.values)
        step = 1 if factor > 1 else -1
        if self.numeric:
            points = sorted(points)
            nearest = min(points, key=lambda p: (abs(p - value * factor), p))
            if nearest != value or value not in points:
                return nearest
        index = points.index(value) if value in points else 0
        return points[min(max(index + step, 0), len(points) - 1)]


class Combinations(Dimension):
    """One of several constant ``{name: value}`` combinations (a ParameterSet): one-hot in the
    unit cube; no vector, Optuna distribution or perturbation."""

    def __init__(self, combinations: Sequence[Mapping[str, Any]]) -> None:
        self.combinations = [dict(c) for c in combinations]

    @property
    def width(self) -> int:
        return len(self.combinations)

    def __repr__(self) -> str:
        return f"Combinations({self.combinations!r})"

    @property
    def points(self) -> list[Any]:
        return self.combinations

    def encode(self, config: Mapping[str, Any]) -> list[float]:
        return _one_hot(self.combinations, config)

    def decode(self, unit: np.ndarray) -> dict[str, Any]:
        return dict(self.combinations[int(np.argmax(unit))])

    def optuna_codec(self) -> None:
        return None


def _one_hot(options: list[dict[str, Any]], config: Mapping[str, Any]) -> list[float]:
    """One-hot coordinates of the first option whose values ``config`` has (by ``==``)."""
    index = next((i for i, option in enumerate(options)
                  if all(config.get(k) == v for k, v in option.items())), None)
    if index is None:
        raise ValueError(f"configuration {dict(config)!r} matches none of {options!r}")
    return [1.0 if i == index else 0.0 for i in range(len(options))]


# ---------------------------------------------------------------------- the unit cube
class SpaceEncoder:
    """Maps configurations of a :class:`~controller.parameters.SearchSpace` to points of
    ``[0, 1] ** width`` and back (the unit cube of the module docstring).

    Raises:
        ValueError: naming the parameter, for one without a dimension (a ParameterSet with
            nested ranges, a non-uniform distribution).
    """

    def __init__(self, space: SearchSpace) -> None:
        self.dimensions: list[Dimension] = []
        for p in space.parameters:
            dimension = p.dimension()
            if dimension is None:
                what = f"{type(p).__name__} {p.name!r}" if p.name else type(p).__name__
                raise ValueError(f"{what} cannot be encoded in the unit cube (a ParameterSet "
                                 f"needs constant combinations, a distribution a uniform prior)")
            self.dimensions.append(dimension)
        self.width = sum(d.width for d in self.dimensions)

    def encode(self, config: Mapping[str, Any]) -> np.ndarray:
        return np.array([u for d in self.dimensions for u in d.encode(config)], dtype=float)

    def decode(self, point: np.ndarray) -> dict[str, Any]:
        """The valid configuration nearest to ``point``."""
        out: dict[str, Any] = {}
        start = 0
        for d in self.dimensions:
            out.update(d.decode(point[start:start + d.width]))
            start += d.width
        return out


# ---------------------------------------------------------------------- Optuna
class OptunaCodec:
    """One parameter: its Optuna distribution and the mapping between both value spaces.

    ``points`` are the parameter's distinct values when it has finitely many, else None.
    Modes: ``continuous`` (Optuna value as it is), ``grid`` (a stepped Float/Int distribution
    whose values map to ``points``), ``choice`` (categorical over the values themselves) and
    ``index`` (categorical over indices into ``points``, for values Optuna cannot store as
    choices or that compare equal, like ``1`` and ``True``).
    """

    def __init__(self, name: str, distribution: BaseDistribution, mode: str,
                 points: list[Any] | None) -> None:
        self.name = name
        self.distribution = distribution
        self.mode = mode
        self.points = points

    def decode(self, value: Any) -> Any:
        """The parameter value of Optuna's ``value``; ValueError if it is not one of ours."""
        if self.mode == "continuous":
            dist = self.distribution
            if not dist.low <= value <= dist.high:  # type: ignore[attr-defined]
                raise ValueError(f"{value!r} is outside {self.name}'s range")
            return value
        if self.mode == "grid":
            assert self.points is not None
            dist = self.distribution
            step = dist.step  # type: ignore[attr-defined]
            index = round((value - dist.low) / step)  # type: ignore[attr-defined]
            if not 0 <= index < len(self.points) or not math.isclose(
                    value, self.points[index], rel_tol=1e-9, abs_tol=step * 1e-6):
                raise ValueError(f"{value!r} is not on {self.name}'s grid")
            return self.points[index]
        if self.mode == "index":
            assert self.points is not None
            if not isinstance(value, int) or not 0 <= value < len(self.points):
                raise ValueError(f"{value!r} is not an index of {self.name}'s values")
            return self.points[value]
        if value not in self.distribution.choices:  # type: ignore[attr-defined]
            raise ValueError(f"{value!r} is not one of {self.name}'s values")
        return value

    def encode(self, value: Any) -> Any:
        """Optuna's value for the parameter value ``value`` (one of ``points``)."""
        if self.mode == "index":
            assert self.points is not None
            key = _value_key(value)
            return next(i for i, p in enumerate(self.points) if _value_key(p) == key)
        return value


def _distinct(values: Sequence[Any]) -> list[Any]:
    seen: set[str] = set()
    out = []
    for v in values:
        key = _value_key(v)
        if key not in seen:
            seen.add(key)
            out.append(v)
    return out


def _on_grid(points: Sequence[float], step: float) -> bool:
    return len(points) >= 2 and all(
        math.isclose(p, points[0] + i * step, rel_tol=0, abs_tol=abs(step) * 1e-9)
        for i, p in enumerate(points))


def _categorical(name: str, values: list[Any]) -> OptunaCodec:
    from optuna.distributions import CategoricalDistribution

    values = _distinct(values)
    plain = all(type(v) in _CHOICE_TYPES and not (isinstance(v, float) and math.isnan(v))
                for v in values)
    # Optuna stores a choice as its position, found by ``==``: 1 and True (or 1 and 1.0) would
    # collide, so such lists go by index.
    if plain and all(a != b for a, b in itertools.combinations(values, 2)):
        return OptunaCodec(name, CategoricalDistribution(values), "choice", values)
    return OptunaCodec(name, CategoricalDistribution(list(range(len(values)))), "index", values)
