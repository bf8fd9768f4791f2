"""Polyaxon's published Hyperband assertions, restated against ``V1Hyperband`` and the
Hyperband strategy it builds.

Sources: polyaxon/hypertune ``tests/test_hyperband.py`` (v1.2.2: the bracket math, on the
config and on ``HyperbandManager``, whose ``get_resources*``/``get_n_resources*`` are
``V1Hyperband``'s methods here) and polyaxon/cli
``tests/test_polyflow/test_workflows/test_hyperband.py`` (the schema). hypertune's
``get_suggestions(iteration, bracket_iteration)`` is checked on the strategy's own rung-0
suggestions of each iteration (same count, same resource, every param and the resource set).
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest

from controller.objective import Objective
from controller.polyaxon import V1Hyperband, V1Optimization, V1OptimizationMetric, ValidationError
from controller.strategies import Suggestion, Trial

CONFIG1 = {"concurrency": 2, "maxIterations": 10, "eta": 3,
           "resource": {"name": "steps", "type": "float"}, "resume": False,
           "metric": {"name": "loss", "optimization": "minimize"},
           "params": {"feature1": {"kind": "choice", "value": [1, 2, 3]},
                      "feature2": {"kind": "linspace", "value": [1, 2, 5]},
                      "feature3": {"kind": "range", "value": [1, 5, 1]}}}
CONFIG2 = {"concurrency": 2, "maxIterations": 81, "eta": 3,
           "resource": {"name": "size", "type": "int"}, "resume": False,
           "metric": {"name": "loss", "optimization": "minimize"},
           "params": {"feature1": {"kind": "choice", "value": [1, 2, 3]},
                      "feature2": {"kind": "linspace", "value": [1, 2, 5]},
                      "feature3": {"kind": "range", "value": [1, 5, 1]},
                      "feature4": {"kind": "range", "value": [1, 5, 1]}}}


@pytest.fixture
def manager1() -> V1Hyperband:
    config = V1Hyperband.from_dict(CONFIG1)
    config.set_tuning_params()
    return config


@pytest.fixture
def manager2() -> V1Hyperband:
    config = V1Hyperband.from_dict(CONFIG2)
    config.set_tuning_params()
    return config


def almost_equal(value: float, value_compare: float) -> None:
    assert value_compare - 0.02 <= value <= value_compare + 0.02


def test_hyperband_properties(manager1: V1Hyperband, manager2: V1Hyperband) -> None:
    assert (manager1.max_iterations, manager1.eta, manager1.s_max) == (10, 3, 2)
    assert manager1.B == (manager1.s_max + 1) * manager1.max_iterations
    assert (manager2.max_iterations, manager2.eta, manager2.s_max) == (81, 3, 4)
    assert manager2.B == (manager2.s_max + 1) * manager2.max_iterations


def test_get_bracket(manager1: V1Hyperband, manager2: V1Hyperband) -> None:
    assert [manager1.get_bracket(iteration=i) for i in range(3)] == [2, 1, 0]
    assert [manager2.get_bracket(iteration=i) for i in range(5)] == [4, 3, 2, 1, 0]


def test_get_num_runs(manager1: V1Hyperband, manager2: V1Hyperband) -> None:
    assert [manager1.get_num_runs(bracket=b) for b in (2, 1, 0)] == [9, 5, 3]
    assert [manager2.get_num_runs(bracket=b) for b in (4, 3, 2, 1, 0)] == [81, 34, 15, 8, 5]


# (iteration, bracket_iteration, num_runs of the iteration's bracket, expected keep)
KEEP1 = [(0, 0, 9, 3), (0, 1, 9, 1), (0, 2, 9, 0), (1, 0, 5, 1), (1, 1, 5, 0), (2, 0, 3, 1)]
KEEP2 = [(0, 0, 81, 27), (0, 1, 81, 9), (0, 2, 81, 3), (0, 3, 81, 1), (0, 4, 81, 0),
         (1, 0, 34, 11), (1, 1, 34, 3), (1, 2, 34, 1), (1, 3, 34, 0),
         (2, 0, 15, 5), (2, 1, 15, 1), (2, 2, 15, 0),
         (3, 0, 8, 2), (3, 1, 8, 0),
         (4, 0, 5, 1)]


def test_get_num_runs_to_keep(manager1: V1Hyperband, manager2: V1Hyperband) -> None:
    for manager, table in ((manager1, KEEP1), (manager2, KEEP2)):
        for iteration, bi, num_runs, keep in table:
            assert manager.get_num_runs_to_keep(num_runs=num_runs, bracket_iteration=bi) == keep
            assert manager.get_num_runs_to_keep_for_iteration(
                iteration=iteration, bracket_iteration=bi) == keep


def test_the_last_bracket_keeps_one_configuration_after_rung_0(manager1: V1Hyperband,
                                                               manager2: V1Hyperband) -> None:
    for manager, last in ((manager1, 2), (manager2, 4)):
        assert manager.get_num_runs_to_keep_for_iteration(iteration=last,
                                                          bracket_iteration=0) == 1
        assert manager.should_reduce_configs(iteration=last, bracket_iteration=0) is True
        assert manager.should_create_iteration(iteration=last, bracket_iteration=0) is False
        assert manager.create_iteration(last, 0) == (last, 1)
        assert manager.should_reschedule(iteration=last, bracket_iteration=1) is False
        with pytest.raises(ValueError, match="could not reschedule or reduce configs"):
            manager.create_iteration(last, 1)
    assert manager2.create_iteration() == (0, 0)
    assert manager2.create_iteration(0, 3) == (0, 4)
    assert manager2.create_iteration(0, 4) == (1, 0)


def test_get_resources(manager1: V1Hyperband, manager2: V1Hyperband) -> None:
    for manager, expected in ((manager1, [1.11, 3.33, 10]), (manager2, [1, 3, 9, 27, 81])):
        brackets = range(manager.s_max, -1, -1)
        for bracket, iteration, value in zip(brackets, range(len(expected)), expected):
            almost_equal(manager.get_resources(bracket=bracket), value)
            almost_equal(manager.get_resources_for_iteration(iteration=iteration), value)


# (iteration, n_resources of the iteration, bracket_iteration, expected)
N_RESOURCES1 = [(0, 1.11, 0, 1.11), (0, 1.11, 1, 3.33), (0, 1.11, 2, 9.99),
                (1, 3.33, 0, 3.33), (1, 3.33, 1, 9.99), (2, 9.99, 0, 9.99)]
N_RESOURCES2 = [(0, 1, 0, 1), (0, 1, 1, 3), (0, 1, 2, 9), (0, 1, 3, 27), (0, 1, 4, 81),
                (1, 3, 0, 3), (1, 3, 1, 9), (1, 3, 2, 27), (1, 3, 3, 81),
                (2, 9, 0, 9), (2, 9, 1, 27), (2, 9, 2, 81),
                (3, 27, 0, 27), (3, 27, 1, 81), (4, 81, 0, 81)]


def test_get_n_resources(manager1: V1Hyperband, manager2: V1Hyperband) -> None:
    for manager, table in ((manager1, N_RESOURCES1), (manager2, N_RESOURCES2)):
        for iteration, n_resources, bi, expected in table:
            almost_equal(manager.get_n_resources(n_resources=n_resources, bracket_iteration=bi),
                         expected)
            almost_equal(manager.get_n_resources_for_iteration(iteration=iteration,
                                                               bracket_iteration=bi), expected)


@pytest.mark.parametrize("iteration, bracket_iteration, expected", [
    (0, 0, False), (0, 1, False), (0, 2, True), (0, 3, True), (1, 0, False), (1, 1, True),
    (1, 2, True), (2, 0, False), (2, 1, False), (5, 0, False)])
def test_should_reschedule(manager1: V1Hyperband, iteration: int, bracket_iteration: int,
                           expected: bool) -> None:
    assert manager1.should_create_iteration(iteration=iteration,
                                            bracket_iteration=bracket_iteration) is expected


@pytest.mark.parametrize("iteration, bracket_iteration, expected", [
    (0, 0, True), (0, 1, True), (0, 2, False), (0, 3, False), (1, 0, True), (1, 1, False),
    (1, 2, False), (2, 0, True), (2, 1, False), (5, 0, False)])
def test_should_reduce_configs(manager1: V1Hyperband, iteration: int, bracket_iteration: int,
                               expected: bool) -> None:
    assert manager1.should_reduce_configs(iteration=iteration,
                                          bracket_iteration=bracket_iteration) is expected


def rung0(config: dict[str, Any]) -> dict[int, list[Suggestion]]:
    """The rung-0 suggestions of every iteration of the strategy built from ``config`` (each
    rung runs and completes before the strategy is asked again)."""
    strategy = V1Hyperband.from_dict(config).convert().build_strategy(
        objective_metric=Objective("loss", "loss", "min"))
    out: dict[int, list[Suggestion]] = {}
    pending: list[tuple[str, Suggestion]] = []
    count = 0
    while (s := strategy.suggest()) is not None:
        if isinstance(s, Suggestion):
            job, count = f"job{count}", count + 1
            strategy.on_trial_start(job, s)
            pending.append((job, s))
            if s.meta["rung"] == 0:
                out.setdefault(s.meta["iteration"], []).append(s)
            continue
        for job, done in pending:  # WAIT: the rung runs; complete it
            strategy.on_trial_complete(Trial(job, done.parameters, done.meta, "completed",
                                             float(len(job))))
        pending = []
    return out


def test_get_suggestions() -> None:
    # hypertune: get_suggestions(iteration=0, bracket_iteration=2) -> 9 configs at 9.99 (the
    # count of the iteration's bracket, the resource of the asked rung)
    manager1 = V1Hyperband.from_dict(CONFIG1)
    assert manager1.get_num_runs(manager1.get_bracket(0)) == 9
    almost_equal(manager1.get_n_resources_for_iteration(0, 2), 9.99)
    suggestions = rung0(CONFIG1)
    for iteration, count, resource in ((1, 5, 3.33), (2, 3, 9.99)):
        assert len(suggestions[iteration]) == count
        for suggestion in suggestions[iteration]:
            almost_equal(suggestion.parameters["General/steps"], resource)
            assert {"General/feature1", "General/feature2", "General/feature3"} <= set(
                suggestion.parameters)
    suggestions = rung0(CONFIG2)
    for iteration, count, resource in ((2, 15, 9), (4, 5, 81)):
        assert len(suggestions[iteration]) == count
        for suggestion in suggestions[iteration]:
            almost_equal(suggestion.parameters["General/size"], resource)
            assert {f"General/feature{i}" for i in range(1, 5)} <= set(suggestion.parameters)


def test_the_strategy_runs_polyaxons_brackets_for_81_3() -> None:
    strategy = V1Hyperband.from_dict({**CONFIG2, "concurrency": None}).convert()
    assert strategy.max_number_of_concurrent_tasks == 143 + 64  # clamped to every run
    runs = Counter((bracket, bi) for it, bi, n, _ in V1Hyperband.from_dict(CONFIG2).schedule()
                   for bracket in [4 - it] for _ in range(n))
    assert runs == {(4, 0): 81, (4, 1): 27, (4, 2): 9, (4, 3): 3, (4, 4): 1,
                    (3, 0): 34, (3, 1): 11, (3, 2): 3, (3, 3): 1,
                    (2, 0): 15, (2, 1): 5, (2, 2): 1, (1, 0): 8, (1, 1): 2,
                    (0, 0): 5, (0, 1): 1}


# ====================================================================== polyaxon/cli schema
def test_hyperband_config() -> None:
    config_dict: dict[str, Any] = {
        "kind": "hyperband", "maxIterations": 10, "eta": 3,
        "resource": {"name": "steps", "type": "int"}, "resume": False,
        "metric": V1OptimizationMetric(name="loss",
                                       optimization=V1Optimization.MINIMIZE).to_dict(),
        "params": {"lr": {"kind": "choice", "value": [[0.1], [0.9]]}}}
    assert V1Hyperband.from_dict(config_dict).to_dict() == config_dict
    for bad in ({"maxIterations": 0}, {"maxIterations": -0.5},
                {"maxIterations": 3, "eta": -0.5}):
        with pytest.raises(ValidationError):
            V1Hyperband.from_dict({**config_dict, **bad})
    config_dict.update(maxIterations=3, eta=2.9)
    assert V1Hyperband.from_dict(config_dict).to_dict() == config_dict
