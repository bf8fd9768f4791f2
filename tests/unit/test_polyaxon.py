"""Polyaxon's matrix: the param generators (forms, values, validation, sampling, round trips),
the kind -> strategy mapping, early stopping, and end-to-end runs in simulated time."""

from __future__ import annotations

import json
import math
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml

from controller.cli import main
from controller.objective import Objective
from controller.optimizer import HyperParameterOptimizer
from controller.parameters import (
    DiscreteParameterRange,
    LogUniformParameterRange,
    Parameter,
    SearchSpace,
    UniformParameterRange,
)
from controller.polyaxon import (
    NormalParameter,
    PChoiceParameter,
    PolyaxonPChoice,
    QUniformParameter,
    matrix_from_polyaxon,
    optimizer_from_polyaxon,
    parameters_from_polyaxon,
)
from controller.simulate import Report, simulate
from controller.stopping import (
    DiffStopping,
    FailureRate,
    MedianStopping,
    MetricThreshold,
    TruncationStopping,
    build_policies,
)
from controller.strategies import BayesianGP, GridSearch, Hyperband, Mapping, RandomSearch
from workers import Store
from workers.task import Task

from .test_report import base_task, inline_workers  # noqa: F401 - a fixture

OBJECTIVE = Objective("val", "loss", "min")
MINIMIZE = {"name": "loss", "optimization": "minimize"}


def one(kind: str, value: Any, name: str = "p") -> Parameter:
    return parameters_from_polyaxon({name: {"kind": kind, "value": value}})[0]


def values(kind: str, value: Any) -> list[Any]:
    parameter = one(kind, value)
    assert isinstance(parameter, DiscreteParameterRange)
    return parameter.values


# ====================================================================== param generators
def test_range_linspace_and_the_other_discrete_kinds() -> None:
    assert values("range", [1, 10, 2]) == [1, 3, 5, 7, 9]
    assert all(type(v) is int for v in values("range", [1, 10, 2]))
    assert values("linspace", [1, 2, 5]) == [1.0, 1.25, 1.5, 1.75, 2.0]
    assert values("logspace", [1, 3, 3]) == [10.0, 100.0, 1000.0]
    assert values("logspace", [1, 3, 3, 2]) == [2.0, 4.0, 8.0]
    assert values("geomspace", [1, 1000, 4]) == [1.0, 10.0, 100.0, 1000.0]
    assert values("choice", [1, "a", None, [2]]) == [1, "a", None, [2]]
    # numpy's values exactly: np.arange(1, 1.3, 0.1) ends with 1.3000000000000003
    assert values("range", [0.1, 0.5, 0.1]) == np.arange(0.1, 0.5, 0.1).tolist()
    assert values("range", [0.1, 0.5, 0.1])[2] == 0.30000000000000004
    assert values("range", "1:1.3:0.1") == [1.0, 1.1, 1.2000000000000002, 1.3000000000000003]
    assert values("daterange", ["2019-06-22", "2019-06-25", 1]) == [
        "2019-06-22", "2019-06-23", "2019-06-24"]
    assert values("datetimerange", {"start": "2019-06-22 21:00", "stop": "2019-06-22 23:00",
                                    "step": 3600}) == ["2019-06-22 21:00:00",
                                                       "2019-06-22 22:00:00"]


@pytest.mark.parametrize("kind, forms", [
    ("range", ([1, 10, 2], {"start": 1, "stop": 10, "step": 2}, "1:10:2")),
    ("linspace", ([1, 10, 4], {"start": 1, "stop": 10, "num": 4}, "1:10:4")),
    ("logspace", ([1, 3, 3, 2], {"start": 1, "stop": 3, "num": 3, "base": 2}, "1:3:3:2")),
    ("geomspace", ([1, 100, 3], {"start": 1, "stop": 100, "num": 3}, "1:100:3")),
    ("uniform", ([0, 1], {"low": 0, "high": 1}, "0:1")),
    ("quniform", ([0, 1, 0.1], {"low": 0, "high": 1, "q": 0.1}, "0:1:0.1")),
    ("loguniform", ([-3, 0], {"low": -3, "high": 0}, "-3:0")),
    ("qloguniform", ([0, 3, 1], {"low": 0, "high": 3, "q": 1}, "0:3:1")),
    ("normal", ([0, 1], {"loc": 0, "scale": 1}, "0:1")),
    ("qnormal", ([0, 1, 0.5], {"loc": 0, "scale": 1, "q": 0.5}, "0:1:0.5")),
    ("lognormal", ([0, 1], {"loc": 0, "scale": 1}, "0:1")),
    ("qlognormal", ([0, 1, 2], {"loc": 0, "scale": 1, "q": 2}, "0:1:2")),
])
def test_list_dict_and_string_forms_agree(kind: str, forms: tuple[Any, ...]) -> None:
    built = [one(kind, form) for form in forms]
    assert built[0] == built[1] == built[2]


def test_the_kinds_map_onto_these_classes() -> None:
    assert one("uniform", [0, 2]) == UniformParameterRange("General/p", 0, 2)
    assert one("loguniform", [-3, 0]) == LogUniformParameterRange("General/p", -3, 0, math.e)
    assert one("quniform", [0, 1, 0.1]) == QUniformParameter("General/p", 0, 1, 0.1)
    assert one("qloguniform", [0, 3, 1]) == QUniformParameter("General/p", 0, 3, 1, log=True)
    assert one("normal", [0, 1]) == NormalParameter("General/p", 0, 1)
    assert one("qnormal", [0, 1, 0.5]) == NormalParameter("General/p", 0, 1, q=0.5)
    assert one("lognormal", [0, 1]) == NormalParameter("General/p", 0, 1, log=True)
    assert one("qlognormal", [0, 1, 2]) == NormalParameter("General/p", 0, 1, 2, log=True)
    assert one("pchoice", [["a", 0.3], ["b", 0.7]]) == PolyaxonPChoice(
        "General/p", [["a", 0.3], ["b", 0.7]])
    assert isinstance(one("pchoice", [["a", 0.3], ["b", 0.7]]), PChoiceParameter)
    assert one("choice", [1, 2], name="Args/x").name == "Args/x"


@pytest.mark.parametrize("kind, value, match", [
    ("pchoice", [["a", 0.7], ["b", 0.7]], "sum to 1.4"),
    ("pchoice", [["a", 1.5]], r"in \[0, 1\)"),
    ("pchoice", [["a", 1.0]], r"in \[0, 1\)"),
    ("pchoice", [["a"]], "pairs"),
    ("pchoice", [], "non-empty"),
    ("choice", [], "non-empty"),
    ("choice", "1:2", "list"),
    ("range", [1, 10], "3 elements"),
    ("range", [1, 10, 2, 4], "3 elements"),
    ("range", [10, 1, 1], "greater than start"),
    ("range", [1, 1, 1], "greater than start"),
    ("range", [1, 10, 0], "step cannot be 0"),
    ("range", [1, 10, -1], "no values"),
    ("range", {"start": 1, "stop": 2}, "missing: step"),
    ("range", {"start": 1, "stop": 2, "step": 1, "by": 1}, "unknown: by"),
    ("range", "1:x:2", "'x' is not a number"),
    ("range", [1, "x", 2], "'x' is not a number"),
    ("range", [1, [10], 2], "must be a number"),
    ("linspace", [1, 2, 0], "num cannot be 0"),
    ("linspace", [1, 2, 2.5], "integer"),
    ("logspace", [2, 1, 3], "greater than start"),
    ("geomspace", [-1, 1, 3], "geomspace"),
    ("daterange", ["2019-06-25", "2019-06-22", 1], "greater than start"),
    ("daterange", "2019-06-22:2019-06-25:1", "does not accept"),
    ("daterange", ["2019-06-22", "2019-06-25", 0], "step cannot be 0"),
    ("uniform", [1], "2 or 3 elements"),
    ("uniform", [0, 1, 5], "size 5"),
    ("uniform", [2, 1], "min_value 2.0 > max_value"),
    ("quniform", [0, 1, 0], "q cannot be 0"),
    ("quniform", [0, 1, -0.1], "q must be > 0"),
    ("normal", [0, -1], "scale must be >= 0"),
    ("qnormal", [0, 1, 0], "q cannot be 0"),
    ("gaussian", [0, 1], "unknown param kind 'gaussian'"),
])
def test_validation_names_the_parameter(kind: str, value: Any, match: str) -> None:
    with pytest.raises(ValueError, match=match) as info:
        one(kind, value)
    assert "General/p" in str(info.value)


def test_a_param_is_kind_and_value() -> None:
    with pytest.raises(ValueError, match="kind"):
        parameters_from_polyaxon({"p": {"kind": "choice", "values": [1]}})
    with pytest.raises(ValueError, match="dict"):
        parameters_from_polyaxon([{"kind": "choice", "value": [1]}])  # type: ignore[arg-type]


def test_pchoice_sums_a_little_above_one_pass_and_below_one_leave_the_rest_to_the_last() -> None:
    one("pchoice", [["a", 0.7], ["b", 0.2], ["c", 0.1]])  # 1.0000000000000002 in floats
    parameter = one("pchoice", [["a", 0.2], ["b", 0.3]])
    rng = np.random.default_rng(0)
    counts = Counter(parameter.get_value(rng)["General/p"] for _ in range(4000))
    assert counts["a"] / 4000 == pytest.approx(0.2, abs=0.03)
    assert counts["b"] / 4000 == pytest.approx(0.8, abs=0.03)


ALL_KINDS = {
    "choice": [1, "a"], "pchoice": [["a", 0.2], ["b", 0.8]], "range": [1, 10, 2],
    "linspace": [0, 1, 5], "logspace": [-3, -1, 3], "geomspace": [1, 8, 4],
    "daterange": ["2019-06-22", "2019-06-25", 1],
    "datetimerange": ["2019-06-22T21:00", "2019-06-23T01:00", 3600],
    "uniform": [0.5, 2], "quniform": [0, 1, 0.1], "loguniform": [-3, 0],
    "qloguniform": [0, 3, 1], "normal": [1, 2], "qnormal": [0, 3, 0.5], "lognormal": [0, 1],
    "qlognormal": [1, 1, 2],
}
PARAMS = {f"p_{kind}": {"kind": kind, "value": value} for kind, value in ALL_KINDS.items()}


def test_seeded_sampling_is_reproducible_and_inside_the_ranges() -> None:
    space = SearchSpace(parameters_from_polyaxon(PARAMS))
    first = [space.sample(np.random.default_rng(5)) for _ in range(3)]
    assert first == [space.sample(np.random.default_rng(5)) for _ in range(3)]
    rng = np.random.default_rng(1)
    samples = [space.sample(rng) for _ in range(500)]
    assert all(space.contains(s) for s in samples)
    q = [s["General/p_quniform"] for s in samples]
    assert set(q) <= {0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9}  # floored, never 1.0
    assert all(0.5 <= s["General/p_uniform"] <= 2 for s in samples)
    assert all(math.exp(-3) <= s["General/p_loguniform"] <= 1 for s in samples)
    assert all(type(s["General/p_qloguniform"]) is int and 1 <= s["General/p_qloguniform"] <= 20
               for s in samples)
    assert all(s["General/p_qlognormal"] % 2 == 0 and s["General/p_lognormal"] > 0
               for s in samples)
    assert np.mean([s["General/p_normal"] for s in samples]) == pytest.approx(1, abs=0.3)


def test_polyaxon_quantisation_floors() -> None:
    parameter = QUniformParameter("General/q", 0, 10, 3)

    class Fixed:
        def uniform(self, low: float, high: float) -> float:
            return 5.9

    assert parameter.get_value(Fixed())["General/q"] == 3  # type: ignore[arg-type]
    assert parameter.contains({"General/q": 9}) and not parameter.contains({"General/q": 4})
    assert not parameter.contains({"General/q": 12}) and not parameter.contains({})
    assert NormalParameter("General/n", 0, 1, q=0.5).contains({"General/n": -1.5})
    assert not NormalParameter("General/n", 0, 1, log=True).contains({"General/n": -1.0})


def test_to_dict_from_dict_round_trips() -> None:
    for parameter in parameters_from_polyaxon(PARAMS):
        data = parameter.to_dict()
        assert Parameter.from_dict(data) == parameter
        assert Parameter.from_dict(data).to_dict() == data


def test_distributions_have_no_grid() -> None:
    for kind in ("quniform", "qloguniform", "normal", "qnormal", "lognormal", "qlognormal"):
        with pytest.raises(ValueError, match="cannot be used with grid search"):
            one(kind, ALL_KINDS[kind]).to_list()
    with pytest.raises(ValueError, match="cannot be used with grid search"):
        GridSearch(hyper_parameters=[NormalParameter("General/n", 0, 1)])


# ====================================================================== matrix kinds
GRID = {"kind": "grid", "params": {"a": {"kind": "choice", "value": ["x", "y", "z"]},
                                   "b": {"kind": "range", "value": [1, 5, 1]}}}


def suggestions(strategy: Any) -> list[dict[str, Any]]:
    out = []
    while (s := strategy.suggest()) is not None:
        out.append(s.parameters)
    return out


def test_grid_is_the_product_in_params_order_and_num_runs_truncates() -> None:
    m = matrix_from_polyaxon(GRID)
    assert m.optimizer_class is GridSearch and m.optimizer_kwargs == {}
    points = suggestions(m.build_strategy())
    assert len(points) == 12
    assert points[:2] == [{"General/a": "x", "General/b": 1}, {"General/a": "x", "General/b": 2}]
    assert matrix_from_polyaxon({**GRID, "numRuns": 5}).optimizer_kwargs == {"total_max_jobs": 5}


def test_grid_rejects_distributions() -> None:
    for kind in ("uniform", "loguniform", "pchoice", "normal"):
        with pytest.raises(ValueError, match="cannot be used with grid search"):
            matrix_from_polyaxon({"kind": "grid", "params": {"u": {"kind": kind,
                                                                   "value": ALL_KINDS[kind]}}})


def test_random_is_seeded_and_takes_num_runs() -> None:
    matrix = {"kind": "random", "numRuns": 6, "seed": 523, "params": PARAMS}
    m = matrix_from_polyaxon(matrix)
    assert m.optimizer_class is RandomSearch
    assert m.optimizer_kwargs == {"total_max_jobs": 6, "seed": 523}
    first, second = m.build_strategy(), m.build_strategy()
    assert [first.suggest() for _ in range(6)] == [second.suggest() for _ in range(6)]
    with pytest.raises(ValueError, match="missing field.*numRuns"):
        matrix_from_polyaxon({"kind": "random", "params": PARAMS})
    with pytest.raises(ValueError, match="numRuns must be a positive integer"):
        matrix_from_polyaxon({**matrix, "numRuns": 0})


def test_mapping_keys_and_concurrency() -> None:
    m = matrix_from_polyaxon({"kind": "mapping", "values": [{"lr": 0.1}, {"lr": 0.2}],
                              "concurrency": 1})
    assert (m.optimizer_class, m.hyper_parameters, m.optimizer_kwargs,
            m.max_number_of_concurrent_tasks) == (Mapping, [], {"values": [{"lr": 0.1},
                                                                           {"lr": 0.2}]}, 1)


HYPERBAND = {"kind": "hyperband", "maxIterations": 9, "eta": 3,
             "resource": {"name": "epochs", "type": "int"}, "metric": MINIMIZE,
             "resume": False, "seed": 7, "concurrency": 4,
             "params": {"x": {"kind": "uniform", "value": [0, 1]},
                        "act": {"kind": "choice", "value": ["relu", "tanh"]}}}


def test_hyperband_goes_through_from_polyaxon_keys() -> None:
    m = matrix_from_polyaxon(HYPERBAND)
    assert m.optimizer_class is Hyperband and m.sign == "min"
    assert m.max_number_of_concurrent_tasks == 4
    assert m.optimizer_kwargs == {"max_iterations": 9, "eta": 3, "resume": False, "seed": 7,
                                  "resource": {"name": "epochs", "type": "int"},
                                  "metric": MINIMIZE}
    snake = {"kind": "hyperband", "max_iterations": 9, "eta": 3, "resource": "epochs",
             "seed": 7}
    assert matrix_from_polyaxon(snake).optimizer_kwargs["max_iterations"] == 9
    with pytest.raises(ValueError, match="contradicts"):
        matrix_from_polyaxon(HYPERBAND, Objective("val", "loss", "max"))


def test_bayes_takes_its_fields_and_rejects_non_uniform_distributions() -> None:
    matrix = {"kind": "bayes", "numInitialRuns": 5, "maxIterations": 3, "seed": 1,
              "metric": {"name": "acc", "optimization": "maximize"},
              "utilityFunction": {"acquisitionFunction": "ei", "eps": 0.1},
              "params": {"x": {"kind": "uniform", "value": [0, 1]},
                         "n": {"kind": "range", "value": [1, 5, 1]}}}
    m = matrix_from_polyaxon(matrix)
    assert m.optimizer_class is BayesianGP and m.sign == "max"
    strategy = m.build_strategy(objective_metric=Objective("val", "acc", "max"))
    assert (strategy.num_initial_runs, strategy.max_iterations,
            strategy.utility.acquisition_function) == (5, 3, "ei")
    for kind in ("normal", "loguniform", "quniform", "pchoice"):
        with pytest.raises(ValueError, match="non uniform distribution"):
            matrix_from_polyaxon({**matrix, "params": {"d": {"kind": kind,
                                                             "value": ALL_KINDS[kind]}}})
    with pytest.raises(ValueError, match="missing field.*metric"):
        matrix_from_polyaxon({k: v for k, v in matrix.items() if k != "metric"})
    with pytest.raises(ValueError, match="kappa"):  # ucb without kappa, from BayesianGP
        matrix_from_polyaxon({**matrix, "utilityFunction": {"acquisitionFunction": "ucb"}}
                             ).build_strategy()


def test_hyperopt_algorithms() -> None:
    from controller.strategies.optuna_search import OptimizerOptuna

    base = {"kind": "hyperopt", "numRuns": 5, "maxIterations": 2, "metric": MINIMIZE,
            "params": {"lr": {"kind": "loguniform", "value": [-5, 0]},
                       "n": {"kind": "choice", "value": [1, 2]}}}
    tpe = matrix_from_polyaxon(base)
    assert tpe.optimizer_class is OptimizerOptuna
    assert tpe.optimizer_kwargs == {"total_max_jobs": 15}
    normal = {"q": {"kind": "qnormal", "value": [0, 1, 1]}}
    with pytest.raises(ValueError, match="no Optuna distribution"):
        matrix_from_polyaxon({**base, "algorithm": "tpe", "params": normal})
    rand = matrix_from_polyaxon({**base, "algorithm": "rand", "params": normal})
    assert rand.optimizer_class is RandomSearch
    assert matrix_from_polyaxon({k: v for k, v in base.items() if k != "maxIterations"}
                                ).optimizer_kwargs == {}
    with pytest.raises(ValueError, match="anneal"):
        matrix_from_polyaxon({**base, "algorithm": "anneal"})
    with pytest.raises(ValueError, match="pchoice cannot be used with hyperopt"):
        matrix_from_polyaxon({**base, "algorithm": "rand",
                              "params": {"c": {"kind": "pchoice", "value": [["a", 0.9]]}}})


@pytest.mark.parametrize("matrix, match", [
    ({"kind": "iterative", "maxIterations": 3}, "iterative needs tuner.hubRef"),
    ({"kind": "iterative", "maxIterations": 3, "tuner": {"hubRef": "acme/tuner"}},
     "'module:Class'"),
    ({"params": {}}, "kind"),
    ({"kind": "sobol"}, "kind"),
    ({**GRID, "seed": 1}, "unknown field.*seed"),
    ({**GRID, "fooBar": 1}, "unknown field.*fooBar"),
    ({**GRID, "numRuns": 3, "num_runs": 3}, "twice"),
    ({**GRID, "concurrency": 0}, "concurrency"),
    ({"kind": "mapping"}, "missing field.*values"),
])
def test_matrix_validation(matrix: dict[str, Any], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        matrix_from_polyaxon(matrix)


# ====================================================================== early stopping
def test_early_stopping_entries_become_policies() -> None:
    stops = [{"kind": "failure_early_stopping", "percent": 50},
             {"kind": "metric_early_stopping", "metric": "loss", "value": 0.05,
              "optimization": "minimize"},
             {"kind": "metric_early_stopping", "metric": "train/acc", "value": 0.99,
              "optimization": "maximize"},
             {"kind": "metric_early_stopping", "metric": "loss", "value": 0,
              "optimization": "minimize",
              "policy": {"kind": "median", "evaluationInterval": 1, "minInterval": 2,
                         "minSamples": 4}},
             {"kind": "metric_early_stopping", "metric": "acc", "value": 0,
              "optimization": "maximize",
              "policy": {"kind": "diff", "percent": 10, "evaluationInterval": 2}},
             {"kind": "metric_early_stopping", "metric": "loss", "value": 0,
              "optimization": "minimize",
              "policy": {"kind": "truncation", "percent": 25, "evaluationInterval": 1,
                         "includeSucceeded": True}}]
    m = matrix_from_polyaxon({**GRID, "earlyStopping": stops}, OBJECTIVE)
    policies = build_policies(m.early_stopping)
    assert [type(p) for p in policies] == [FailureRate, MetricThreshold, MetricThreshold,
                                           MedianStopping, DiffStopping, TruncationStopping]
    assert policies[1].metric is None and policies[2].metric == "train/acc"
    assert (policies[3].grace_iterations, policies[3].min_samples) == (2, 4)
    # a bare name other than the objective's is the scalar that tracking.log_metrics reports
    assert (policies[4].metric, policies[4].optimization, policies[4].percent,
            policies[4].evaluation_interval) == ("acc/acc", "maximize", 10, 2)
    assert (policies[5].percent, policies[5].include_succeeded) == (25, True)
    # the matrix's own metric name also means the objective
    hb = matrix_from_polyaxon({**HYPERBAND, "earlyStopping": stops[1:2]})
    assert hb.early_stopping[0]["metric"] is None
    # the documentation's entries without kind
    doc = matrix_from_polyaxon({**GRID, "earlyStopping": [
        {"metric": "accuracy", "value": 0.9, "optimization": "maximize"}, {"percent": 30}]},
        OBJECTIVE)
    assert [p["kind"] for p in doc.early_stopping] == ["metric_early_stopping",
                                                        "failure_early_stopping"]


@pytest.mark.parametrize("entry, match", [
    ({"kind": "metric_early_stopping", "metric": "acc", "value": 1}, "missing field.*optimization"),
    ({"kind": "metric_early_stopping", "metric": "loss", "value": 0, "optimization": "min"},
     "'maximize' or 'minimize'"),
    ({"kind": "metric_early_stopping", "metric": "loss", "value": 0, "optimization": "minimize",
      "policy": {"kind": "truncation", "percent": 10}}, "missing field.*evaluationInterval"),
    ({"kind": "metric_early_stopping", "metric": "loss", "value": 0, "optimization": "minimize",
      "policy": {"kind": "average"}}, "policy kind must be"),
    ({"kind": "failure_early_stopping", "percent": 0}, "percent"),
    ({"kind": "failure_early_stopping", "percent": 5, "value": 1}, "unknown field"),
    ({"kind": "median"}, "kind must be"),
])
def test_early_stopping_validation(entry: dict[str, Any], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        matrix_from_polyaxon({**GRID, "earlyStopping": [entry]}, OBJECTIVE)


# ====================================================================== end to end
def curve(parameters: dict[str, Any], start_iteration: int) -> tuple[list[Report], float, bool]:
    """One report per epoch; the loss is best at x = 0.3 and improves with epochs."""
    epochs = parameters.get("General/epochs", 3)
    x = parameters.get("General/x", parameters.get("General/lr", 0.5))
    reports = [Report(float(e + 1), e, (x - 0.3) ** 2 + 1.0 / (e + 1))
               for e in range(start_iteration, epochs)]
    return reports, float(epochs - start_iteration) + 0.5, False


def test_hyperband_matrix_runs_end_to_end() -> None:
    m = matrix_from_polyaxon(HYPERBAND)
    strategy = m.build_strategy()
    result = simulate(strategy, curve, objective=OBJECTIVE,
                      workers=m.max_number_of_concurrent_tasks or 1,
                      policies=build_policies(m.early_stopping))
    resources = [job.parameters["General/epochs"] for job in result.jobs]
    # maxIterations 9, eta 3: brackets of 9x1 -> 3x3 -> 1x9, 5x3 -> 1x9, 3x9 -> 1x9
    assert Counter(resources) == Counter({1: 9, 3: 3 + 5, 9: 1 + 1 + 3 + 1})
    assert len(result.jobs) == 23
    space = SearchSpace(m.hyper_parameters)
    assert all(space.contains(job.parameters) for job in result.jobs)
    assert result.best_parameters is not None and result.best_parameters["General/epochs"] == 9
    again = simulate(matrix_from_polyaxon(HYPERBAND).build_strategy(), curve,
                     objective=OBJECTIVE, workers=4)
    assert [j.parameters for j in again.jobs] == [j.parameters for j in result.jobs]


def test_mapping_matrix_runs_in_order_within_its_concurrency() -> None:
    entries = [{"lr": 0.1}, {"lr": 0.3}, {"lr": 0.5}]
    for concurrency in (1, 2):
        m = matrix_from_polyaxon({"kind": "mapping", "values": entries,
                                  "concurrency": concurrency})
        result = simulate(m.build_strategy(), curve, objective=OBJECTIVE,
                          workers=m.max_number_of_concurrent_tasks or 1)
        assert [j.parameters for j in result.jobs] == [{"General/lr": v} for v in (0.1, 0.3, 0.5)]
        spans = [(j.started_at, j.ended_at) for j in result.jobs]
        for start, _ in spans:
            assert start is not None
            running = sum(1 for s, e in spans if s is not None and e is not None and s <= start < e)
            assert running <= concurrency
        assert result.best_parameters == {"General/lr": 0.3}


def test_failure_early_stopping_from_a_matrix_ends_the_run() -> None:
    m = matrix_from_polyaxon({"kind": "mapping", "values": [{"lr": v} for v in range(6)],
                              "concurrency": 1,
                              "earlyStopping": [{"kind": "failure_early_stopping",
                                                 "percent": 50}]})

    def failing(parameters: dict[str, Any], start: int) -> tuple[list[Report], float, bool]:
        return [], 1.0, parameters["General/lr"] == 0

    result = simulate(m.build_strategy(), failing, objective=OBJECTIVE, workers=1,
                      policies=build_policies(m.early_stopping))
    assert len(result.jobs) == 1 and "early stopping" in result.reason


def test_optimizer_from_polyaxon_builds_and_resumes(store: Store) -> None:
    base = Task.create("polyaxon", "train", entry_point="tests.unit.trial_fns:quadratic",
                       parameters={"General/x": 0.5, "General/act": "relu",
                                   "General/epochs": 1, "General/n": 0.0})
    matrix = {**HYPERBAND, "params": {**HYPERBAND["params"],
                                      "n": {"kind": "qnormal", "value": [0, 1, 0.5]}},
              "earlyStopping": [{"kind": "metric_early_stopping", "metric": "loss",
                                 "value": 0.01, "optimization": "minimize"}]}
    opt = optimizer_from_polyaxon(matrix, base.id, "val", "loss", store=store)
    config = opt._config
    assert config.optimizer_class.endswith(":Hyperband")
    assert (config.max_number_of_concurrent_tasks, config.seed) == (4, 7)
    assert config.objectives == [{"title": "val", "series": "loss", "sign": "min"}]
    assert config.early_stopping == [{"kind": "metric_early_stopping", "value": 0.01,
                                      "metric": None, "optimization": "minimize"}]
    resumed = HyperParameterOptimizer.resume(opt.id, store=store)
    assert resumed._strategy.space.parameters == opt._strategy.space.parameters
    assert NormalParameter("General/n", 0, 1, q=0.5) in resumed._strategy.space.parameters
    with pytest.raises(ValueError, match="contradicts"):
        optimizer_from_polyaxon(matrix, base.id, "val", "loss", "max", store=store)


# ====================================================================== hpq optimize
@pytest.mark.timeout(20)
@pytest.mark.parametrize("suffix", [".json", ".yaml"])
def test_hpq_optimize_with_a_polyaxon_matrix(store: Store, inline_workers, capsys,  # noqa: F811
                                             tmp_path: Path, suffix: str) -> None:
    path = tmp_path / f"matrix{suffix}"
    matrix = {  # 3 runs in each of 2 iterations: the whole 6-point space
        "kind": "hyperopt", "algorithm": "rand", "numRuns": 3, "maxIterations": 1, "seed": 4,
        "concurrency": 2, "metric": {"name": "acc", "optimization": "maximize"},
        "params": {"opt": {"kind": "choice", "value": ["sgd", "adam"]},
                   "lr": {"kind": "linspace", "value": "0.1:0.3:3"}}}
    path.write_text(yaml.safe_dump(matrix) if suffix == ".yaml" else json.dumps(matrix))
    base = base_task(store)
    assert main(["optimize", "--task-id", base.id, "--polyaxon-matrix", str(path),
                 "--objective-metric-title", "val", "--objective-metric-series", "acc",
                 "--pool-period-min", "0.001"]) == 0
    out = capsys.readouterr().out
    assert "top 6 of 6 ranked jobs (val/acc max)" in out
    config = json.loads(store.get(out.split("\noptimizer ")[1].split(":")[0])["configuration"])
    assert config["optimizer_class"].endswith(":RandomSearch")
    assert (config["max_number_of_concurrent_tasks"], config["total_max_jobs"]) == (2, 6)


@pytest.mark.timeout(10)
@pytest.mark.parametrize("extra, content, message", [
    (["--params-search", '{"type": "DiscreteParameterRange", "name": "lr", "values": [1]}'],
     {"kind": "grid"}, "cannot be combined with --params-search"),
    (["--optimizer-class", "GridSearch"], {"kind": "grid"}, "--optimizer-class"),
    ([], "[1]", "expected a JSON object"),
    ([], "{lr", "--polyaxon-matrix: Expecting property name"),
    ([], {"kind": "grid", "params": {"lr": {"kind": "uniform", "value": [0, 1]}}},
     "cannot be used with grid search"),
    (["--objective-metric-sign", "min"],
     {"kind": "hyperopt", "numRuns": 2, "metric": {"name": "loss", "optimization": "maximize"},
      "params": {"lr": {"kind": "uniform", "value": [0, 1]}}}, "contradicts"),
])
def test_hpq_optimize_rejects_bad_matrices(store: Store, capsys, tmp_path: Path,
                                           extra: list[str], content: Any, message: str) -> None:
    path = tmp_path / "matrix.json"
    path.write_text(content if isinstance(content, str) else json.dumps(content))
    assert main(["optimize", "--task-id", base_task(store).id, "--polyaxon-matrix", str(path),
                 "--objective-metric-title", "val", "--objective-metric-series", "loss",
                 *extra]) == 2
    err = capsys.readouterr().err
    assert message in err and err.startswith("hpq optimize: ") and err.count("\n") == 1
    assert main(["optimize", "--task-id", "x", "--polyaxon-matrix", str(tmp_path / "none.json"),
                 "--objective-metric-title", "val", "--objective-metric-series", "loss"]) == 2
    assert "none.json" in capsys.readouterr().err


# ====================================================================== the Python form
def test_the_documented_python_form_ports_by_changing_imports(store: Store) -> None:
    # Polyaxon's V1Hyperband documentation, with `from controller.polyaxon import ...` in place of
    # `from polyaxon.polyflow import ...` and values in place of its `...` (and maxIterations,
    # which the documented call leaves out although Polyaxon's math needs it)
    from controller.polyaxon import (
        V1FailureEarlyStopping,
        V1HpChoice,
        V1HpLogSpace,
        V1Hyperband,
        V1MetricEarlyStopping,
        V1Optimization,
        V1OptimizationMetric,
        V1OptimizationResource,
        types,
    )

    matrix = V1Hyperband(
        concurrency=20, max_iterations=81,
        params={"param1": V1HpLogSpace(value="0.01:0.1:5"), "param2": V1HpChoice(value=[1, 2])},
        resume=True,
        metric=V1OptimizationMetric(name="loss", optimization=V1Optimization.MINIMIZE),
        resource=V1OptimizationResource(name="num_steps", type=types.INT),
        early_stopping=[V1FailureEarlyStopping(percent=50),
                        V1MetricEarlyStopping(metric="loss", value=0.01,
                                              optimization=V1Optimization.MINIMIZE)])
    assert V1Hyperband.from_dict(matrix.to_dict()).to_dict() == matrix.to_dict()
    base = Task.create("polyaxon", "train", entry_point="tests.unit.trial_fns:quadratic",
                       parameters={"General/param1": 0.0, "General/param2": 1,
                                   "General/num_steps": 1})
    opt = optimizer_from_polyaxon(matrix, base.id, "loss", "loss", store=store)
    config = opt._config
    assert config.optimizer_class.endswith(":Hyperband")
    assert config.optimizer_kwargs["resume"] is True
    assert config.optimizer_kwargs["resource"] == {"name": "num_steps", "type": "int"}
    assert config.max_number_of_concurrent_tasks == 20
    assert [p["kind"] for p in config.early_stopping] == ["failure_early_stopping",
                                                          "metric_early_stopping"]
    assert [p.name for p in opt._strategy.space.parameters] == ["General/param1",
                                                                "General/param2"]
