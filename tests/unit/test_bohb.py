"""OptimizerBOHB: budgets, job counting, the density model, valid candidates, state round-trip."""

from __future__ import annotations

import json
import math
from typing import Any

import numpy as np
import pytest

from controller.objective import Objective
from controller.parameters import (
    DiscreteParameterRange,
    LogUniformParameterRange,
    ParameterSet,
    UniformIntegerParameterRange,
    UniformParameterRange,
)
from controller.strategies.base import Decision, Suggestion, Trial
from controller.strategies.bohb import DensityModel, OptimizerBOHB, ProductKDE
from controller.strategies.hyperband import HyperbandMath

from .test_hyperband import driver, round_trip, rows

XY = [UniformParameterRange("General/x", 0.0, 1.0), UniformParameterRange("General/y", 0.0, 1.0)]
OPTIMUM = {"General/x": 0.3, "General/y": 0.8}


def bowl(params: dict[str, Any], meta: dict[str, Any]) -> tuple[str, Any]:
    """Completed; loss best at OPTIMUM, improving with the budget."""
    return "completed", sum((params[k] - v) ** 2 for k, v in OPTIMUM.items()) \
        + 0.5 / meta["resource"]


def make(**kwargs: Any) -> OptimizerBOHB:
    args: dict[str, Any] = {"hyper_parameters": XY, "min_budget": 1, "max_budget": 27,
                            "resource": "epochs", "seed": 1,
                            "objective_metric": Objective("val", "loss", "min")}
    args.update(kwargs)
    return OptimizerBOHB(**args)


def distance(params: dict[str, Any]) -> float:
    return math.dist([params[k] for k in OPTIMUM], list(OPTIMUM.values()))


# --------------------------------------------------------------------------- budgets
def test_budgets_from_iteration_limits() -> None:
    strategy = make(min_budget=None, max_budget=None, min_iteration_per_job=1,
                    max_iteration_per_job=27)
    assert (strategy.min_budget, strategy.max_budget) == (1, 27)
    assert strategy.math == HyperbandMath(27, 3)
    sim = driver(strategy).run()
    assert sorted({s.meta["resource"] for s in sim.starts()}) == [1, 3, 9, 27]
    assert len(sim.starts()) == sum(n for b in range(4) for n, _ in strategy.math.rungs(b))
    assert sim.exhausted  # no total_max_jobs: one Hyperband round


def test_explicit_budgets_win_and_scale_the_resource() -> None:
    strategy = make(min_budget=2, max_budget=18, min_iteration_per_job=1,
                    max_iteration_per_job=100, resource={"name": "steps", "type": "float"})
    sim = driver(strategy).run()
    assert sorted({s.parameters["General/steps"] for s in sim.starts()}) == [2.0, 6.0, 18.0]


def test_missing_budget() -> None:
    with pytest.raises(ValueError, match="OptimizerBOHB is missing a defined budget"):
        make(min_budget=None, max_budget=None)
    with pytest.raises(ValueError, match="OptimizerBOHB is missing a defined budget"):
        make(min_budget=None, max_budget=None, max_iteration_per_job=10)


def test_without_resource_the_budget_counts_reported_iterations() -> None:
    """ClearML's OptimizerBOHB: no task parameter gets the budget; a job is stopped once it
    reports the objective at its budget, and that stop is its result."""
    strategy = make(resource=None, min_budget=None, max_budget=None, min_iteration_per_job=1,
                    max_iteration_per_job=9)
    first = [strategy.suggest() for _ in range(strategy.math.get_num_runs(2))]
    assert all(isinstance(s, Suggestion) and set(s.parameters) == set(OPTIMUM) for s in first)
    assert {s.meta["resource"] for s in first} == {1.0}  # type: ignore[union-attr]
    for n, s in enumerate(first):
        strategy.on_trial_start(f"j{n}", s)  # type: ignore[arg-type]
    assert strategy.on_trial_result("j0", 0, 0.5) is Decision.CONTINUE
    assert strategy.on_trial_result("j0", 1, 0.4) is Decision.STOP
    for n, s in enumerate(first):  # stopped at the budget (iteration 1): results that rank
        assert isinstance(s, Suggestion)
        strategy.on_trial_complete(Trial(f"j{n}", s.parameters, s.meta, "stopped",
                                         distance(s.parameters), 1))
    promoted = strategy.suggest()
    assert isinstance(promoted, Suggestion) and promoted.meta["rung"] == 1
    assert promoted.meta["resource"] == 3.0 and "General/epochs" not in promoted.parameters
    best = min(first, key=lambda s: distance(s.parameters))  # type: ignore[union-attr]
    assert promoted.parameters == best.parameters  # type: ignore[union-attr]


def test_total_max_jobs_counts_jobs_and_brackets_repeat() -> None:
    one_round = sum(n for b in range(4) for n, _ in HyperbandMath(27, 3).rungs(b))
    sim = driver(make(total_max_jobs=one_round + 30), workers=3, outcome=bowl).run()
    assert len(sim.starts()) == one_round + 30
    assert sim.exhausted and sim.strategy.suggest() is None
    later = [s.meta for s in sim.starts()[one_round:]]
    assert later[0]["iteration"] == 4 and later[0]["bracket"] == 3


def test_clearml_positional_signature() -> None:
    strategy = OptimizerBOHB("base", XY, Objective("val", "loss", "min"), "q", 2, 3, 81, 50,
                             resource="epochs", local_port=9091)
    assert (strategy.execution_queue, strategy.num_concurrent_workers) == ("q", 2)
    assert (strategy.min_budget, strategy.max_budget, strategy.total_max_jobs) == (3, 81, 50)
    assert (strategy.min_iteration_per_job, strategy.max_iteration_per_job) == (3, 81)
    with pytest.raises(TypeError, match="n_iterations"):
        make(n_iterations=3)


@pytest.mark.parametrize("kwargs, field", [
    ({"min_budget": 0}, "min_budget"),
    ({"min_budget": 10, "max_budget": 5}, "min_budget <= max_budget"),
    ({"eta": 1}, "eta"),
    ({"min_budget": 0.2, "max_budget": 0.5}, "smallest resource is 0"),
    ({"top_n_percent": 100}, "top_n_percent"),
    ({"num_samples": 0}, "num_samples"),
    ({"random_fraction": 1.5}, "random_fraction"),
    ({"bandwidth_factor": 0}, "bandwidth_factor"),
    ({"min_bandwidth": 0}, "min_bandwidth"),
    ({"min_points_in_model": 2.5}, "min_points_in_model"),
])
def test_invalid_knobs(kwargs: dict[str, Any], field: str) -> None:
    with pytest.raises(ValueError, match=field):
        make(**kwargs)


def test_min_points_in_model_defaults_and_floor() -> None:
    assert make().min_points_in_model == 3
    assert make(min_points_in_model=10).min_points_in_model == 10
    with pytest.warns(UserWarning, match="min_points_in_model"):
        assert make(min_points_in_model=1).min_points_in_model == 3


# --------------------------------------------------------------------------- the model
def test_model_kicks_in_after_enough_observations() -> None:
    # Sequential trials: the k-th suggestion sees k results of budget 1. Two parameters and
    # min_points_in_model = 3: the good set takes 3, the bad set needs 3 more -> 6 results.
    strategy = make(random_fraction=0.0)
    sim = driver(strategy, workers=1, outcome=bowl)
    flags = []
    for _ in range(10):
        assert (strategy.model() is not None) == (len(flags) >= 6)
        sim.run(1)
        flags.append(sim.starts()[-1].meta["model_based"])
    assert flags == [False] * 6 + [True] * 4
    model = strategy.model()
    assert isinstance(model, DensityModel) and model.budget == 1
    assert model.good.data.shape == (3, 2) and model.bad.data.shape[0] == 7


def test_model_uses_the_largest_budget_with_enough_points() -> None:
    # Bracket 3 runs 27 x 1, 9 x 3, 3 x 9, 1 x 27; bracket 2 runs 12 x 3, 4 x 9, 1 x 27. A budget
    # needs 6 results (see above).
    strategy = make(random_fraction=0.0)
    sim = driver(strategy, workers=4, outcome=bowl).run(27)
    assert strategy.model().budget == 1  # type: ignore[union-attr]
    sim.run(9)
    assert strategy.model().budget == 3  # type: ignore[union-attr]
    sim.run(3 + 1 + 12 + 2)  # 3 + 2 results of budget 9
    assert strategy.model().budget == 3  # type: ignore[union-attr]
    sim.run(1)  # 3 + 3
    assert strategy.model().budget == 9  # type: ignore[union-attr]


def test_random_fraction_one_is_pure_random() -> None:
    sim = driver(make(random_fraction=1.0), outcome=bowl).run()
    assert not any(s.meta.get("model_based") for s in sim.starts())


def test_model_candidates_are_valid_points() -> None:
    space = [UniformParameterRange("General/x", 0.0, 1.0),
             UniformParameterRange("General/y", -1.0, 1.0, step_size=0.3),
             UniformIntegerParameterRange("General/layers", 1, 10, step_size=3),
             LogUniformParameterRange("General/lr", -5, -1),
             LogUniformParameterRange("General/wd", -6, -2, step_size=1),
             DiscreteParameterRange("General/act", ["relu", "tanh", "gelu"]),
             ParameterSet([{"General/opt": "sgd", "General/mom": UniformParameterRange(
                 "General/mom", 0.5, 0.99)}, {"General/opt": "adam", "General/mom": 0.9}])]

    def noisy(params: dict[str, Any], meta: dict[str, Any]) -> tuple[str, Any]:
        penalty = 0.0 if params["General/act"] == "tanh" else 0.2
        return "completed", (params["General/x"] - 0.7) ** 2 + penalty + 1 / meta["resource"]

    strategy = make(hyper_parameters=space, random_fraction=0.0, total_max_jobs=250)
    sim = driver(strategy, workers=3, outcome=noisy).run()
    modelled = [s for s in sim.starts() if s.meta.get("model_based")]
    assert len(modelled) > 50
    assert all(strategy.space.contains(s.parameters) for s in sim.starts())
    assert all(type(s.parameters["General/layers"]) is int for s in sim.starts())
    acts = [s.parameters["General/act"] for s in modelled]
    assert acts.count("tanh") > len(acts) / 2


@pytest.mark.timeout(30)
def test_model_concentrates_near_the_optimum_and_beats_random() -> None:
    space = [UniformParameterRange(f"General/x{i}", 0.0, 1.0) for i in range(4)]
    optimum = [0.2, 0.4, 0.6, 0.8]

    def gap(params: dict[str, Any]) -> float:
        return sum((params[f"General/x{i}"] - o) ** 2 for i, o in enumerate(optimum))

    def bowl4(params: dict[str, Any], meta: dict[str, Any]) -> tuple[str, Any]:
        return "completed", gap(params) + 0.5 / meta["resource"]

    fractions = (1 / 3, 1.0)
    best: dict[float, list[float]] = {f: [] for f in fractions}
    near: dict[float, list[float]] = {f: [] for f in fractions}
    for seed in range(8):
        for fraction in fractions:
            strategy = make(hyper_parameters=space, seed=seed, max_budget=9,
                            total_max_jobs=150, random_fraction=fraction)
            log = driver(strategy, workers=4, outcome=bowl4, seed=seed).run().starts()
            best[fraction].append(min(gap(s.parameters) for s in log))
            near[fraction] += [gap(s.parameters) for s in log if s.meta["rung"] == 0
                               and s.meta["model_based"] == (fraction < 1)]
    assert np.median(near[1 / 3]) < 0.5 * np.median(near[1.0])
    assert np.mean(best[1 / 3]) < 0.8 * np.mean(best[1.0])
    assert sum(b < r for b, r in zip(best[1 / 3], best[1.0], strict=True)) >= 5


def test_maximize_is_modelled_too() -> None:
    def score(params: dict[str, Any], meta: dict[str, Any]) -> tuple[str, Any]:
        return "completed", -bowl(params, meta)[1]

    strategy = make(objective_metric=Objective("val", "acc", "max"), total_max_jobs=150,
                    max_budget=9, random_fraction=0.0)
    sim = driver(strategy, workers=4, outcome=score).run()
    modelled = [distance(s.parameters) for s in sim.starts() if s.meta.get("model_based")]
    assert modelled and np.median(modelled) < 0.25


def test_failed_trials_are_not_observations() -> None:
    def flaky(params: dict[str, Any], meta: dict[str, Any]) -> tuple[str, Any]:
        return ("failed", -5.0) if meta["config"] % 2 else bowl(params, meta)

    strategy = make(random_fraction=0.0)
    sim = driver(strategy, workers=1, outcome=flaky).run(12)
    model = strategy.model()
    assert model is not None
    assert len(model.good.data) + len(model.bad.data) == 6
    assert all(s.meta["config"] % 2 == 0 for s in sim.starts() if s.meta["rung"] > 0)


# --------------------------------------------------------------------------- the densities
def test_product_kde() -> None:
    rng = np.random.default_rng(0)
    data = np.array([[0.2, 0.0], [0.25, 0.0], [0.3, 1.0]])
    kde = ProductKDE.fit(data, np.array([0.0, 3.0]), 1e-3)
    assert 0 < kde.bw[1] <= 2 / 3
    near, far = kde.pdf(np.array([[0.25, 0.0], [0.9, 2.0]]))
    assert near > 10 * far
    grid = np.linspace(-3, 4, 7001)
    mass = sum(kde.pdf(np.column_stack([grid, np.full_like(grid, c)])).sum() * 0.001
               for c in range(3))
    assert mass == pytest.approx(1.0, rel=1e-3)
    samples = kde.sample(rng, 500, 3.0)
    assert ((samples[:, 0] >= 0) & (samples[:, 0] <= 1)).all()
    assert set(np.unique(samples[:, 1])) <= {0.0, 1.0, 2.0}


# --------------------------------------------------------------------------- reproducibility
def test_seeded_runs_are_reproducible() -> None:
    def run(seed: int) -> list[tuple[Any, ...]]:
        return rows(driver(make(seed=seed, total_max_jobs=120), outcome=bowl, seed=5).run())

    assert run(3) == run(3)
    assert run(3) != run(4)


@pytest.mark.parametrize("steps", [0, 5, 60, 100, 130])
def test_state_round_trip_continues_identically(steps: int) -> None:
    def flaky(params: dict[str, Any], meta: dict[str, Any]) -> tuple[str, Any]:
        return ("failed", None) if meta["config"] % 5 == 0 else bowl(params, meta)

    def build() -> OptimizerBOHB:
        return make(total_max_jobs=140, resume=True, random_fraction=0.25, seed=9)

    sim = driver(build(), workers=4, outcome=flaky, seed=2).run(steps)
    start = len(sim.starts())
    assert len(json.dumps(sim.strategy.state_dict())) < 2000
    restored = round_trip(sim, build).run()
    sim.run()
    assert len(sim.starts()) == 140
    assert rows(restored, start) == rows(sim, start)
    assert any(s.meta.get("model_based") for s in sim.starts()[start:]) or steps >= 130


def test_promotions_carry_the_budget_and_continue_from() -> None:
    sim = driver(make(resume=True), outcome=bowl).run()
    promoted = [s for s in sim.starts() if s.meta["rung"] > 0]
    assert promoted
    for s in promoted:
        assert isinstance(s, Suggestion) and s.continue_from in sim.records
        previous = sim.records[s.continue_from]
        assert previous.meta["config"] == s.meta["config"]
        assert s.meta["resource"] == 3 * previous.meta["resource"]
