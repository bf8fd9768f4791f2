"""Polyaxon's optimization sections: ``V1Optimization``, ``V1OptimizationMetric``,
``V1OptimizationResource``."""

from __future__ import annotations

import builtins
import dataclasses
from enum import Enum
from typing import Any, ClassVar

from .schema import Schema, ValidationError


class V1Optimization(str, Enum):
    """A metric's direction; ``maximize``/``minimize`` (also upper-case or capitalized)."""

    MAXIMIZE = "maximize"
    MINIMIZE = "minimize"

    @classmethod
    def maximize(cls, value: Any) -> bool:
        """True for ``maximize`` in any of its spellings."""
        return isinstance(value, str) and value.lower() == cls.MAXIMIZE.value

    @classmethod
    def minimize(cls, value: Any) -> bool:
        """True for ``minimize`` in any of its spellings."""
        return isinstance(value, str) and value.lower() == cls.MINIMIZE.value

    @classmethod
    def parse(cls, value: Any, what: str = "optimization") -> V1Optimization:
        """The member for ``value`` (any spelling).

        Raises:
            ValidationError: naming ``what`` for anything else.
        """
        if cls.maximize(value):
            return cls.MAXIMIZE
        if cls.minimize(value):
            return cls.MINIMIZE
        raise ValidationError(f"{what} must be 'maximize' or 'minimize', got {value!r}")

    @property
    def sign(self) -> str:
        """hpqueue's objective sign: ``max`` or ``min``."""
        return "max" if self is V1Optimization.MAXIMIZE else "min"


@dataclasses.dataclass(kw_only=True)
class V1OptimizationMetric(Schema):
    """The metric a matrix optimizes: ``name`` and ``optimization``.

    A trial reports it as the scalar of title ``name`` and series ``name`` (what
    :func:`workers.tracking.log_metrics` writes).
    """

    name: str
    optimization: V1Optimization | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name:
            raise ValidationError(f"metric name must be a non-empty string, got {self.name!r}")
        if self.optimization is not None:
            self.optimization = V1Optimization.parse(self.optimization, "metric optimization")

    def get_for_sort(self) -> str:
        """Polyaxon's sort key: ``name`` when minimizing, ``-name`` otherwise."""
        return self.name if self.optimization == V1Optimization.MINIMIZE else f"-{self.name}"

    @property
    def sign(self) -> str:
        """``min`` or ``max`` (``min`` without an optimization)."""
        return self.optimization.sign if self.optimization is not None else "min"


@dataclasses.dataclass(kw_only=True)
class V1OptimizationResource(Schema):
    """Hyperband's resource: the input ``name`` that receives it, and its ``type``."""

    name: str
    type: str | None = None
    _TYPES: ClassVar[dict[str, builtins.type]] = {"int": int, "float": float}

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name:
            raise ValidationError(f"resource name must be a non-empty string, got {self.name!r}")
        if self.type is not None:
            if not isinstance(self.type, str) or self.type.lower() not in self._TYPES:
                raise ValidationError(f"resource type must be 'int' or 'float', got "
                                      f"{self.type!r}")
            self.type = self.type.lower()

    def cast_value(self, value: Any) -> Any:
        """``int(value)`` (truncation) or ``float(value)``; as it is without a type."""
        return self._TYPES[self.type](value) if self.type is not None else value
