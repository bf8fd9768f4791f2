"""BayesianGP: budget, validation, acquisitions, quality, pending trials, encoding, round trip."""

from __future__ import annotations

import statistics
from typing import Any

import numpy as np
import pytest

from controller.objective import Objective
from controller.parameters import (
    DiscreteParameterRange,
    LogUniformParameterRange,
    ParameterSet,
    SearchSpace,
    UniformIntegerParameterRange,
    UniformParameterRange,
)
from controller.strategies.base import Suggestion, Trial
from controller.strategies.bayes_gp import BayesianGP, SpaceEncoder, parse_utility
from controller.strategies.grid_random import RandomSearch, config_key

from .test_asha import Params, assert_round_trip, simulator

PLANE = [UniformParameterRange("General/x", -1.0, 1.0),
         UniformParameterRange("General/y", -1.0, 1.0)]
MIXED = [UniformParameterRange("General/u", 0.0, 1.0),
         UniformParameterRange("General/step", 0.0, 1.0, step_size=0.1),
         UniformIntegerParameterRange("General/n", 1, 9, step_size=2),
         LogUniformParameterRange("General/lr", -5, -1),
         LogUniformParameterRange("General/wd", -6, -2, base=2, step_size=1),
         DiscreteParameterRange("General/batch", [16, 32, 128]),
         DiscreteParameterRange("General/opt", ["adam", "sgd", None]),
         ParameterSet([{"Model/depth": 2, "Model/act": "relu"},
                       {"Model/depth": 4, "Model/act": "tanh"}])]
NESTED = [ParameterSet([{"General/a": UniformParameterRange("General/a", 0, 1)}])]
LOSS = Objective("validation", "loss", "min")
FAST = {"acquisition_function": "ucb", "kappa": 2.0, "num_warmup": 300, "num_iterations": 4}


def make_gp(**kwargs: Any) -> BayesianGP:
    args = {"hyper_parameters": PLANE, "objective_metric": LOSS, "num_initial_runs": 4,
            "max_iterations": 8, "utility_function": FAST, "seed": 3, **kwargs}
    return BayesianGP(**args)


def quadratic(params: Params) -> float:
    return (params["General/x"] - 0.3) ** 2 + (params["General/y"] + 0.2) ** 2


def mixed_loss(params: Params) -> float:
    return (params["General/u"] - 0.7) ** 2 + abs(params["General/n"] - 5) / 10 \
        + (params["General/opt"] != "sgd") + params["Model/depth"] / 10


# ---------------------------------------------------------------------- budget
def test_exact_number_of_suggestions() -> None:
    sim = simulator(make_gp(), 3, quadratic, max_jobs=1000).run()
    sources = [s.meta["source"] for s in sim.starts()]
    assert sources == ["random"] * 4 + ["gp"] * 8
    assert [s.meta["index"] for s in sim.starts()] == list(range(12))
    assert sim.exhausted and sim.strategy.suggest() is None


def test_random_while_nothing_observed() -> None:
    """GP iterations never leave a worker idle: with no observation yet they sample randomly."""
    strategy = make_gp(num_initial_runs=2)
    suggestions = [strategy.suggest() for _ in range(4)]
    assert [s.meta["source"] for s in suggestions] == ["random"] * 4


# ---------------------------------------------------------------------- validation
@pytest.mark.parametrize("utility, match", [
    ({"acquisition_function": "ucb"}, "kappa"),
    ({"acquisitionFunction": "ei"}, "eps"),
    ({"acquisition_function": "poi", "kappa": 1.0}, "eps"),
    ({"acquisition_function": "pi", "eps": 0.1}, "acquisition_function"),
    ({"kappa": 1.0, "gaussian_process": {"kernel": "linear"}}, "kernel"),
    ({"kappa": 1.0, "gaussianProcess": {"kernel": "matern", "nu": 0}}, "nu must be > 0"),
    ({"kappa": 1.0, "gaussianProcess": {"kernel": "matern", "nu": -1.9}}, "nu"),
    ({"kappa": 1.0, "gaussian_process": {"length_scale": 0}}, "length_scale"),
    ({"kappa": 1.0, "gaussian_process": {"num_restarts_optimizer": 1.5}}, "num_restarts"),
    ({"kappa": -1.0}, "kappa"),
    ({"kappa": 1.0, "num_warmup": 0}, "num_warmup"),
    ({"kappa": 1.0, "bogus": 1}, "bogus"),
    ({"kappa": 1.0, "numWarmup": 9, "num_warmup": 9}, "twice"),
    ("ucb", "utility_function"),
])
def test_utility_validation(utility: Any, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        make_gp(utility_function=utility)


def test_utility_accepts_both_spellings_and_defaults() -> None:
    camel = parse_utility({"acquisitionFunction": "EI", "eps": 0.01, "numWarmup": 50,
                           "numIterations": 2, "gaussianProcess": {
                               "kernel": "rbf", "lengthScale": 0.5, "numRestartsOptimizer": 3}})
    snake = parse_utility({"acquisition_function": "ei", "eps": 0.01, "num_warmup": 50,
                           "num_iterations": 2, "gaussian_process": {
                               "kernel": "rbf", "length_scale": 0.5, "num_restarts_optimizer": 3}})
    assert camel == snake
    default = parse_utility(None)
    assert (default.acquisition_function, default.kappa, default.kernel, default.nu) == \
        ("ucb", 2.576, "matern", 1.5)


@pytest.mark.parametrize("kwargs, match", [
    ({"num_initial_runs": 0}, "num_initial_runs"), ({"max_iterations": 0}, "max_iterations"),
    ({"hyper_parameters": []}, "at least one"),
    ({"hyper_parameters": NESTED},
     "ParameterSet"),
])
def test_constructor_validation(kwargs: dict[str, Any], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        make_gp(**kwargs)


# ---------------------------------------------------------------------- behaviour
@pytest.mark.parametrize("utility", [
    {"acquisition_function": "ucb", "kappa": 2.5},
    {"acquisition_function": "ei", "eps": 0.0},
    {"acquisition_function": "poi", "eps": 0.01},
    {"acquisition_function": "ucb", "kappa": 1.0,
     "gaussian_process": {"kernel": "rbf", "num_restarts_optimizer": 2}},
    {"acquisition_function": "ei", "eps": 0.0, "gaussian_process": {"nu": 0.5}},
    {"acquisition_function": "ei", "eps": 0.0, "gaussian_process": {"nu": 2.5}},
])
def test_acquisitions_and_kernels_run(utility: dict[str, Any]) -> None:
    strategy = make_gp(utility_function={**utility, "num_warmup": 300, "num_iterations": 4})
    sim = simulator(strategy, 2, quadratic, max_jobs=100).run()
    assert len(sim.starts()) == 12
    assert all(strategy.space.contains(s.parameters) for s in sim.starts())
    assert min(t.value for t in sim.records.values()) < 0.1


def best_of(strategy: Any, jobs: int) -> float:
    sim = simulator(strategy, 1, quadratic, max_jobs=jobs).run()
    return min(t.value for t in sim.records.values())


@pytest.mark.timeout(30)
def test_beats_random_on_a_quadratic() -> None:
    seeds = range(4)
    gp = [best_of(make_gp(num_initial_runs=5, max_iterations=15, seed=s), 20) for s in seeds]
    rnd = [best_of(RandomSearch(hyper_parameters=PLANE, objective_metric=LOSS, seed=s), 20)
           for s in seeds]
    assert statistics.median(gp) < statistics.median(rnd) / 3
    assert max(gp) < 0.01


def test_concurrent_suggestions_differ() -> None:
    """With observations and several pending trials, each new suggestion goes elsewhere."""
    strategy = make_gp(max_iterations=20)
    sim = simulator(strategy, 1, quadratic, max_jobs=4).run()
    pending = []
    for i in range(6):
        s = strategy.suggest()
        assert isinstance(s, Suggestion) and s.meta["source"] == "gp"
        strategy.on_trial_start(f"p{i}", s)
        pending.append(strategy.encoder.encode(s.parameters))
    points = np.array(pending)
    gaps = np.linalg.norm(points[:, None] - points[None], axis=-1)[np.triu_indices(6, 1)]
    assert gaps.min() > 0.05
    keys = {config_key(t.parameters) for t in sim.records.values()}
    assert len(keys | {config_key(strategy.encoder.decode(p)) for p in points}) == 10


def test_discrete_space_suggestions_are_distinct_until_exhausted() -> None:
    space = [UniformIntegerParameterRange("General/n", 0, 4),
             DiscreteParameterRange("General/opt", ["a", "b"])]
    strategy = make_gp(hyper_parameters=space, num_initial_runs=3, max_iterations=9)
    sim = simulator(strategy, 3, lambda p: abs(p["General/n"] - 2) + (p["General/opt"] == "a"),
                    max_jobs=100)
    sim.run()
    keys = [config_key(s.parameters) for s in sim.starts()]
    assert len(keys) == 12 and len(set(keys)) == 10  # 10 points; repeats only once exhausted
    assert len(set(keys[:10])) == 10


def test_decoded_values_are_valid() -> None:
    strategy = make_gp(hyper_parameters=MIXED, num_initial_runs=5, max_iterations=15)
    sim = simulator(strategy, 3, mixed_loss, fails=lambda t, rng: rng.random() < 0.2,
                    max_jobs=100)
    sim.run()
    assert len(sim.starts()) == 20
    for s in sim.starts():
        assert strategy.space.contains(s.parameters), s.parameters
        assert type(s.parameters["General/n"]) is int
        assert type(s.parameters["General/batch"]) is int


def test_encoding_round_trips_grid_points() -> None:
    space = SearchSpace([p for p in MIXED if not isinstance(p, UniformParameterRange)
                         or p.step_size is not None])
    encoder = SpaceEncoder(space)
    assert encoder.width == 1 + 1 + 1 + 1 + 3 + 2
    for i in range(0, space.grid_size(), 7):
        point = space.grid_point(i)
        code = encoder.encode(point)
        assert ((0 <= code) & (code <= 1)).all()
        assert encoder.decode(code) == point


def test_continuous_decoding_stays_in_bounds() -> None:
    space = SearchSpace(MIXED)
    encoder = SpaceEncoder(space)
    for corner in (np.zeros(encoder.width), np.ones(encoder.width),
                   np.random.default_rng(0).random(encoder.width)):
        assert space.contains(encoder.decode(corner))


def test_maximize_objective() -> None:
    strategy = make_gp(objective_metric=Objective("validation", "accuracy", "max"),
                       num_initial_runs=5, max_iterations=10)
    sim = simulator(strategy, 1, lambda p: -quadratic(p), max_jobs=100).run()
    assert max(t.value for t in sim.records.values()) > -0.02


@pytest.mark.parametrize("completions", [2, 7])
def test_state_round_trip(completions: int) -> None:
    sim = simulator(make_gp(hyper_parameters=MIXED), 3, mixed_loss,
                    fails=lambda t, rng: rng.random() < 0.2, max_jobs=100)
    sim.run(completions)
    assert sim.running
    assert_round_trip(sim, lambda: make_gp(hyper_parameters=MIXED))


def test_ignores_failed_and_metricless_trials() -> None:
    strategy = make_gp(num_initial_runs=2)
    for i in range(2):
        s = strategy.suggest()
        strategy.on_trial_start(f"j{i}", s)
        strategy.on_trial_complete(Trial(f"j{i}", s.parameters, s.meta,
                                         ["failed", "completed"][i], None))
    assert strategy.suggest().meta["source"] == "random"
