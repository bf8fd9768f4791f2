"""The optimizer's loop in simulated time (controller/simulate): stepping, stopping early,
snapshot and restore. (Every strategy goes through it in test_strategy_contract.)"""

from __future__ import annotations

import json
from typing import Any

import pytest

from controller.objective import Objective
from controller.parameters import UniformParameterRange
from controller.simulate import Report, Simulation, simulate
from controller.stopping import MedianStopping
from controller.strategies import RandomSearch

OBJECTIVE = Objective("objective", "value", "min")


def curve(parameters: dict[str, Any], start_iteration: int) -> tuple[list[Report], float, bool]:
    """Four epochs, one report each; long runs for large x (stopped by the median rule)."""
    x = parameters["General/x"]
    reports = [Report((e + 1) * (1 + x), e, (x - 0.3) ** 2 + 1 / (e + 1))
               for e in range(start_iteration, 4)]
    return reports, 4 * (1 + x) + 0.1, False


def make(**kwargs: Any) -> Simulation:
    strategy = RandomSearch(hyper_parameters=[UniformParameterRange("General/x", 0.0, 1.0)],
                            seed=5)
    return Simulation(strategy, OBJECTIVE, curve, **{"workers": 3, "total_max_jobs": 12,
                                                     "time_limit_per_job": 0.07, **kwargs})


def rows(sim: Simulation) -> list[tuple[Any, ...]]:
    return [(j.id, j.parameters, j.status.value, j.started_at, j.ended_at, j.reason)
            for j in sim.result().jobs]


def test_steps_run_and_simulate_agree() -> None:
    policies = [MedianStopping(grace_iterations=1, min_samples=2)]
    whole = make(policies=policies)
    assert whole.run() and whole.done == "total_max_jobs reached"
    stepped = make(policies=[MedianStopping(grace_iterations=1, min_samples=2)])
    steps = 0
    while stepped.step():
        steps += 1
    assert rows(stepped) == rows(whole) and steps > 12 * 3
    assert not stepped.step()  # over: nothing more happens
    result = whole.result()
    assert [j.id for j in result.jobs] == [f"sim{i}" for i in range(12)]
    assert result.reason == "total_max_jobs reached" and result.curve
    assert any("median" in j.reason for j in result.jobs)
    assert result.best_value == min(p.best for p in result.curve if p.best is not None)
    short = simulate(make().scheduler.strategy, curve, objective=OBJECTIVE, max_events=5)
    assert short.reason == "event limit reached"


@pytest.mark.parametrize("ended", [1, 5, 9])
def test_a_restored_simulation_continues_as_the_uninterrupted_one(ended: int) -> None:
    """Running jobs go on while the controller is down; stops it had requested still happen
    (stopping policies keep no saved state: a restore starts them afresh, as a resume does)."""
    whole = make()
    whole.run()
    first = make()
    assert not first.run(until=lambda sim: sim.ended >= ended)
    assert first.result().reason == "" and first.ended == ended
    second = make()
    second.restore(json.loads(json.dumps(first.snapshot())))
    assert second.run()
    assert [(j.id, j.parameters, j.status.value, j.reason) for j in second.result().jobs] == [
        (j.id, j.parameters, j.status.value, j.reason) for j in whole.result().jobs]
    assert any("time_limit_per_job" in j.reason for j in whole.result().jobs)
    assert second.done == whole.done
    with pytest.raises(ValueError, match="restore"):
        second.restore(first.snapshot())
