"""ASHA: rung math, promotion without waiting, failures, busy workers, resume, round trip.

:func:`simulator` (also used by the other strategy tests) drives a strategy with
:class:`controller.testing.DirectLoop` as the optimizer's loop does: N slots filled by
``suggest()``, jobs ending in simulated time in a shuffled order.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

import pytest

from controller.objective import Objective
from controller.parameters import DiscreteParameterRange, UniformParameterRange
from controller.strategies.asha import ASHA, rung_resources
from controller.strategies.base import SearchStrategy, Suggestion, Trial
from controller.strategies.hyperband import Resource
from controller.testing import DirectLoop, Outcomes, Record, first_to_finish

Params = dict[str, Any]


def simulator(strategy: SearchStrategy, slots: int, objective: Callable[[Params], Any],
              duration: Callable[[Record, random.Random], float] | None = None,
              fails: Callable[[Record, random.Random], bool] | None = None,
              seed: int = 0, max_jobs: int | None = None) -> DirectLoop:
    """A strategy in a simulated loop with ``slots`` workers, starting at most ``max_jobs``.

    ``objective(params)`` gives a job's value, ``duration(job, rng)`` its run time (default:
    uniform in [0.5, 1.5]), ``fails(job, rng)`` whether it fails; jobs end in time order.
    """

    def outcome(job: Record, rng: random.Random) -> tuple[str, Any]:
        if fails is not None and fails(job, rng):
            return "failed", None
        return "completed", objective(job.parameters)

    return DirectLoop(strategy, Outcomes(outcome), slots=slots, order=first_to_finish,
                      duration=duration or (lambda job, rng: rng.uniform(0.5, 1.5)),
                      max_jobs=max_jobs, seed=seed, prefix="job")


def assert_round_trip(sim: DirectLoop, make: Callable[[], SearchStrategy]) -> None:
    """A fresh strategy restored from JSON state + trials continues exactly as the original."""
    twin = sim.fresh(make()).restore(sim.snapshot())
    before = len(sim.starts())
    sim.run()
    twin.run()
    assert len(sim.starts()) > before
    assert twin.log == sim.log


# ---------------------------------------------------------------------- fixtures
SPACE = [UniformParameterRange("General/x", 0.0, 1.0),
         DiscreteParameterRange("General/opt", ["adam", "sgd"])]
LOSS = Objective("validation", "loss", "min")


def make_asha(**kwargs: Any) -> ASHA:
    args = {"hyper_parameters": SPACE, "objective_metric": LOSS, "resource": "epochs",
            "min_resource": 1, "max_resource": 27, "seed": 7, **kwargs}
    return ASHA(**args)


def quality(params: Params) -> float:
    """Lower is better; more epochs help every configuration a little."""
    return (params["General/x"] - 0.3) ** 2 + 0.1 * (params["General/opt"] == "sgd") \
        + 1.0 / params["General/epochs"]


def by_resource(job: Record, rng: random.Random) -> float:
    return job.meta["resource"] * rng.uniform(0.5, 1.5)


def trial_at(sim: DirectLoop, config: int, rung: int) -> Record:
    return next(t for t in sim.records.values()
                if t.meta["config"] == config and t.meta["rung"] == rung)


# ---------------------------------------------------------------------- rungs and arguments
def test_rung_resources() -> None:
    assert rung_resources(1, 27, 3) == [1, 3, 9, 27]
    assert rung_resources(1, 100, 3) == [1, 3, 9, 27, 81, 100]
    assert rung_resources(5, 5, 3) == [5]
    assert rung_resources(0.5, 4.5, 3, float) == [0.5, 1.5, 4.5]
    assert rung_resources(1.5, 13.5, 3) == [1, 4, 13]  # int() truncates, as Polyaxon's cast


@pytest.mark.parametrize("args, match", [
    ((0, 10, 3), "min_resource"), ((10, 5, 3), "min_resource"), ((1, 10, 1), "reduction_factor"),
    ((0.5, 1, 1.5), "collapse"), ((1, 10, True), "reduction_factor"),
    ((1, float("inf"), 3), "max_resource"),
])
def test_rung_resources_rejects(args: tuple[Any, ...], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        rung_resources(*args)


def test_arguments() -> None:
    assert make_asha().resource == Resource("General/epochs", "int")
    assert make_asha(resource="Args/steps", resource_type="float").resource == \
        Resource("Args/steps", "float")
    polyaxon = make_asha(resource={"name": "steps", "type": "float"}, min_resource=0.5)
    assert polyaxon.resource == Resource("General/steps", "float")
    assert polyaxon.rungs == [0.5, 1.5, 4.5, 13.5, 27.0]
    fallback = make_asha(min_resource=None, max_resource=None, min_iteration_per_job=2,
                         max_iteration_per_job=18)
    assert fallback.rungs == [2, 6, 18]
    with pytest.raises(ValueError, match="also a searched"):
        make_asha(resource="x")
    with pytest.raises(ValueError, match="required"):
        make_asha(max_resource=None)
    with pytest.raises(ValueError, match="type"):
        make_asha(resource_type="double")
    with pytest.raises(ValueError, match="max_trials"):
        make_asha(max_trials=0)
    with pytest.raises(TypeError, match="eta"):
        make_asha(eta=3)


# ---------------------------------------------------------------------- behaviour
def test_suggestions_in_space_with_rung_resource() -> None:
    strategy = make_asha()
    sim = simulator(strategy, 4, quality, by_resource, max_jobs=120).run()
    for s in sim.starts():
        config = {k: v for k, v in s.parameters.items() if k != "General/epochs"}
        assert strategy.space.contains(config)
        assert s.parameters["General/epochs"] == s.meta["resource"] == [1, 3, 9, 27][s.meta["rung"]]
        assert set(s.meta) == {"rung", "config", "resource"}
    assert max(s.meta["rung"] for s in sim.starts()) == 3


def test_promotes_without_waiting_for_the_rung() -> None:
    """With 9 rung-0 jobs running, the best of the first 3 to finish is promoted at once."""
    strategy = make_asha()
    started = [strategy.suggest() for _ in range(9)]
    for i, s in enumerate(started):
        assert isinstance(s, Suggestion) and s.meta == {"rung": 0, "config": i, "resource": 1}
        strategy.on_trial_start(f"j{i}", s)
    for i, value in ((4, 0.5), (0, 0.2), (7, 0.9)):
        strategy.on_trial_complete(Trial(f"j{i}", started[i].parameters, started[i].meta,
                                         "completed", value))
    promoted = strategy.suggest()
    assert isinstance(promoted, Suggestion)
    assert promoted.meta == {"rung": 1, "config": 0, "resource": 3}
    assert promoted.parameters == {**started[0].parameters, "General/epochs": 3}
    assert promoted.continue_from is None
    nxt = strategy.suggest()  # config 0 is promoted once; 4 and 7 are not in the top third
    assert isinstance(nxt, Suggestion) and nxt.meta["rung"] == 0 and nxt.meta["config"] == 9


def test_promotion_happens_while_rung_zero_jobs_run() -> None:
    sim = simulator(make_asha(), 8, quality, by_resource, max_jobs=40).run()
    first = next(e for e in sim.log if e[0] == "start" and e[2].meta["rung"] == 1)
    running_rungs = [sim.records[j].meta["rung"] for j in first[3]]
    assert running_rungs.count(0) >= 3


def test_keeps_every_worker_busy() -> None:
    sim = simulator(make_asha(), 6, quality, by_resource, max_jobs=150).run()
    assert all(e[0] in ("start", "complete") for e in sim.log)
    assert len(sim.records) == 150
    promotions = [s for s in sim.starts() if s.meta["rung"] > 0]
    assert len(promotions) >= 20


def test_failed_and_metricless_trials_never_promote() -> None:
    strategy = make_asha()
    jobs = [strategy.suggest() for _ in range(3)]
    for i, s in enumerate(jobs):
        strategy.on_trial_start(f"j{i}", s)
    statuses = [("failed", 0.0), ("completed", None), ("stopped", 0.1)]
    for i, (status, value) in enumerate(statuses):
        strategy.on_trial_complete(Trial(f"j{i}", jobs[i].parameters, jobs[i].meta, status, value))
    assert all(strategy.suggest().meta["rung"] == 0 for _ in range(5))


def test_failed_trials_never_promote_in_simulation() -> None:
    sim = simulator(make_asha(), 5, quality, by_resource,
                    fails=lambda t, rng: rng.random() < 0.3, max_jobs=120).run()
    promotions = [s for s in sim.starts() if s.meta["rung"] > 0]
    assert promotions
    for s in promotions:
        assert trial_at(sim, s.meta["config"], s.meta["rung"] - 1).status == "completed"


def test_promotes_highest_values_when_maximizing() -> None:
    strategy = make_asha(objective_metric=Objective("validation", "accuracy", "max"))
    jobs = [strategy.suggest() for _ in range(6)]
    for i, s in enumerate(jobs):
        strategy.on_trial_start(f"j{i}", s)
        strategy.on_trial_complete(Trial(f"j{i}", s.parameters, s.meta, "completed", i / 10))
    assert [strategy.suggest().meta["config"] for _ in range(2)] == [5, 4]


def test_resume_continues_the_previous_job() -> None:
    sim = simulator(make_asha(resume=True), 4, quality, by_resource, max_jobs=60).run()
    promotions = [s for s in sim.starts() if s.meta["rung"] > 0]
    assert promotions
    for s in promotions:
        assert s.continue_from == trial_at(sim, s.meta["config"], s.meta["rung"] - 1).job_id
    restart = simulator(make_asha(), 4, quality, by_resource, max_jobs=60).run()
    assert all(s.continue_from is None for s in restart.starts())


def test_max_trials_waits_then_ends() -> None:
    sim = simulator(make_asha(max_trials=9), 3, quality, by_resource, max_jobs=1000).run()
    assert len({s.meta["config"] for s in sim.starts()}) == 9
    assert [s.meta["rung"] for s in sim.starts()].count(1) == 3  # floor(9/3)
    assert [s.meta["rung"] for s in sim.starts()].count(2) == 1  # floor(3/3)
    assert [s.meta["rung"] for s in sim.starts()].count(3) == 0  # floor(1/3)
    assert ("wait", 2) in sim.log or ("wait", 1) in sim.log
    assert sim.log[-1] == ("none", 0) and sim.exhausted


def test_finite_space_is_exhausted() -> None:
    strategy = make_asha(hyper_parameters=[DiscreteParameterRange("General/opt", ["a", "b"])])
    sim = simulator(strategy, 2, lambda p: 1.0 / p["General/epochs"], by_resource, max_jobs=100)
    sim.run()
    assert len({s.meta["config"] for s in sim.starts()}) == 2
    assert sim.exhausted


@pytest.mark.parametrize("resume", [False, True])
def test_state_round_trip(resume: bool) -> None:
    make = lambda: make_asha(resume=resume, max_trials=40)
    sim = simulator(make(), 5, quality, by_resource,
                    fails=lambda t, rng: rng.random() < 0.1, max_jobs=200).run(25)
    assert sim.running
    assert_round_trip(sim, make)
