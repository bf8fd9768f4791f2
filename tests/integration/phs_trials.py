"""A phs target for tests/integration/test_phs_real.py: Griewank, taking 0.2 s per set (so
that a controller can be killed while sets run)."""

# ruff: noqa: F821, S102 (the parameters arrive through exec, as in phs)
from __future__ import annotations

import math
import time
from typing import Any


def slow_griewank(parameter: dict[str, Any]) -> float:
    exec(parameter["hyperpar"], globals(), globals())
    time.sleep(0.2)
    return (x * x + y * y) / 4000 - math.cos(x) * math.cos(y / math.sqrt(2)) + 1
