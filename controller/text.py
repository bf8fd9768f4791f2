"""Short texts for numbers, objective values and durations (reports, progress lines, the CLI)."""

from __future__ import annotations

import json
from typing import Any


def fmt(value: Any, digits: int = 4) -> str:
    """A short text for a number (``digits`` significant digits) or any other value."""
    if isinstance(value, bool) or value is None:
        return json.dumps(value)
    if isinstance(value, float):
        return f"{value:.{digits}g}"
    if isinstance(value, int):
        return str(value)
    return value if isinstance(value, str) else json.dumps(value)


def format_values(values: list[float] | None) -> str:
    """Objective values joined with `` / `` (``-`` for none)."""
    return "-" if values is None else " / ".join(fmt(v) for v in values)


def format_duration(seconds: float) -> str:
    """``1h 02m 03s`` / ``2m 03s`` / ``4.2s``."""
    if seconds < 60:
        return f"{seconds:.1f}s"
    m, s = divmod(int(seconds), 60)
    h, m = divmod(m, 60)
    return f"{h}h {m:02d}m {s:02d}s" if h else f"{m}m {s:02d}s"
