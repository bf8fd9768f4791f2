"""Polyaxon's published assertions on its search managers, matrix schemas and early stopping,
restated against the V1 classes and the strategies they build; and Polyaxon's documented
concurrency and early-stopping semantics.

Sources: polyaxon/hypertune ``tests/test_{mapping,grid_search,random_search,bo,kinds,
hyperopt_search}.py`` (v1.2.2) and polyaxon/cli ``tests/test_polyflow/test_workflows/
test_{grid_search,random_search,iterative,early_stopping}.py`` (v2.16.4). A manager's
``get_suggestions()`` is the strategy's suggestions until it WAITs or is exhausted. hypertune's
Bayesian ``SearchSpace`` works on raw values; hpqueue's GP works on the same bounds rescaled to
[0, 1] (:class:`controller.space.SpaceEncoder`), so points are given through that rescaling.
Assertions on mocks (how often ``to_numpy``/``sample`` are called) are not restated.
"""

from __future__ import annotations

import dataclasses
import math
from datetime import date, datetime, timedelta
from typing import Any

import numpy as np
import pytest

from controller.objective import Objective
from controller.polyaxon import (
    V1Bayes,
    V1FailureEarlyStopping,
    V1GridSearch,
    V1Hyperopt,
    V1Iterative,
    V1Mapping,
    V1MetricEarlyStopping,
    V1Optimization,
    V1RandomSearch,
    ValidationError,
    matrix_from_polyaxon,
)
from controller.polyaxon.matrix import MATRIX_CLASSES
from controller.simulate import Report, simulate
from controller.space import SpaceEncoder
from controller.stopping import build_policies
from controller.strategies import WAIT, BayesianGP, SearchStrategy, Suggestion, Trial

LOSS = Objective("loss", "loss", "min")
ACCURACY = Objective("accuracy", "accuracy", "max")


def suggestions(strategy: SearchStrategy, limit: int = 1000) -> list[dict[str, Any]]:
    """What the strategy suggests before it WAITs or is exhausted (its configurations, with
    ``General/`` dropped; at most ``limit``), each started at once."""
    out: list[dict[str, Any]] = []
    while len(out) < limit and isinstance(s := strategy.suggest(), Suggestion):
        strategy.on_trial_start(f"job{len(out)}", s)
        out.append({k.split("/", 1)[1]: v for k, v in s.parameters.items()})
    return out


def build(config: dict[str, Any], objective: Objective = LOSS) -> SearchStrategy:
    return matrix_from_polyaxon(config).build_strategy(objective_metric=objective)


# ====================================================================== kinds
def test_supported_kinds() -> None:
    assert len(MATRIX_CLASSES) == 7
    # Polyaxon's iteration kinds (a tuner between iterations) are the kinds with a tuner
    assert {kind for kind, cls in MATRIX_CLASSES.items()
            if "tuner" in {f.name for f in dataclasses.fields(cls)}} == {
        "hyperband", "bayes", "hyperopt", "iterative"}


# ====================================================================== mapping
def test_mapping_get_suggestions() -> None:
    config = {"kind": "mapping", "concurrency": 2,
              "values": [{"a": 1, "b": 2}, {"a": 1.3, "b": 3}]}
    assert len(suggestions(build(config))) == 2
    config["values"] = [{"feature1": i, "feature2": i, "feature3": i} for i in (1, 2, 3)]
    assert suggestions(build(config)) == config["values"]  # in order
    mapping = V1Mapping.from_dict(config)
    assert mapping.has_key("feature2") and not mapping.has_key("lr")


# ====================================================================== grid
def test_grid_get_suggestions() -> None:
    config: dict[str, Any] = {"kind": "grid", "concurrency": 2, "numRuns": 10,
                              "params": {"feature": {"kind": "choice", "value": [1, 2, 3]}}}
    assert len(suggestions(build(config))) == 3
    config["params"] = {"feature1": {"kind": "choice", "value": [1, 2, 3]},
                        "feature2": {"kind": "linspace", "value": [1, 2, 5]},
                        "feature3": {"kind": "range", "value": [1, 5, 1]}}
    m = matrix_from_polyaxon(config)
    assert m.optimizer_kwargs == {"total_max_jobs": 10}  # the loop stops after 10 of the 60
    result = simulate(m.build_strategy(), lambda p, s: ([Report(1, 0, 1.0)], 1, False),
                      objective=LOSS, total_max_jobs=10)
    assert len(result.jobs) == 10
    config = {"kind": "grid", "concurrency": 2,
              "params": {"feature1": {"kind": "choice", "value": [1, 2, 3]},
                         "feature2": {"kind": "logspace", "value": "0.01:0.1:5"}}}
    points = suggestions(build(config))
    assert len(points) == 15
    assert {p["feature2"] for p in points} == set(np.logspace(0.01, 0.1, 5).tolist())


def test_grid_search_config() -> None:
    config_dict: dict[str, Any] = {"kind": "grid", "numRuns": 10,
                                   "params": {"lr": {"kind": "choice", "value": [[0.1], [0.9]]}}}
    assert V1GridSearch.from_dict(config_dict).to_dict() == config_dict
    for bad in (-5, -0.5, 0.5):
        with pytest.raises(ValidationError):
            V1GridSearch.from_dict({**config_dict, "numRuns": bad})
    config_dict["numRuns"] = 5
    assert V1GridSearch.from_dict(config_dict).to_dict() == config_dict
    # numRuns is optional
    without = {"kind": "grid", "concurrency": 1, "earlyStopping": [],
               "params": {"lr": {"kind": "choice", "value": [1, 2, 3]}}}
    assert V1GridSearch.from_dict(without).to_dict() == without


def test_grid_date_backfills() -> None:
    config_dict: dict[str, Any] = {
        "kind": "grid", "concurrency": 1, "numRuns": 10,
        "params": {"dates": {"kind": "daterange", "value": {"start": "2019-06-22",
                                                             "stop": "2019-07-25", "step": 4}}}}
    out = V1GridSearch.from_dict(config_dict).to_dict()
    assert out["params"]["dates"]["value"] == {"start": date(2019, 6, 22),
                                               "stop": date(2019, 7, 25), "step": 4}
    assert {k: v for k, v in out.items() if k != "params"} == {
        "kind": "grid", "concurrency": 1, "numRuns": 10}
    config_dict["params"]["dates"] = {"kind": "datetimerange", "value": {
        "start": "2019-06-22T12:12:00", "stop": "2019-07-25T13:34:00", "step": 4 * 3600}}
    out = V1GridSearch.from_dict(config_dict).to_dict()
    assert out["params"]["dates"]["value"] == {"start": datetime(2019, 6, 22, 12, 12),
                                               "stop": datetime(2019, 7, 25, 13, 34),
                                               "step": timedelta(hours=4)}
    for bad in (-5, -0.5, 0.5):
        with pytest.raises(ValidationError):
            V1GridSearch.from_dict({**config_dict, "numRuns": bad})


# ====================================================================== random
@pytest.mark.parametrize("params, expected", [
    ({"feature1": {"kind": "choice", "value": [1, 2]},
      "feature3": {"kind": "range", "value": [1, 3, 1]}}, 4),
    ({"feature1": {"kind": "pchoice", "value": [(1, 0.1), (2, 0.6)]},
      "feature3": {"kind": "range", "value": [1, 3, 1]}}, 4),
    ({"feature1": {"kind": "choice", "value": [1, 2, 3]},
      "feature2": {"kind": "linspace", "value": [1, 2, 5]},
      "feature3": {"kind": "range", "value": [1, 5, 1]}}, 10),
    ({"feature1": {"kind": "pchoice", "value": [(1, 0.3), (2, 0.3), (3, 0.3)]},
      "feature2": {"kind": "uniform", "value": [0, 1]},
      "feature3": {"kind": "qlognormal", "value": [0, 0.5, 0.51]}}, 10),
])
def test_random_get_suggestions(params: dict[str, Any], expected: int) -> None:
    config = {"kind": "random", "concurrency": 2, "numRuns": 10, "params": params}
    m = matrix_from_polyaxon(config)
    assert m.optimizer_kwargs["total_max_jobs"] == expected
    strategy = m.build_strategy(objective_metric=LOSS)
    drawn = [strategy.suggest() for _ in range(expected)]
    assert len({str(s.parameters) for s in drawn}) == expected  # type: ignore[union-attr]


def test_random_search_config() -> None:
    config_dict: dict[str, Any] = {"kind": "random", "numRuns": 10,
                                   "params": {"lr": {"kind": "choice", "value": [[0.1], [0.9]]}}}
    assert V1RandomSearch.from_dict(config_dict).to_dict() == config_dict
    for bad in (-5, -0.5, 0.5):
        with pytest.raises(ValidationError):
            V1RandomSearch.from_dict({**config_dict, "numRuns": bad})
    config_dict["numRuns"] = 5
    assert V1RandomSearch.from_dict(config_dict).to_dict() == config_dict
    without = {"kind": "random", "concurrency": 1, "seed": 1, "earlyStopping": [],
               "params": {"lr": {"kind": "choice", "value": [1, 2, 3]}}}
    with pytest.raises(ValidationError, match="numRuns"):
        V1RandomSearch.from_dict(without)
    assert V1RandomSearch.from_dict({**without, "numRuns": 10}).to_dict() == {
        **without, "numRuns": 10}


# ====================================================================== iterative
def test_iterative_config() -> None:
    config_dict: dict[str, Any] = {"kind": "iterative", "maxIterations": 10,
                                   "tuner": {"hubRef": "org/my-matrix-tuner"}}
    assert V1Iterative.from_dict(config_dict).to_dict() == config_dict
    for bad in (-5, -0.5, 0.5):
        with pytest.raises(ValidationError):
            V1Iterative.from_dict({**config_dict, "maxIterations": bad})
    config_dict["maxIterations"] = 5
    assert V1Iterative.from_dict(config_dict).to_dict() == config_dict
    without = {"kind": "iterative", "seed": 1, "tuner": {"hubRef": "org/my-matrix-tuner"},
               "params": {"lr": {"kind": "choice", "value": [1, 2, 3]}}}
    with pytest.raises(ValidationError, match="maxIterations"):
        V1Iterative.from_dict(without)
    assert V1Iterative.from_dict({**without, "maxIterations": 10}).to_dict() == {
        **without, "maxIterations": 10}


def test_iterative_runs_a_users_strategy_in_iterations() -> None:
    config = {"kind": "iterative", "maxIterations": 2, "seed": 3, "concurrency": 3,
              "tuner": {"hubRef": "controller.strategies.grid_random:GridSearch"},
              "params": {"lr": {"kind": "choice", "value": [1, 2, 3, 4, 5, 6, 7, 8]}}}
    m = matrix_from_polyaxon(config)
    strategy = m.build_strategy(objective_metric=LOSS, batch_size=3)
    first = suggestions(strategy)
    assert [p["lr"] for p in first] == [1, 2, 3] and strategy.suggest() is WAIT
    for i, p in enumerate(first):
        strategy.on_trial_complete(Trial(f"job{i}", {"General/lr": p["lr"]},
                                         {"iteration": 0}, "completed", 1.0))
    second = suggestions(strategy)
    assert [p["lr"] for p in second] == [4, 5, 6]
    result = simulate(m.build_strategy(batch_size=3), lambda p, s: ([Report(1, 0, 1.0)], 1, False),
                      objective=LOSS, workers=3)
    # iterations 0, 1 and 2 (maxIterations), three configurations each, then the end
    assert [j.meta["iteration"] for j in result.jobs] == [0, 0, 0, 1, 1, 1, 2, 2]
    with pytest.raises(ValidationError, match="not a SearchStrategy"):
        matrix_from_polyaxon({**config, "tuner": {"hubRef": "controller.objective:Objective"}})


# ====================================================================== bayes
BAYES1 = {"kind": "bayes", "concurrency": 2, "maxIterations": 5, "numInitialRuns": 5,
          "metric": {"name": "loss", "optimization": "minimize"},
          "utilityFunction": {"acquisitionFunction": "ucb", "kappa": 1.2,
                              "gaussianProcess": {"kernel": "matern", "lengthScale": 1.0,
                                                  "nu": 1.9, "numRestartsOptimizer": 0}},
          "params": {"feature1": {"kind": "choice", "value": [1, 2, 3]},
                     "feature2": {"kind": "linspace", "value": [1, 2, 5]},
                     "feature3": {"kind": "range", "value": [1, 5, 1]}}}
BAYES2 = {"kind": "bayes", "concurrency": 2, "maxIterations": 4, "numInitialRuns": 4,
          "metric": {"name": "accuracy", "optimization": "maximize"},
          "utilityFunction": {"acquisitionFunction": "ei", "eps": 1.2,
                              "gaussianProcess": {"kernel": "matern", "lengthScale": 1.0,
                                                  "nu": 1.9, "numRestartsOptimizer": 0}},
          "params": {"feature1": {"kind": "choice", "value": [1, 2, 3, 4, 5]},
                     "feature2": {"kind": "linspace", "value": [1, 5, 5]},
                     "feature3": {"kind": "range", "value": [1, 6, 1]},
                     "feature4": {"kind": "uniform", "value": [1, 5]},
                     "feature5": {"kind": "choice", "value": ["a", "b", "c"]}}}


def test_first_get_suggestions_returns_initial_random_suggestion() -> None:
    assert len(suggestions(build(BAYES1))) == 5
    assert len(suggestions(build(BAYES2, ACCURACY))) == 4


def test_iteration_suggestions_calls_optimizer_once_every_run_ended() -> None:
    strategy = build(BAYES1)
    initial = suggestions(strategy)
    assert strategy.suggest() is WAIT  # Polyaxon waits for the whole pipeline
    for i, config in enumerate(initial):
        assert strategy.suggest() is WAIT
        strategy.on_trial_complete(Trial(f"job{i}", {f"General/{k}": v for k, v in config.items()},
                                         {}, "completed", float(i)))
    nxt = strategy.suggest()
    assert isinstance(nxt, Suggestion) and nxt.meta["source"] == "gp"
    strategy.on_trial_start("gp0", nxt)
    assert strategy.suggest() is WAIT  # one suggestion per iteration


def bounds(encoder: SpaceEncoder) -> dict[str, tuple[float, float]]:
    return {d.name.split("/")[1]: (d.low, d.high) for d in encoder.dimensions  # type: ignore[union-attr, attr-defined]
            if getattr(d, "numeric", True)}


def test_space_search() -> None:
    space1 = SpaceEncoder(build(BAYES1).space)
    assert space1.width == 3 and len(space1.dimensions) == 3
    assert bounds(space1) == {"feature1": (1, 3), "feature2": (1, 2), "feature3": (1, 5)}
    points = {d.name.split("/")[1]: d.points for d in space1.dimensions}  # type: ignore[union-attr]
    assert points["feature1"] == [1, 2, 3]
    assert points["feature2"] == [1.0, 1.25, 1.5, 1.75, 2.0]
    assert points["feature3"] == [1, 2, 3, 4]

    space2 = SpaceEncoder(build(BAYES2, ACCURACY).space)
    assert space2.width == 7 and len(space2.dimensions) == 5
    assert bounds(space2) == {"feature1": (1, 5), "feature2": (1, 5), "feature3": (1, 6),
                              "feature4": (1, 5)}
    categorical = [d for d in space2.dimensions if d.width > 1]
    assert [(d.name, d.points, d.width) for d in categorical] == [  # type: ignore[attr-defined]
        ("General/feature5", ["a", "b", "c"], 3)]
    points = {d.name.split("/")[1]: d.points for d in space2.dimensions}  # type: ignore[union-attr]
    assert points["feature1"] == [1, 2, 3, 4, 5]
    assert points["feature2"] == [1, 2, 3, 4, 5]
    assert points["feature3"] == [1, 2, 3, 4, 5]


def unit(encoder: SpaceEncoder, raw: list[float]) -> np.ndarray:
    """hypertune's raw point (numeric features as values, categorical ones one-hot) in the
    unit cube."""
    out, i = [], 0
    for d in encoder.dimensions:
        if d.width == 1:
            out.append((raw[i] - d.low) / d.span)  # type: ignore[attr-defined]
        else:
            out.extend(raw[i:i + d.width])
        i += d.width
    return np.array(out)


def test_add_observation_to_space_search() -> None:
    space1 = SpaceEncoder(build(BAYES1).space)
    configs = [{"General/feature1": 1, "General/feature2": 1, "General/feature3": 1},
               {"General/feature1": 2, "General/feature2": 1.2, "General/feature3": 2},
               {"General/feature1": 3, "General/feature2": 1.3, "General/feature3": 3}]
    x = np.array([space1.encode(c) for c in configs])
    assert x.shape == (3, 3)
    assert np.allclose(x, [unit(space1, [1, 1, 1]), unit(space1, [2, 1.2, 2]),
                           unit(space1, [3, 1.3, 3])])
    strategy = build(BAYES1)
    assert [-strategy.loss(m) for m in (1, 2, 3)] == [-1, -2, -3]  # y, minimized

    space2 = SpaceEncoder(build(BAYES2, ACCURACY).space)
    configs = [{"General/feature1": 1, "General/feature2": 1, "General/feature3": 1,
                "General/feature4": 1, "General/feature5": "a"},
               {"General/feature1": 2, "General/feature2": 1.2, "General/feature3": 2,
                "General/feature4": 4, "General/feature5": "b"},
               {"General/feature1": 3, "General/feature2": 1.3, "General/feature3": 3,
                "General/feature4": 3, "General/feature5": "a"}]
    x = np.array([space2.encode(c) for c in configs])
    assert x.shape == (3, 7)
    assert np.allclose(x, [unit(space2, [1, 1, 1, 1, 1, 0, 0]), unit(space2, [2, 1.2, 2, 4, 0, 1, 0]),
                           unit(space2, [3, 1.3, 3, 3, 1, 0, 0])])
    assert [-build(BAYES2, ACCURACY).loss(m) for m in (1, 2, 3)] == [1, 2, 3]  # y, maximized


def test_space_get_suggestion() -> None:
    space1 = SpaceEncoder(build(BAYES1).space)
    for raw, expected in (([1, 1, 1], (1, 1, 1)), ([1, 1.2, 2], (1, 1.25, 2)),
                          ([1, 1.5, 3], (1, 1.5, 3))):
        assert space1.decode(unit(space1, raw)) == {
            f"General/feature{i + 1}": v for i, v in enumerate(expected)}
    space2 = SpaceEncoder(build(BAYES2, ACCURACY).space)
    for raw, expected in (([1, 1, 1, 1, 1, 0, 0], (1, 1, 1, 1, "a")),
                          ([1, 1.2, 2, 3, 0, 0, 1], (1, 1, 2, 3, "c")),
                          ([1, 1.8, 3, 3, 0, 1, 0], (1, 2, 3, 3, "b"))):
        assert space2.decode(unit(space2, raw)) == {
            f"General/feature{i + 1}": v for i, v in enumerate(expected)}


def observe(strategy: BayesianGP, configs: list[dict[str, Any]], metrics: list[float]) -> None:
    for i, (config, metric) in enumerate(zip(configs, metrics)):
        params = {f"General/{k}": v for k, v in config.items()}
        suggestion = Suggestion(params, {"index": i})
        strategy.on_trial_start(f"seen{i}", suggestion)
        strategy.on_trial_complete(Trial(f"seen{i}", params, {}, "completed", metric))


def gp_suggestion(config: dict[str, Any], objective: Objective, configs: list[dict[str, Any]],
                  metrics: list[float]) -> dict[str, Any]:
    fast = {**config, "utilityFunction": {**config["utilityFunction"], "numWarmup": 1,
                                          "numIterations": 1},
            "numInitialRuns": 1}
    strategy = build(fast, objective)
    assert isinstance(strategy, BayesianGP)
    suggestions(strategy)  # the initial batch
    observe(strategy, configs, metrics)
    strategy.on_trial_complete(Trial("job0", {}, {}, "failed"))
    s = strategy.suggest()
    assert isinstance(s, Suggestion) and s.meta["source"] == "gp"
    return {k.split("/", 1)[1]: v for k, v in s.parameters.items()}


def test_optimizer_get_suggestion() -> None:
    configs = [{"feature1": f1, "feature2": f2, "feature3": f3} for f1, f2, f3 in [
        (1, 1, 1), (1, 1.2, 1), (1, 1, 1), (1, 1.11, 1), (1, 1.1, 1), (1, 1.21, 1), (2, 2, 2),
        (3, 2, 2), (2, 1.8, 3), (3, 2, 3), (2, 2, 2), (3, 2, 2), (2, 1.8, 3), (3, 2, 3)]]
    metrics = [0, 1.1, 0.1, 0.1, 1.09, 0.4, 100, 200, 200, 300, 110, 210, 210, 310]
    suggestion = gp_suggestion(BAYES1, LOSS, configs, metrics)
    assert 1 <= suggestion["feature1"] <= 3
    assert 1 <= suggestion["feature2"] <= 2
    assert 1 <= suggestion["feature3"] <= 5

    configs = [{"feature1": 1, "feature2": 1, "feature3": 1, "feature4": 1, "feature5": "a"},
               {"feature1": 2, "feature2": 1.2, "feature3": 2, "feature4": 4, "feature5": "b"},
               {"feature1": 3, "feature2": 1.3, "feature3": 3, "feature4": 3, "feature5": "a"}]
    suggestion = gp_suggestion(BAYES2, ACCURACY, configs, [1, 2, 3])
    assert 1 <= suggestion["feature1"] <= 5
    assert 1 <= suggestion["feature2"] <= 5
    assert 1 <= suggestion["feature3"] <= 6
    assert 1 <= suggestion["feature4"] <= 5
    assert suggestion["feature5"] in ["a", "b", "c"]


def test_concrete_example() -> None:
    config = {"kind": "bayes", "concurrency": 2, "maxIterations": 5, "numInitialRuns": 10,
              "metric": {"name": "loss", "optimization": "minimize"},
              "utilityFunction": {"acquisitionFunction": "ucb", "kappa": 2.576,
                                  "gaussianProcess": {"kernel": "matern", "lengthScale": 1.0,
                                                      "nu": 1.9, "numRestartsOptimizer": 0},
                                  "numWarmup": 1, "numIterations": 1},
              "params": {"learning_rate": {"kind": "uniform", "value": [0.001, 0.01]},
                         "dropout": {"kind": "choice", "value": [0.25, 0.3]},
                         "activation": {"kind": "choice", "value": ["relu", "sigmoid"]}}}
    rows = [(0.004544653508229265, "sigmoid", 0.3, 2.3018131256103516),
            (0.005615296199690899, "sigmoid", 0.3, 2.302884340286255),
            (0.008784330869587902, "sigmoid", 0.25, 2.3071441650390625),
            (0.0058591075447430065, "sigmoid", 0.3, 2.3034636974334717),
            (0.007464080062927171, "sigmoid", 0.25, 2.301487922668457),
            (0.0024763129571936738, "relu", 0.3, 0.05087224021553993),
            (0.0074881581817925705, "sigmoid", 0.3, 2.3032383918762207),
            (0.003360405779075163, "relu", 0.3, 0.06383182853460312),
            (0.009916904455792564, "sigmoid", 0.25, 2.3120572566986084),
            (0.000881723263162717, "sigmoid", 0.3, 0.7617478370666504)]
    configs = [{"num_epochs": 1, "num_steps": 300, "batch_size": 128, "learning_rate": lr,
                "activation": act, "dropout": dropout} for lr, act, dropout, _ in rows]
    suggestion = gp_suggestion(config, LOSS, configs, [m for *_, m in rows])
    assert 0.001 <= suggestion["learning_rate"] <= 0.01
    assert suggestion["dropout"] in [0.25, 0.3]
    assert suggestion["activation"] in ["relu", "sigmoid"]


def test_bayes_runs_initial_runs_plus_max_iterations_and_accepts_any_nu() -> None:
    for nu in (0.5, 1.9, 2.5, 3.7):
        config = {**BAYES1, "utilityFunction": {**BAYES1["utilityFunction"], "numWarmup": 20,
                                                "numIterations": 2,
                                                "gaussianProcess": {"nu": nu}}}
        m = matrix_from_polyaxon(config)
        result = simulate(m.build_strategy(), lambda p, s: (
            [Report(1, 0, (p["General/feature2"] - 1.5) ** 2)], 1, False),
            objective=LOSS, workers=2)
        assert len(result.jobs) == 5 + 5
        assert [j.meta["iteration"] for j in result.jobs] == [0] * 5 + [1, 2, 3, 4, 5]
        assert [j.meta["source"] for j in result.jobs][5:] == ["gp"] * 5
    with pytest.raises(ValidationError, match="nu must be > 0"):
        V1Bayes.from_dict({**BAYES1, "utilityFunction": {"kappa": 1, "gaussianProcess": {
            "nu": 0}}})


# ====================================================================== hyperopt
def test_hyperopt_rand_suggestions() -> None:
    params = {"lr": {"kind": "uniform", "value": [0.01, 0.5]},
              "dropout": {"kind": "uniform", "value": [0.01, 0.99]},
              "batch": {"kind": "choice", "value": [32, 64, 126, 256]},
              "optimizer": {"kind": "choice", "value": ["sgd", "adagrad", "adam", "ftrl"]}}
    for algorithm in ("rand", "tpe"):
        config = {"kind": "hyperopt", "concurrency": 2, "algorithm": algorithm, "numRuns": 10,
                  "metric": {"name": "loss", "optimization": "minimize"}, "params": params}
        assert V1Hyperopt.from_dict(config).algorithm == algorithm
        strategy = build({**config, "maxIterations": 1})
        drawn = suggestions(strategy, limit=10)
        assert len(drawn) == 10
        for suggestion in drawn:
            assert 0.99 >= suggestion["dropout"] >= 0.01
            assert 0.5 >= suggestion["lr"] >= 0.01
            assert suggestion["batch"] in [32, 64, 126, 256]
            assert suggestion["optimizer"] in ["sgd", "adagrad", "adam", "ftrl"]


# ====================================================================== early stopping schema
@pytest.mark.parametrize("config_dict", [
    {"kind": "metric_early_stopping", "metric": "loss", "value": 0.1,
     "optimization": V1Optimization.MINIMIZE, "policy": {"kind": "median",
                                                         "evaluationInterval": 1}},
    {"kind": "metric_early_stopping", "metric": "loss", "value": 0.1,
     "optimization": V1Optimization.MINIMIZE,
     "policy": {"kind": "diff", "evaluationInterval": 1, "minSamples": 3, "percent": 0.1}},
    {"kind": "metric_early_stopping", "metric": "loss", "value": 0.1,
     "optimization": V1Optimization.MAXIMIZE,
     "policy": {"kind": "truncation", "percent": 0.5, "evaluationInterval": 1}},
])
def test_metric_early_stopping_with_policies(config_dict: dict[str, Any]) -> None:
    assert V1MetricEarlyStopping.from_dict(config_dict).to_dict() == config_dict


def test_metric_and_failure_early_stopping() -> None:
    config_dict = {"kind": "metric_early_stopping", "metric": "loss", "value": 0.1,
                   "optimization": V1Optimization.MAXIMIZE}
    config_to_dict = V1MetricEarlyStopping.from_dict(config_dict).to_dict()
    assert config_to_dict.pop("optimization") == V1Optimization.MAXIMIZE
    assert config_to_dict == {k: v for k, v in config_dict.items() if k != "optimization"}
    failure = {"kind": "failure_early_stopping", "percent": 0.3}
    assert V1FailureEarlyStopping.from_dict(failure).to_dict() == failure


# ====================================================================== documented semantics
def test_concurrency_above_the_possible_runs_is_clamped() -> None:
    grid = {"kind": "grid", "concurrency": 50,
            "params": {"a": {"kind": "choice", "value": [1, 2, 3]}}}
    assert matrix_from_polyaxon(grid).max_number_of_concurrent_tasks == 3
    assert matrix_from_polyaxon({**grid, "numRuns": 2}).max_number_of_concurrent_tasks == 2
    assert matrix_from_polyaxon({**grid, "concurrency": 2}).max_number_of_concurrent_tasks == 2
    assert matrix_from_polyaxon({"kind": "mapping", "concurrency": 9, "values": [{"a": 1}]}
                                ).max_number_of_concurrent_tasks == 1
    bayes_ = matrix_from_polyaxon({**BAYES1, "concurrency": 100})
    assert bayes_.max_number_of_concurrent_tasks == 5 + 5
    # unset: Polyaxon's "unlimited", i.e. every run the matrix can create
    assert matrix_from_polyaxon({k: v for k, v in grid.items() if k != "concurrency"}
                                ).max_number_of_concurrent_tasks == 3
    hyperopt = {"kind": "hyperopt", "numRuns": 4, "metric": {"name": "loss"},
                "params": {"a": {"kind": "uniform", "value": [0, 1]}}}
    assert matrix_from_polyaxon(hyperopt).max_number_of_concurrent_tasks is None  # unbounded


def flat_loss(value: float) -> Any:
    def run(parameters: dict[str, Any], start: int) -> tuple[list[Report], float, bool]:
        lr = parameters["General/lr"]
        return [Report(float(e + 1), e, value if lr == 3 else 1.0) for e in range(5)], 5.0, False
    return run


def test_metric_early_stopping_ends_every_running_and_pending_operation() -> None:
    m = matrix_from_polyaxon({
        "kind": "mapping", "concurrency": 3, "values": [{"lr": i} for i in range(10)],
        "earlyStopping": [{"kind": "metric_early_stopping", "metric": "loss", "value": 0.05,
                           "optimization": "minimize"}]})
    result = simulate(m.build_strategy(), flat_loss(0.04), objective=LOSS, workers=3,
                      policies=build_policies(m.early_stopping))
    assert "early stopping" in result.reason
    # lr 3 starts once a slot frees; it reaches 0.04 at its first report: the jobs running then
    # are stopped, and the six pending entries never start
    assert [j.parameters["General/lr"] for j in result.jobs] == [0, 1, 2, 3, 4, 5]
    assert all(j.status in ("completed", "stopped") for j in result.jobs)
    assert sum(j.status == "stopped" for j in result.jobs) == 3


def test_failure_early_stopping_counts_every_created_run() -> None:
    m = matrix_from_polyaxon({
        "kind": "mapping", "concurrency": 2, "values": [{"lr": i} for i in range(8)],
        "earlyStopping": [{"kind": "failure_early_stopping", "percent": 50}]})

    def run(parameters: dict[str, Any], start: int) -> tuple[list[Report], float, bool]:
        fails = parameters["General/lr"] in (1, 2)
        return [Report(1.0, 0, 0.5)], 1.0 + parameters["General/lr"], fails

    result = simulate(m.build_strategy(), run, objective=LOSS, workers=2,
                      policies=build_policies(m.early_stopping))
    assert "2 of 4 jobs failed" in result.reason
    assert len(result.jobs) == 4 and math.isfinite(result.jobs[0].ended_at or math.nan)
