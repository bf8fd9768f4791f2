"""JSON and number encoding shared by the store and its readers.

Numbers are stored as text that both Python's ``float()`` and Lua's ``tonumber()`` read: ``repr``
for finite values, ``1e999`` / ``-1e999`` for infinities, ``nan`` for NaN. JSON documents allow
``NaN`` and ``Infinity`` (Python's dialect) so that NaN and inf survive a round trip.
"""

from __future__ import annotations

import json
import math
from datetime import date
from numbers import Real
from typing import Any

from .errors import InvalidScalarError, InvalidTaskError


def encode_number(value: float) -> str:
    """Text form of a float that Python and Lua both parse (Lua cannot parse ``inf``)."""
    if math.isnan(value):
        return "nan"
    if math.isinf(value):
        return "1e999" if value > 0 else "-1e999"
    return repr(value)


def decode_number(text: str | bytes | None) -> float | None:
    """Inverse of :func:`encode_number`; None stays None."""
    if text is None:
        return None
    if isinstance(text, bytes):
        text = text.decode()
    return float(text)


def to_float(value: Any, what: str) -> float:
    """``value`` as a float, or InvalidScalarError naming ``what`` (bools and strings are refused)."""
    if isinstance(value, bool) or not isinstance(value, Real):
        # numpy scalars are Real; 0-d arrays and tensors expose item()
        item = getattr(value, "item", None)
        if callable(item) and not isinstance(value, (str, bytes)):
            try:
                return to_float(item(), what)
            except (TypeError, ValueError):
                pass
        raise InvalidScalarError(f"{what} must be a real number, got {type(value).__name__} {value!r}")
    return float(value)


def dumps(value: Any, what: str = "value") -> str:
    """Compact JSON of ``value``; InvalidTaskError naming ``what`` if it is not JSON-serialisable."""
    try:
        return json.dumps(value, separators=(",", ":"), default=_json_default)
    except (TypeError, ValueError) as exc:
        raise InvalidTaskError(f"{what} is not JSON-serialisable: {exc}") from None


def loads(text: str | bytes | None, default: Any = None) -> Any:
    """Parse JSON written by :func:`dumps`; None/empty gives ``default``."""
    if text is None or text == "" or text == b"":
        return default
    return json.loads(text)


def _json_default(value: Any) -> Any:
    # a date or time is its text, str(value) ("2019-06-22", "2019-06-22 21:00:00"), which
    # fromisoformat reads back
    if isinstance(value, date):
        return str(value)
    # numpy scalars (np.float64, np.int64, np.bool_) are common in parameter dicts
    item = getattr(value, "item", None)
    if callable(item) and getattr(value, "shape", None) == ():
        return item()
    tolist = getattr(value, "tolist", None)
    if callable(tolist):
        return tolist()
    raise TypeError(f"{type(value).__name__} {value!r} is not JSON-serialisable")
