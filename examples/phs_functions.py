"""Target functions of the phs examples, written as phs writes them: one argument,
``parameter``, whose ``hyperpar`` assigns the set's values (phs's
``examples/func_def/basic_test_functions.py`` and ``data_types_and_order_func.py``)."""

# ruff: noqa: F821, S102 (the parameters arrive through exec, as in phs)
from __future__ import annotations

import math
from typing import Any


def test_griewank(parameter: dict[str, Any]) -> float:
    # x [-6,6], y [-6,6]; min 0 at (0,0)
    exec(parameter["hyperpar"], globals(), globals())
    return (x * x + y * y) / 4000 - math.cos(x) * math.cos(y / math.sqrt(2)) + 1


def data_types_and_order_func(parameter: dict[str, Any]) -> float:
    exec(parameter["hyperpar"], globals(), globals())
    print(parameter["hyperpar"])
    string_list = []
    for _ in range(iterations):
        string_list.append(s)
    return f
