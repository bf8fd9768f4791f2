"""The base of the ``V1*`` classes: small typed sections that read Polyaxon's dicts and YAML.

Each class is a keyword-only dataclass whose fields are Polyaxon's, in snake_case.
:meth:`Schema.from_dict` takes camelCase (a polyaxonfile's spelling) or snake_case keys and
refuses unknown ones; :meth:`Schema.to_dict` gives camelCase keys without the unset (None)
fields; :meth:`Schema.to_json` is that dict as compact JSON (dates and times in ISO 8601, a
``timedelta`` in seconds). A section that does not validate raises :class:`ValidationError`
(a ``ValueError``) saying which field is wrong, where Polyaxon raises pydantic's.

Numbers are read as Polyaxon's pydantic fields read them: a ``float`` field takes an int or a
numeric string (``"0.5"``, as YAML 1.1 leaves ``1e-3``) and keeps a float, an ``int`` field
takes an integral float (``4.0``), never a bool.
"""

from __future__ import annotations

import dataclasses
import json
import math
import re
from collections.abc import Mapping
from datetime import date, datetime, timedelta
from enum import Enum
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

if TYPE_CHECKING:
    from typing_extensions import Self


class ValidationError(ValueError):
    """A Polyaxon section (or value) that does not validate; the message names the field."""


def snake(key: str) -> str:
    """``numRuns`` -> ``num_runs`` (snake_case keys are returned as they are)."""
    return re.sub(r"(?<=[a-z0-9])([A-Z])", r"_\1", str(key)).lower()


def camel(key: str) -> str:
    """``num_runs`` -> ``numRuns``, Polyaxon's spelling in a polyaxonfile."""
    return re.sub(r"_([a-z])", lambda m: m.group(1).upper(), key)


def snake_keys(section: Any, where: str) -> dict[str, Any]:
    """``section`` (a dict) with snake_case keys.

    Raises:
        ValidationError: if it is not a dict, or a key is given in both spellings.
    """
    if not isinstance(section, Mapping):
        raise ValidationError(f"{where} must be a dict, got {section!r}")
    out: dict[str, Any] = {}
    for key, value in section.items():
        name = snake(key)
        if name in out:
            raise ValidationError(f"{where}: {camel(name)} is given twice (camelCase and "
                                  f"snake_case)")
        out[name] = value
    return out


# ---------------------------------------------------------------------- numbers
def _number_text(value: str, what: str) -> int | float:
    text = value.strip()
    try:
        return int(text)
    except ValueError:
        try:
            return float(text)
        except ValueError:
            raise ValidationError(f"{what}: {value!r} is not a number") from None


def int_or_float(value: Any, what: str) -> int | float:
    """``value`` as an int or a float as written (a numeric string is parsed); never a bool."""
    if isinstance(value, str):
        value = _number_text(value, what)
    if isinstance(value, (np.integer, np.floating)):
        value = value.item()
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValidationError(f"{what} must be a number, got {value!r}")
    if not math.isfinite(value):
        raise ValidationError(f"{what} must be finite, got {value!r}")
    return value


def to_float(value: Any, what: str) -> float:
    """``value`` as a float (Polyaxon's ``float`` fields)."""
    return float(int_or_float(value, what))


def to_int(value: Any, what: str) -> int:
    """``value`` as an int; an integral float is accepted (Polyaxon's ``int`` fields)."""
    number = int_or_float(value, what)
    if number != int(number):
        raise ValidationError(f"{what} must be an integer, got {value!r}")
    return int(number)


def positive_int(value: Any, what: str) -> int:
    """``value`` as an int >= 1 (Polyaxon's ``PositiveInt``: 0.5 and -5 are refused)."""
    if isinstance(value, float) and value != int(value):
        raise ValidationError(f"{what} must be a positive integer, got {value!r}")
    number = to_int(value, what)
    if number < 1:
        raise ValidationError(f"{what} must be a positive integer, got {value!r}")
    return number


def optional(convert: Any, value: Any, what: str) -> Any:
    """``convert(value, what)``, or None for None."""
    return None if value is None else convert(value, what)


# ---------------------------------------------------------------------- sections
def plain(value: Any) -> Any:
    """``value`` for :meth:`Schema.to_dict`: sections as dicts, containers walked (a tuple stays
    a tuple), everything else as it is."""
    if isinstance(value, Schema):
        return value.to_dict()
    if isinstance(value, list):
        return [plain(v) for v in value]
    if isinstance(value, tuple):
        return tuple(plain(v) for v in value)
    if isinstance(value, Mapping):
        return {k: plain(v) for k, v in value.items()}
    return value


def _json_default(value: Any) -> Any:
    if isinstance(value, (date, datetime)):
        return value.isoformat()
    if isinstance(value, timedelta):
        return value.total_seconds()
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, (np.generic, np.ndarray)):
        return value.tolist()
    raise TypeError(f"{type(value).__name__} {value!r} is not JSON-serialisable")


@dataclasses.dataclass(kw_only=True)
class Schema:
    """A Polyaxon section (see the module docstring).

    ``_IDENTIFIER`` is the section's ``kind`` when it has one (``from_dict`` checks it; it is
    the first key of ``to_dict``).
    """

    _IDENTIFIER: ClassVar[str | None] = None

    @property
    def kind(self) -> str | None:
        """The section's ``kind`` (None for a section without one)."""
        return self._IDENTIFIER

    @classmethod
    def from_dict(cls, data: Any) -> Self:
        """Read a dict (camelCase or snake_case keys); an instance is returned as it is.

        Raises:
            ValidationError: for a non-dict, another ``kind``, an unknown or missing field, or
                an invalid value.
        """
        if isinstance(data, cls):
            return data
        where = cls.__name__
        fields = snake_keys(data, where)
        if cls._IDENTIFIER is not None:
            kind = fields.pop("kind", cls._IDENTIFIER)
            if kind != cls._IDENTIFIER:
                raise ValidationError(f"{where}: kind must be {cls._IDENTIFIER!r}, got {kind!r}")
        known = {f.name for f in dataclasses.fields(cls) if f.init}
        unknown = sorted(set(fields) - known)
        if unknown:
            raise ValidationError(f"{where}: unknown field(s) {', '.join(map(camel, unknown))}; "
                                  f"known: {', '.join(camel(k) for k in sorted(known))}")
        missing = sorted(f.name for f in dataclasses.fields(cls) if f.init
                         and f.default is dataclasses.MISSING
                         and f.default_factory is dataclasses.MISSING and f.name not in fields)
        if missing:
            raise ValidationError(f"{where}: missing field(s) {', '.join(map(camel, missing))}")
        return cls(**fields)

    @classmethod
    def coerce(cls, value: Any) -> Self:
        """An instance, or one read from a dict (see :meth:`from_dict`)."""
        return value if isinstance(value, cls) else cls.from_dict(value)

    def to_dict(self) -> dict[str, Any]:
        """camelCase keys, without unset (None) fields; ``kind`` first."""
        out: dict[str, Any] = {} if self._IDENTIFIER is None else {"kind": self._IDENTIFIER}
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if value is not None:
                out[camel(f.name)] = plain(value)
        return out

    def to_json(self) -> str:
        """:meth:`to_dict` as compact JSON (dates in ISO 8601, a timedelta in seconds)."""
        return json.dumps(self.to_dict(), separators=(",", ":"), default=_json_default)

    @classmethod
    def read(cls, data: Any) -> Self:
        """From a dict, or from YAML or JSON text (Polyaxon's ``read``)."""
        if isinstance(data, str):
            import yaml  # type: ignore[import-untyped]

            data = yaml.safe_load(data)
        return cls.from_dict(data)
