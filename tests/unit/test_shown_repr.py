"""workers.app.shown_repr: what monitors show of a trial's arguments, exactly Celery's saferepr."""

from __future__ import annotations

import random
from typing import Any

import numpy as np
import pytest
from celery.utils.saferepr import saferepr

from workers.app import REPR_MAX, shown_repr

CASES: list[Any] = [
    ["0123456789abcdef"],
    {"parent": "p" * 32, "job": "j" * 32, "optimizer": "o" * 32,
     "parameters": {"General/lr": 0.001, "General/layers": [64, 64], "General/act": "relu",
                    "General/flag": True, "General/none": None, "General/n": 10 ** 30}},
    {"parameters": {"General/s": "it's"}},  # a quote: saferepr escapes differently
    {"parameters": {"General/s": "a\\b\n"}},  # backslash, newline
    {"parameters": {"General/x": np.float64(0.5), "General/i": np.int64(3)}},
    {"parameters": {"a": {"b": {"c": {"d": 1}}}}},  # deeper than saferepr shows
    {"parameters": {"General/t": (1, 2)}},
    {"parameters": {f"General/p{i}": "v" * 60 for i in range(30)}},  # longer than REPR_MAX
    {"parameters": {"General/nan": float("nan"), "General/inf": float("-inf"), "z": -0.0}},
]


@pytest.mark.parametrize("value", CASES)
def test_shown_repr_is_saferepr(value: Any) -> None:
    assert shown_repr(value) == saferepr(value, REPR_MAX)


def test_shown_repr_random_arguments() -> None:
    rnd = random.Random(0)
    chars = "ab'\"\\\né ü\t/-_"

    def text() -> str:
        return "".join(rnd.choice(chars) for _ in range(rnd.randint(0, 6)))

    def value(depth: int) -> Any:
        r = rnd.random()
        if depth < 5 and r < 0.15:
            return {text(): value(depth + 1) for _ in range(rnd.randint(0, 3))}
        if depth < 5 and r < 0.3:
            return [value(depth + 1) for _ in range(rnd.randint(0, 3))]
        return rnd.choice([None, True, rnd.randint(-10 ** 20, 10 ** 20), rnd.random(), text(),
                           "x" * rnd.choice([1, 1100]), float("nan"), np.float64(0.25)])

    for _ in range(2000):
        args = {"parent": "p" * 32, "job": "j" * 32,
                "parameters": {f"General/p{i}": value(2) for i in range(rnd.randint(0, 5))}}
        assert shown_repr(args) == saferepr(args, REPR_MAX)
