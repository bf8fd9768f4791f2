"""phs target functions, as phs's examples write them (``exec`` of ``parameter['hyperpar']``),
for tests/unit/test_phs*.py."""

# ruff: noqa: F821, S102 (phs's targets exec their parameters into their globals)
from __future__ import annotations

import math
from typing import Any


def test_griewank(parameter: dict[str, Any]) -> float:
    exec(parameter["hyperpar"], globals(), globals())
    return (x * x + y * y) / 4000 - math.cos(x) * math.cos(y / math.sqrt(2)) + 1


def data_types_and_order_func(parameter: dict[str, Any]) -> float:
    exec(parameter["hyperpar"], globals(), globals())
    string_list = []
    for _ in range(iterations):
        string_list.append(s)
    return f


def by_name(parameter: dict[str, Any]) -> float:
    """Reads the parameters from the dict (no exec); writes a file in its own folder."""
    with open(f"{parameter['worker_save_path']}/out.txt", "w") as handle:
        handle.write(repr(parameter))
    return (parameter["x"] - 1.0) ** 2 + parameter["f"]


def echo_s(parameter: dict[str, Any]) -> Any:
    """Returns its text parameter: not a number."""
    return parameter["s"]
