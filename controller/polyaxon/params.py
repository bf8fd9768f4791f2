"""Polyaxon's 16 param generators (``params: {name: {kind, value}}``) as the ``V1Hp*`` classes.

Each class reads Polyaxon's value forms (a list, a dict with Polyaxon's field names, or an
``"a:b:c"`` string -- not for choice, pchoice and the date kinds), validates them as Polyaxon does
(:class:`~controller.polyaxon.schema.ValidationError`), and offers hypertune's views of it
(:meth:`~V1HpParam.to_numpy`, :meth:`~V1HpParam.length`, :meth:`~V1HpParam.min`,
:meth:`~V1HpParam.max`, :meth:`~V1HpParam.sample`, the ``is_*`` flags) and the hpqueue
parameter a trial's value is drawn from (:meth:`~V1HpParam.to_parameter`).

===============  ==========================================  ===================================
kind             value                                       hpqueue parameter
===============  ==========================================  ===================================
choice           ``[v1, v2, ...]``                           DiscreteParameterRange
pchoice          ``[[v1, p1], [v2, p2], ...]``               :class:`PolyaxonPChoice`
range            ``[start, stop, step]`` (stop exclusive)    :class:`PolyaxonRange` (np.arange)
linspace         ``[start, stop, num]``                      DiscreteParameterRange (np.linspace)
logspace         ``[start, stop, num]`` or ``+ [base]``      DiscreteParameterRange (np.logspace)
geomspace        ``[start, stop, num]``                      DiscreteParameterRange (np.geomspace)
daterange        ``["2019-06-22", "2019-07-25", days]``      DiscreteParameterRange of dates
datetimerange    ``["2019-06-22 21:00", ..., seconds]``      DiscreteParameterRange of times
uniform          ``[low, high]``                             UniformParameterRange
quniform         ``[low, high, q]``                          QUniformParameter
loguniform       ``[low, high]`` (exponents, base e)         LogUniformParameterRange(base=e)
qloguniform      ``[low, high, q]``                          QUniformParameter(log=True)
normal           ``[loc, scale]``                            NormalParameter
qnormal          ``[loc, scale, q]``                         NormalParameter(q)
lognormal        ``[loc, scale]``                            NormalParameter(log=True)
qlognormal       ``[loc, scale, q]``                         NormalParameter(log=True, q)
===============  ==========================================  ===================================

Values are numpy's, exactly: ``range`` is ``np.arange(start, stop, step)`` (so ``[1.2, 1.8,
0.1]`` ends with numpy's 1.7999999999999998, and integers written as integers give ints), the
spaces are ``np.linspace``/``np.logspace``/``np.geomspace``. As in Polyaxon's schema, the
spaces' ``start``/``stop`` and the distributions' bounds are floats; ``num`` and ``base`` are
ints (``1.2`` is refused, ``4.0`` is 4).

Dates. ``daterange`` steps in days and gives ``datetime.date`` values, ``datetimerange`` steps
in seconds and gives naive ``datetime.datetime`` values, as numpy's ``arange`` gives them: a
range written with a UTC offset keeps its time zone on ``value.start``/``value.stop`` but
generates naive times in UTC. A task parameter is JSON, so a trial's value is the date's text,
``str(value)`` (Polyaxon renders ``{{ day }}`` the same): ``"2019-06-22"`` and
``"2019-06-22 21:00:00"``; ``date.fromisoformat``/``datetime.fromisoformat`` read them back, and
so does ``task.connect({"day": date(2019, 1, 1)})``.

Validation, as Polyaxon's: too few elements, ``start >= stop`` for range, the spaces and the date
kinds, a zero third element (step, num, q), pchoice probabilities that are not in [0, 1) or sum to
more than 1. Stricter than Polyaxon: too many elements, a range or space generating no values or
more than a million, a non-finite value, and a ``size`` other than 1 (a trial takes one value)
are refused too.
"""

from __future__ import annotations

import dataclasses
import math
import warnings
from collections.abc import Callable, Mapping
from datetime import date, datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from workers.task import normalize_parameters

from ..parameters import (
    DiscreteParameterRange,
    LogUniformParameterRange,
    NormalParameter,
    Parameter,
    PChoiceParameter,
    QUniformParameter,
    UniformParameterRange,
    register_parameter_class,
)
from ..space import Dimension, Points
from .schema import Schema, ValidationError, int_or_float, to_float, to_int

if TYPE_CHECKING:
    from typing_extensions import Self

#: Largest number of values a range or space may generate.
MAX_VALUES = 1_000_000


# ====================================================================== value sections
def _to_date(value: Any, what: str) -> date:
    """A date from a date, a midnight datetime or ISO text (``"2019-06-22"`` or, as
    pydantic allows, ``"2019-06-22 00:00"``)."""
    if isinstance(value, str):
        try:
            value = (date.fromisoformat(value) if len(value.strip()) == 10
                     else datetime.fromisoformat(value))
        except ValueError:
            raise ValidationError(f"{what}: {value!r} is not a date") from None
    if isinstance(value, datetime):
        if value.time() != datetime.min.time() or value.tzinfo is not None:
            raise ValidationError(f"{what}: {value} is not a date (it has a time)")
        return value.date()
    if not isinstance(value, date):
        raise ValidationError(f"{what} must be a date, got {value!r}")
    return value


def _to_datetime(value: Any, what: str) -> datetime:
    """A datetime from a datetime, a date (midnight) or ISO text; a UTC offset is kept."""
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            raise ValidationError(f"{what}: {value!r} is not a date and time") from None
    if isinstance(value, date) and not isinstance(value, datetime):
        value = datetime(value.year, value.month, value.day)
    if not isinstance(value, datetime):
        raise ValidationError(f"{what} must be a date and time, got {value!r}")
    return value


def _to_seconds(value: Any, what: str) -> timedelta:
    """A timedelta, or a number of seconds."""
    return value if isinstance(value, timedelta) else timedelta(seconds=int_or_float(value, what))


def _to_count(value: Any, what: str) -> int:
    """An int >= 0 (``num``)."""
    number = to_int(value, what)
    if number < 0:
        raise ValidationError(f"{what} must be > 0, got {number}")
    return number


def _to_size(value: Any, what: str) -> int:
    """Polyaxon's ``size``: only 1 here."""
    size = to_int(value, what)
    if size != 1:
        raise ValidationError(f"size {size!r} is not supported (a trial takes one value)")
    return size


@dataclasses.dataclass(kw_only=True)
class _Bounds(Schema):
    """A param's ``value``: Polyaxon's ``[a, b, c]``, ``{a, b, c}`` or ``"a:b:c"`` forms.

    ``_FIELDS`` maps each field, in Polyaxon's list order, to the function reading it; the
    ``_OPTIONAL`` ones may be absent. ``_CHECK_ORDER``: the first field must be below the second.
    """

    _FIELDS: ClassVar[dict[str, Callable[[Any, str], Any]]] = {}
    _OPTIONAL: ClassVar[tuple[str, ...]] = ()
    _CHECK_ORDER: ClassVar[bool] = True
    _STRING_FORM: ClassVar[bool] = True

    @classmethod
    def parse(cls, value: Any, kind: str) -> Self:
        """The list, dict or string form (or an instance) as a section.

        Raises:
            ValidationError: naming ``kind``: a wrong element count, a bad form or value.
        """
        keys = tuple(cls._FIELDS)
        required = tuple(k for k in keys if k not in cls._OPTIONAL)
        if isinstance(value, cls):
            return value
        if isinstance(value, str):
            if not cls._STRING_FORM or ":" not in value:
                raise ValidationError(
                    f"{kind} does not accept the string {value!r}; give a list"
                    + ("" if not cls._STRING_FORM else f" or '{':'.join(required)}'"))
            value = value.split(":")
        if isinstance(value, (list, tuple)):
            if not len(required) <= len(value) <= len(keys):
                raise ValidationError(
                    f"{kind} expects a list of {len(required)}"
                    + (f" or {len(keys)}" if cls._OPTIONAL else "")
                    + f" elements ({', '.join(keys)}), got {len(value)}")
            value = dict(zip(keys, value))
        if not isinstance(value, Mapping):
            raise ValidationError(f"{kind} expects a list or a dict, got {value!r}")
        unknown = sorted(set(value) - set(keys))
        missing = [k for k in required if k not in value]
        if unknown or missing:
            raise ValidationError(f"{kind} expects the fields {', '.join(keys)}; "
                                  + (f"unknown: {', '.join(map(str, unknown))}" if unknown
                                     else f"missing: {', '.join(missing)}"))
        try:
            return cls(**value)
        except ValidationError as exc:
            raise ValidationError(f"{kind} {exc}") from None

    def __post_init__(self) -> None:
        for name, read in self._FIELDS.items():
            value = getattr(self, name)
            if value is not None or name not in self._OPTIONAL:
                setattr(self, name, read(value, name))
        first, second, *rest = self._FIELDS
        try:
            if self._CHECK_ORDER and getattr(self, first) >= getattr(self, second):
                raise ValidationError(f"{second} must be greater than {first}, got {first} "
                                      f"{getattr(self, first)}, {second} "
                                      f"{getattr(self, second)}")
        except TypeError as exc:  # an aware and a naive time
            raise ValidationError(f"{first} and {second}: {exc}") from None
        third = rest[0] if rest and rest[0] not in self._OPTIONAL else None
        if third is not None and not getattr(self, third):
            raise ValidationError(f"{third} cannot be 0")


@dataclasses.dataclass(kw_only=True)
class Range(_Bounds):
    """``range``'s value: ``start``, ``stop`` (exclusive) and ``step``, numbers as written."""

    start: int | float
    stop: int | float
    step: int | float
    _FIELDS: ClassVar[dict[str, Callable[[Any, str], Any]]] = {
        "start": int_or_float, "stop": int_or_float, "step": int_or_float}


@dataclasses.dataclass(kw_only=True)
class DateRange(_Bounds):
    """``daterange``'s value: dates ``start``, ``stop`` (exclusive), ``step`` in days."""

    start: date
    stop: date
    step: int
    _FIELDS: ClassVar[dict[str, Callable[[Any, str], Any]]] = {
        "start": _to_date, "stop": _to_date, "step": to_int}
    _STRING_FORM: ClassVar[bool] = False


@dataclasses.dataclass(kw_only=True)
class DateTimeRange(_Bounds):
    """``datetimerange``'s value: times ``start``, ``stop`` (exclusive), ``step`` (seconds, or a
    timedelta)."""

    start: datetime
    stop: datetime
    step: timedelta
    _FIELDS: ClassVar[dict[str, Callable[[Any, str], Any]]] = {
        "start": _to_datetime, "stop": _to_datetime, "step": _to_seconds}
    _STRING_FORM: ClassVar[bool] = False


@dataclasses.dataclass(kw_only=True)
class Space(_Bounds):
    """``linspace``'s and ``geomspace``'s value: ``start``, ``stop``, ``num`` values."""

    start: float
    stop: float
    num: int
    _FIELDS: ClassVar[dict[str, Callable[[Any, str], Any]]] = {
        "start": to_float, "stop": to_float, "num": _to_count}


@dataclasses.dataclass(kw_only=True)
class LogSpace(Space):
    """``logspace``'s value: ``start``, ``stop`` (exponents), ``num`` and ``base`` (10)."""

    base: int | None = None
    _FIELDS: ClassVar[dict[str, Callable[[Any, str], Any]]] = {**Space._FIELDS, "base": to_int}
    _OPTIONAL: ClassVar[tuple[str, ...]] = ("base",)


@dataclasses.dataclass(kw_only=True)
class Dist(_Bounds):
    """``uniform``'s and ``loguniform``'s value: ``low``, ``high`` (and ``size``)."""

    low: float
    high: float
    size: int | None = None
    _FIELDS: ClassVar[dict[str, Callable[[Any, str], Any]]] = {
        "low": to_float, "high": to_float, "size": _to_size}
    _OPTIONAL: ClassVar[tuple[str, ...]] = ("size",)
    _CHECK_ORDER: ClassVar[bool] = False


@dataclasses.dataclass(kw_only=True)
class QDist(Dist):
    """``quniform``'s and ``qloguniform``'s value: ``low``, ``high``, ``q`` (and ``size``)."""

    q: int | float
    _FIELDS: ClassVar[dict[str, Callable[[Any, str], Any]]] = {
        "low": to_float, "high": to_float, "q": int_or_float, "size": _to_size}


@dataclasses.dataclass(kw_only=True)
class Normal(_Bounds):
    """``normal``'s and ``lognormal``'s value: ``loc``, ``scale`` (and ``size``)."""

    loc: float
    scale: float
    size: int | None = None
    _FIELDS: ClassVar[dict[str, Callable[[Any, str], Any]]] = {
        "loc": to_float, "scale": to_float, "size": _to_size}
    _OPTIONAL: ClassVar[tuple[str, ...]] = ("size",)
    _CHECK_ORDER: ClassVar[bool] = False


@dataclasses.dataclass(kw_only=True)
class QNormal(Normal):
    """``qnormal``'s and ``qlognormal``'s value: ``loc``, ``scale``, ``q`` (and ``size``)."""

    q: int | float
    _FIELDS: ClassVar[dict[str, Callable[[Any, str], Any]]] = {
        "loc": to_float, "scale": to_float, "q": int_or_float, "size": _to_size}


# ====================================================================== the range parameter
@register_parameter_class
class PolyaxonRange(DiscreteParameterRange):
    """The values of Polyaxon's ``range`` (``np.arange(start, stop, step)``), modelled as
    Polyaxon's Bayesian optimization models them: one dimension over ``[start, stop]`` (stop is
    exclusive, so the largest value lies below the upper bound), decoded to the nearest value."""

    def __init__(self, name: str, values: list[Any], start: float, stop: float) -> None:
        super().__init__(name, values)
        self.start = start
        self.stop = stop

    def dimension(self) -> Dimension:
        return Points(self.name, self.values, extent=(self.start, self.stop))


@register_parameter_class
class PolyaxonPChoice(PChoiceParameter):
    """Polyaxon's ``pchoice``: drawn with its probabilities, and, as Polyaxon counts it, a
    discrete param of ``len(values)`` values (so a random search over discrete params stops at
    the number of configurations). It is not modelled (no dimension)."""

    def is_finite(self) -> bool:
        return True

    def to_list(self) -> list[dict[str, Any]]:
        return [{self.name: value} for value, _ in self.values]


# ====================================================================== V1Hp classes
def _count(kind: str, n: int) -> int:
    if n < 1:
        raise ValidationError(f"{kind} generates no values")
    if n > MAX_VALUES:
        raise ValidationError(f"{kind} generates {n} values, more than {MAX_VALUES}")
    return n


def _finite(kind: str, values: np.ndarray) -> np.ndarray:
    if values.dtype.kind == "f" and not np.all(np.isfinite(values)):
        raise ValidationError(f"{kind} generates a non-finite value")
    return values


def _naive_utc(value: datetime) -> datetime:
    """numpy's reading of a datetime: an aware one in UTC without its zone."""
    if value.tzinfo is None:
        return value
    return value.astimezone(timezone.utc).replace(tzinfo=None)


def date_text(value: date) -> str:
    """The JSON form of a generated date or time: ``str(value)`` (see the module docstring)."""
    return str(value)


@dataclasses.dataclass(kw_only=True)
class V1HpParam(Schema):
    """One param generator: ``kind`` and ``value`` (see the module docstring).

    The flags are Polyaxon's: ``is_distribution`` (sampled, no grid), ``is_continuous``,
    ``is_discrete``, ``is_range`` (generated from bounds), ``is_categorical`` (a choice with a
    non-numeric value), ``is_uniform``.
    """

    value: Any
    _VALUE: ClassVar[type[_Bounds] | None] = None
    is_distribution: ClassVar[bool] = False
    is_continuous: ClassVar[bool] = False
    is_discrete: ClassVar[bool] = True
    is_range: ClassVar[bool] = False
    is_uniform: ClassVar[bool] = False
    #: The component input types it can feed (None: any type).
    _IO_TYPES: ClassVar[tuple[str, ...] | None] = ("int", "float")

    def __post_init__(self) -> None:
        if self._VALUE is not None:
            self.value = self._VALUE.parse(self.value, self.kind or "")

    @property
    def is_categorical(self) -> bool:
        return False

    # ------------------------------------------------------------- hypertune's views
    def to_numpy(self) -> Any:
        """The generated values (numpy's array; a choice's own list).

        Raises:
            ValidationError: for a distribution (it is sampled, never listed).
        """
        raise ValidationError(f"{self.kind} is a distribution: it has no values to list, "
                              f"sample it instead")

    def length(self) -> int:
        """The number of generated values (ValidationError for a distribution)."""
        return len(self.to_numpy())

    def min(self) -> Any:
        """hypertune's ``get_min``: the lower bound (None where Polyaxon has none)."""
        return None

    def max(self) -> Any:
        """hypertune's ``get_max``: the upper bound (for a range, ``stop`` itself)."""
        return None

    def json_values(self) -> list[Any]:
        """The generated values as a trial's parameter holds them (plain JSON)."""
        return list(np.asarray(self.to_numpy()).tolist())

    def sample(self, rng: np.random.Generator | None = None) -> Any:
        """One value, drawn as the optimizer draws it (a date kind gives a date)."""
        return self.to_parameter("p").get_value(rng)["p"]

    def to_parameter(self, name: str) -> Parameter:
        """The hpqueue parameter ``name`` whose values these are."""
        return DiscreteParameterRange(name, self.json_values())

    def validate_io(self, name: str, io_type: str | None) -> None:
        """Check that a component input of type ``io_type`` can take these values.

        Raises:
            ValidationError: naming the param, as Polyaxon words it.
        """
        if self._IO_TYPES is not None and io_type not in self._IO_TYPES:
            raise ValidationError(
                f"Param `{name}` has a an input type `{io_type}` and it does not correspond to "
                f"hyper-param type `{' or '.join(self._IO_TYPES)}`.")


@dataclasses.dataclass(kw_only=True)
class V1HpChoice(V1HpParam):
    """``choice``: one of a list of values (any JSON values)."""

    _IDENTIFIER: ClassVar[str] = "choice"
    _IO_TYPES: ClassVar[tuple[str, ...] | None] = None

    def __post_init__(self) -> None:
        if not isinstance(self.value, (list, tuple)) or not self.value:
            raise ValidationError(f"choice expects a non-empty list, got {self.value!r}")

    @property
    def is_categorical(self) -> bool:
        """Polyaxon's rule: some non-numeric value is truthy (bools count as numbers)."""
        return any(v for v in self.value if not isinstance(v, (int, float, complex, np.number)))

    def to_numpy(self) -> Any:
        return self.value

    def json_values(self) -> list[Any]:
        return list(self.value)

    def min(self) -> Any:
        return None if self.is_categorical else min(self.value)

    def max(self) -> Any:
        return None if self.is_categorical else max(self.value)


@dataclasses.dataclass(kw_only=True)
class V1HpPChoice(V1HpParam):
    """``pchoice``: ``[value, probability]`` pairs; probabilities in [0, 1) summing to at most
    1 (numpy's multinomial leaves the rest to the last value)."""

    _IDENTIFIER: ClassVar[str] = "pchoice"
    is_distribution: ClassVar[bool] = True
    _IO_TYPES: ClassVar[tuple[str, ...] | None] = None

    def __post_init__(self) -> None:
        if not isinstance(self.value, (list, tuple)) or not self.value:
            raise ValidationError(f"pchoice expects a non-empty list of [value, probability], "
                                  f"got {self.value!r}")
        for pair in self.value:
            if not (isinstance(pair, (list, tuple)) and len(pair) == 2
                    and isinstance(pair[1], (int, float)) and not isinstance(pair[1], bool)
                    and 0 <= pair[1] < 1):
                raise ValidationError(f"pchoice expects [value, probability] pairs with a "
                                      f"probability in [0, 1), got {pair!r}")
        try:
            self.to_parameter("pchoice")
        except ValueError as exc:
            raise ValidationError(str(exc)) from None

    def length(self) -> int:
        return len(self.value)

    def to_parameter(self, name: str) -> Parameter:
        return PolyaxonPChoice(name, [[v, p] for v, p in self.value])


@dataclasses.dataclass(kw_only=True)
class _HpRangeKind(V1HpParam):
    """The kinds generated from ``[start, stop, ...]``: min and max are start and stop."""

    is_range: ClassVar[bool] = True

    def min(self) -> Any:
        return self.value.start

    def max(self) -> Any:
        return self.value.stop

    def _generate(self, make: Callable[[], np.ndarray]) -> np.ndarray:
        try:
            with np.errstate(all="ignore"):
                values = make()
        except ValueError as exc:
            raise ValidationError(f"{self.kind}: {exc}") from None
        _count(self.kind or "", len(values))
        return _finite(self.kind or "", values)


@dataclasses.dataclass(kw_only=True)
class V1HpRange(_HpRangeKind):
    """``range``: ``np.arange(start, stop, step)``."""

    _IDENTIFIER: ClassVar[str] = "range"
    _VALUE: ClassVar[type[_Bounds] | None] = Range

    def to_numpy(self) -> np.ndarray:
        v = self.value
        _count("range", math.ceil((v.stop - v.start) / v.step))
        return self._generate(lambda: np.arange(v.start, v.stop, v.step))

    def to_parameter(self, name: str) -> Parameter:
        return PolyaxonRange(name, self.json_values(), self.value.start, self.value.stop)


@dataclasses.dataclass(kw_only=True)
class V1HpLinSpace(_HpRangeKind):
    """``linspace``: ``np.linspace(start, stop, num)``."""

    _IDENTIFIER: ClassVar[str] = "linspace"
    _VALUE: ClassVar[type[_Bounds] | None] = Space

    def to_numpy(self) -> np.ndarray:
        v = self.value
        _count("linspace", v.num)
        return self._generate(lambda: np.linspace(v.start, v.stop, v.num))


@dataclasses.dataclass(kw_only=True)
class V1HpLogSpace(_HpRangeKind):
    """``logspace``: ``np.logspace(start, stop, num, base)`` (base 10 by default)."""

    _IDENTIFIER: ClassVar[str] = "logspace"
    _VALUE: ClassVar[type[_Bounds] | None] = LogSpace

    def to_numpy(self) -> np.ndarray:
        v = self.value
        _count("logspace", v.num)
        return self._generate(lambda: np.logspace(v.start, v.stop, v.num,
                                                  base=10 if v.base is None else v.base))


@dataclasses.dataclass(kw_only=True)
class V1HpGeomSpace(_HpRangeKind):
    """``geomspace``: ``np.geomspace(start, stop, num)``."""

    _IDENTIFIER: ClassVar[str] = "geomspace"
    _VALUE: ClassVar[type[_Bounds] | None] = Space

    def to_numpy(self) -> np.ndarray:
        v = self.value
        _count("geomspace", v.num)
        return self._generate(lambda: np.geomspace(v.start, v.stop, v.num))


@dataclasses.dataclass(kw_only=True)
class V1HpDateRange(_HpRangeKind):
    """``daterange``: dates from ``start`` to ``stop`` (exclusive) every ``step`` days."""

    _IDENTIFIER: ClassVar[str] = "daterange"
    _VALUE: ClassVar[type[_Bounds] | None] = DateRange
    _IO_TYPES: ClassVar[tuple[str, ...] | None] = ("date",)

    def to_numpy(self) -> np.ndarray:
        v = self.value
        _count("daterange", math.ceil((v.stop - v.start).days / v.step))
        return self._generate(lambda: np.arange(v.start, v.stop, v.step)).astype(date)

    def json_values(self) -> list[Any]:
        return [date_text(d) for d in self.to_numpy()]

    def sample(self, rng: np.random.Generator | None = None) -> Any:
        return date.fromisoformat(super().sample(rng))


@dataclasses.dataclass(kw_only=True)
class V1HpDateTimeRange(_HpRangeKind):
    """``datetimerange``: times from ``start`` to ``stop`` (exclusive) every ``step``."""

    _IDENTIFIER: ClassVar[str] = "datetimerange"
    _VALUE: ClassVar[type[_Bounds] | None] = DateTimeRange
    _IO_TYPES: ClassVar[tuple[str, ...] | None] = ("datetime",)

    def to_numpy(self) -> np.ndarray:
        v = self.value
        start, stop = _naive_utc(v.start), _naive_utc(v.stop)
        if v.step <= timedelta(0):
            raise ValidationError(f"datetimerange step must be > 0, got {v.step}")
        _count("datetimerange", math.ceil((stop - start) / v.step))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # numpy's "no explicit representation of timezones"
            return self._generate(
                lambda: np.arange(start, stop, v.step)).astype(datetime)  # type: ignore[call-overload]

    def json_values(self) -> list[Any]:
        return [date_text(d) for d in self.to_numpy()]

    def sample(self, rng: np.random.Generator | None = None) -> Any:
        return datetime.fromisoformat(super().sample(rng))


@dataclasses.dataclass(kw_only=True)
class _HpDistribution(V1HpParam):
    """The sampled kinds: no values to list, no grid."""

    is_distribution: ClassVar[bool] = True
    is_continuous: ClassVar[bool] = True
    is_discrete: ClassVar[bool] = False

    def length(self) -> int:
        raise ValidationError(f"{self.kind} is a distribution: it has no length")

    def sample(self, rng: np.random.Generator | None = None) -> Any:
        return float(super().sample(rng))

    def to_parameter(self, name: str) -> Parameter:
        try:
            return self._parameter(name)
        except ValueError as exc:
            raise ValidationError(f"{self.kind} {str(exc).removeprefix(name + ': ')}") from None

    def _parameter(self, name: str) -> Parameter:
        raise NotImplementedError


@dataclasses.dataclass(kw_only=True)
class V1HpUniform(_HpDistribution):
    """``uniform``: ``uniform(low, high)``."""

    _IDENTIFIER: ClassVar[str] = "uniform"
    _VALUE: ClassVar[type[_Bounds] | None] = Dist
    is_uniform: ClassVar[bool] = True

    def min(self) -> Any:
        return self.value.low

    def max(self) -> Any:
        return self.value.high

    def _parameter(self, name: str) -> Parameter:
        return UniformParameterRange(name, self.value.low, self.value.high)


@dataclasses.dataclass(kw_only=True)
class V1HpLogUniform(_HpDistribution):
    """``loguniform``: ``exp(uniform(low, high))`` (the bounds are exponents of e)."""

    _IDENTIFIER: ClassVar[str] = "loguniform"
    _VALUE: ClassVar[type[_Bounds] | None] = Dist

    def _parameter(self, name: str) -> Parameter:
        return LogUniformParameterRange(name, self.value.low, self.value.high, base=math.e)


@dataclasses.dataclass(kw_only=True)
class V1HpQUniform(_HpDistribution):
    """``quniform``: ``round(uniform(low, high) // q) * q``."""

    _IDENTIFIER: ClassVar[str] = "quniform"
    _VALUE: ClassVar[type[_Bounds] | None] = QDist

    def _parameter(self, name: str) -> Parameter:
        return QUniformParameter(name, self.value.low, self.value.high, self.value.q)


@dataclasses.dataclass(kw_only=True)
class V1HpQLogUniform(_HpDistribution):
    """``qloguniform``: ``round(exp(uniform(low, high)) // q) * q``."""

    _IDENTIFIER: ClassVar[str] = "qloguniform"
    _VALUE: ClassVar[type[_Bounds] | None] = QDist

    def _parameter(self, name: str) -> Parameter:
        return QUniformParameter(name, self.value.low, self.value.high, self.value.q, log=True)


@dataclasses.dataclass(kw_only=True)
class V1HpNormal(_HpDistribution):
    """``normal``: ``normal(loc, scale)``."""

    _IDENTIFIER: ClassVar[str] = "normal"
    _VALUE: ClassVar[type[_Bounds] | None] = Normal

    def _parameter(self, name: str) -> Parameter:
        return NormalParameter(name, self.value.loc, self.value.scale)


@dataclasses.dataclass(kw_only=True)
class V1HpQNormal(_HpDistribution):
    """``qnormal``: ``round(normal(loc, scale) // q) * q``."""

    _IDENTIFIER: ClassVar[str] = "qnormal"
    _VALUE: ClassVar[type[_Bounds] | None] = QNormal

    def _parameter(self, name: str) -> Parameter:
        return NormalParameter(name, self.value.loc, self.value.scale, q=self.value.q)


@dataclasses.dataclass(kw_only=True)
class V1HpLogNormal(_HpDistribution):
    """``lognormal``: ``lognormal(mean=loc, sigma=scale)``."""

    _IDENTIFIER: ClassVar[str] = "lognormal"
    _VALUE: ClassVar[type[_Bounds] | None] = Normal

    def _parameter(self, name: str) -> Parameter:
        return NormalParameter(name, self.value.loc, self.value.scale, log=True)


@dataclasses.dataclass(kw_only=True)
class V1HpQLogNormal(_HpDistribution):
    """``qlognormal``: ``round(lognormal(loc, scale) // q) * q``."""

    _IDENTIFIER: ClassVar[str] = "qlognormal"
    _VALUE: ClassVar[type[_Bounds] | None] = QNormal

    def _parameter(self, name: str) -> Parameter:
        return NormalParameter(name, self.value.loc, self.value.scale, q=self.value.q, log=True)


#: kind -> class, in Polyaxon's order.
HP_CLASSES: dict[str, type[V1HpParam]] = {
    c._IDENTIFIER: c for c in (  # type: ignore[misc]
        V1HpChoice, V1HpPChoice, V1HpRange, V1HpDateRange, V1HpDateTimeRange, V1HpLinSpace,
        V1HpLogSpace, V1HpGeomSpace, V1HpUniform, V1HpQUniform, V1HpLogUniform, V1HpQLogUniform,
        V1HpNormal, V1HpQNormal, V1HpLogNormal, V1HpQLogNormal)}
#: Polyaxon's ``is_distribution`` kinds.
DISTRIBUTIONS = frozenset(k for k, c in HP_CLASSES.items() if c.is_distribution)


def read_hp(spec: Any) -> V1HpParam:
    """One param (``{kind, value}`` or a ``V1Hp*`` instance) as its class.

    Raises:
        ValidationError: for another shape, an unknown kind or an invalid value.
    """
    if isinstance(spec, V1HpParam):
        return spec
    if not isinstance(spec, Mapping) or set(spec) != {"kind", "value"}:
        raise ValidationError(f"a param is {{'kind': ..., 'value': ...}}, got {spec!r}")
    kind = spec["kind"]
    if kind not in HP_CLASSES:
        raise ValidationError(f"unknown param kind {kind!r}; known: {', '.join(HP_CLASSES)}")
    return HP_CLASSES[kind](value=spec["value"])


def read_params(params: Any) -> dict[str, V1HpParam]:
    """Polyaxon's ``params`` (``{name: {kind, value}}`` or ``{name: V1Hp*}``), in order.

    Raises:
        ValidationError: naming the param, for any invalid entry.
    """
    if not isinstance(params, Mapping):
        raise ValidationError(f"params must be a dict of {{name: {{kind, value}}}}, got "
                              f"{params!r}")
    out: dict[str, V1HpParam] = {}
    for name, spec in params.items():
        try:
            out[name] = read_hp(spec)
        except ValidationError as exc:
            raise ValidationError(f"{_full_name(name)}: {exc}") from None
    return out


def _full_name(name: Any) -> str:
    try:
        return next(iter(normalize_parameters({name: None}, "params")))
    except ValueError as exc:
        raise ValidationError(str(exc)) from None


def hp_parameters(params: Mapping[str, V1HpParam]) -> list[Parameter]:
    """The hpqueue parameters of read ``params`` (``General/`` added to names without a
    section).

    Raises:
        ValidationError: naming the param, for a range or space that generates no values.
    """
    out = []
    for name, hp in params.items():
        full = _full_name(name)
        try:
            out.append(hp.to_parameter(full))
        except ValidationError as exc:
            raise ValidationError(f"{full}: {exc}") from None
    return out


def parameters_from_polyaxon(params: Mapping[str, Any]) -> list[Parameter]:
    """Polyaxon's ``params: {name: {kind, value}}`` as hpqueue parameters, in order (see the
    module docstring); ``General/`` is added to a name without a section.

    Raises:
        ValidationError: (a ValueError) naming the parameter, for an unknown kind or an invalid
            value.
    """
    return hp_parameters(read_params(params))
