"""Mapping: list order, exhaustion, key normalisation, validation, round trip."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from controller.objective import Objective
from controller.strategies.base import Suggestion
from controller.strategies.mapping import Mapping

from .test_asha import assert_round_trip, simulator

VALUES = [{"lr": 0.1, "Args/layers": [64, 64]}, {"lr": 0.01}, {}, {"General/opt": "sgd"},
          {"lr": 0.001, "Args/flag": True}]


def make_mapping(**kwargs: Any) -> Mapping:
    args = {"objective_metric": Objective("validation", "loss", "min"), "values": VALUES,
            "seed": 1, **kwargs}
    return Mapping(**args)


def test_runs_the_list_in_order_then_ends() -> None:
    strategy = make_mapping()
    out = [strategy.suggest() for _ in range(len(VALUES))]
    assert [s.parameters for s in out] == [
        {"General/lr": 0.1, "Args/layers": [64, 64]}, {"General/lr": 0.01}, {},
        {"General/opt": "sgd"}, {"General/lr": 0.001, "Args/flag": True}]
    assert [s.meta for s in out] == [{"index": i} for i in range(len(VALUES))]
    assert all(s.continue_from is None for s in out)
    assert strategy.suggest() is None and strategy.suggest() is None


def test_suggestions_are_independent_copies() -> None:
    strategy = make_mapping()
    first = strategy.suggest()
    assert isinstance(first, Suggestion)
    first.parameters["Args/layers"].append(1)
    assert strategy.values[0]["Args/layers"] == [64, 64]


def test_concurrency_keeps_list_order() -> None:
    sim = simulator(make_mapping(), 2, lambda p: 0.0, max_jobs=100).run()
    assert [s.meta["index"] for s in sim.starts()] == list(range(len(VALUES)))
    assert all(len(e[3]) < 2 for e in sim.log if e[0] == "start")
    assert sim.exhausted


@pytest.mark.parametrize("values, match", [
    ("lr=0.1", "list"), ({"lr": 0.1}, "list"), ([], "empty"), ([{"lr": 1}, 3], r"values\[1\]"),
    ([{"lr": object()}], "JSON"), ([{1: 2}], "Section/name"), ([{"": 2}], "Section/name"),
])
def test_validation(values: Any, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        make_mapping(values=values)


def test_values_is_required_and_numpy_values_become_plain() -> None:
    with pytest.raises(TypeError):
        Mapping()  # type: ignore[call-arg]
    strategy = make_mapping(values=[{"lr": np.float32(0.5), "n": np.int64(3)}])
    s = strategy.suggest()
    assert isinstance(s, Suggestion)
    assert s.parameters == {"General/lr": 0.5, "General/n": 3}
    assert type(s.parameters["General/n"]) is int


def test_state_round_trip() -> None:
    sim = simulator(make_mapping(), 2, lambda p: 1.0, max_jobs=100).run(1)
    assert sim.running
    assert_round_trip(sim, make_mapping)
