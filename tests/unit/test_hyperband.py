"""Hyperband: Polyaxon's bracket math, promotions, resume, reproducibility and state round-trip.

:func:`driver` drives a strategy with :class:`controller.testing.DirectLoop` as the optimizer's
loop does (fill free worker slots with ``suggest()``, end one running trial at a time in a
seeded random order); test_bohb reuses it.
"""

from __future__ import annotations

import json
import math
from collections import Counter
from collections.abc import Callable
from typing import Any

import pytest

from controller.objective import Objective
from controller.parameters import (
    DiscreteParameterRange,
    LogUniformParameterRange,
    UniformIntegerParameterRange,
    UniformParameterRange,
)
from controller.strategies.base import WAIT, SearchStrategy, Suggestion, Trial
from controller.strategies.hyperband import Hyperband, HyperbandMath
from controller.testing import DirectLoop, Outcomes, shuffled

Outcome = Callable[[dict[str, Any], dict[str, Any]], tuple[str, Any]]
SPACE = [UniformParameterRange("General/x", 0.0, 1.0)]


def quadratic(params: dict[str, Any], meta: dict[str, Any]) -> tuple[str, Any]:
    """Completed, with a loss that is best at x = 0.3 and improves with the resource."""
    return "completed", (params["General/x"] - 0.3) ** 2 + 1.0 / meta["resource"]


def driver(strategy: SearchStrategy, workers: int = 4, outcome: Outcome = quadratic,
           seed: int = 0) -> DirectLoop:
    """A tiny optimizer loop: ``workers`` slots, trials end one at a time in random order, as
    ``outcome(parameters, meta)`` says."""
    return DirectLoop(strategy, Outcomes(lambda job, rng: outcome(job.parameters, job.meta)),
                      slots=workers, order=shuffled, seed=seed, prefix="job-")


def rows(loop: DirectLoop, start: int = 0) -> list[tuple[Any, ...]]:
    """Comparable form of the suggestions from ``start`` on."""
    return [(json.dumps(s.parameters, sort_keys=True), json.dumps(s.meta, sort_keys=True),
             s.continue_from) for s in loop.starts()[start:]]


def round_trip(loop: DirectLoop, build: Callable[[], SearchStrategy]) -> DirectLoop:
    """A loop that continues ``loop`` with a fresh strategy restored from JSON state and
    trials."""
    return loop.fresh(build()).restore(loop.snapshot())


def make(**kwargs: Any) -> Hyperband:
    args: dict[str, Any] = {"hyper_parameters": SPACE, "max_iterations": 81,
                            "resource": "epochs", "seed": 1,
                            "objective_metric": Objective("val", "loss", "min")}
    args.update(kwargs)
    return Hyperband(**args)


def by_rung(log: list[Suggestion]) -> dict[tuple[int, int], list[Suggestion]]:
    out: dict[tuple[int, int], list[Suggestion]] = {}
    for s in log:
        out.setdefault((s.meta["iteration"], s.meta["rung"]), []).append(s)
    return out


def check_promotions(sim: DirectLoop, maximize: bool = False) -> int:
    """Every promoted rung holds exactly the best ranked configurations of the rung before it;
    returns how many promotions were checked."""
    rungs = by_rung(sim.starts())
    ended = {(t.meta["iteration"], t.meta["rung"], t.meta["config"]): t
             for t in sim.records.values()}
    checked = 0
    for (it, rung), suggestions in rungs.items():
        if rung == 0:
            continue
        bracket = suggestions[0].meta["bracket"]
        keep = sim.strategy.math.get_num_runs(bracket)  # type: ignore[attr-defined]
        keep = sim.strategy.math.get_num_runs_to_keep(keep, rung - 1)  # type: ignore[attr-defined]
        ranked = [(t.value, c) for (i, r, c), t in ended.items()
                  if (i, r) == (it, rung - 1) and t.status == "completed"
                  and t.value is not None and not math.isnan(t.value)]
        ranked.sort(key=lambda vc: (-vc[0] if maximize else vc[0], vc[1]))
        assert [s.meta["config"] for s in suggestions] == [c for _, c in ranked[:keep]]
        checked += 1
    return checked


# --------------------------------------------------------------------------- bracket math
def test_math_matches_polyaxon_81_3() -> None:
    m = HyperbandMath(81, 3)
    assert (m.s_max, m.B) == (4, 405)
    assert [m.get_bracket(it) for it in range(5)] == [4, 3, 2, 1, 0]
    assert [m.get_num_runs(b) for b in (4, 3, 2, 1, 0)] == [81, 34, 15, 8, 5]
    assert [m.get_resources(b) for b in (4, 3, 2, 1, 0)] == pytest.approx([1, 3, 9, 27, 81])
    keep = {b: [m.get_num_runs_to_keep(m.get_num_runs(b), bi) for bi in range(b)]
            for b in range(5)}
    assert keep == {4: [27, 9, 3, 1], 3: [11, 3, 1], 2: [5, 1], 1: [2], 0: []}
    assert [n for n, _ in m.rungs(3)] == [34, 11, 3, 1]
    assert [r for _, r in m.rungs(3)] == pytest.approx([3, 9, 27, 81])
    # Polyaxon's schedule: the last bracket keeps int(5 / 3) = 1 configuration after rung 0
    assert [(it, bi, n) for it, bi, n, _ in m.schedule()] == [
        (0, 0, 81), (0, 1, 27), (0, 2, 9), (0, 3, 3), (0, 4, 1),
        (1, 0, 34), (1, 1, 11), (1, 2, 3), (1, 3, 1),
        (2, 0, 15), (2, 1, 5), (2, 2, 1), (3, 0, 8), (3, 1, 2), (4, 0, 5), (4, 1, 1)]
    assert [r for *_, r in m.schedule()][-2:] == [81, 81]  # r * eta = 243 capped at 81
    assert m.get_n_resources_for_iteration(4, 1) == 243


def test_math_float_pitfall_is_copied() -> None:
    assert HyperbandMath(243, 3).s_max == 4
    assert HyperbandMath(1000, 10).s_max == 2
    assert HyperbandMath(27, 3).s_max == 3


def test_full_run_81_3_matches_the_table() -> None:
    sim = driver(make(), workers=8).run()
    counts = Counter((s.meta["bracket"], s.meta["rung"], s.meta["resource"]) for s in sim.starts())
    assert counts == {
        (4, 0, 1): 81, (4, 1, 3): 27, (4, 2, 9): 9, (4, 3, 27): 3, (4, 4, 81): 1,
        (3, 0, 3): 34, (3, 1, 9): 11, (3, 2, 27): 3, (3, 3, 81): 1,
        (2, 0, 9): 15, (2, 1, 27): 5, (2, 2, 81): 1,
        (1, 0, 27): 8, (1, 1, 81): 2,
        (0, 0, 81): 5, (0, 1, 81): 1}
    assert len(sim.starts()) == 207
    assert len({s.meta["config"] for s in sim.starts()}) == 143
    assert len({json.dumps({k: v for k, v in s.parameters.items() if k != "General/epochs"})
                for s in sim.starts()}) == 143
    brackets = [s.meta["bracket"] for s in sim.starts()]
    assert brackets == sorted(brackets, reverse=True)  # most aggressive first, one at a time
    assert all(s.parameters["General/epochs"] == s.meta["resource"] for s in sim.starts())
    assert all(isinstance(s.meta["resource"], int) for s in sim.starts())
    assert sim.strategy.suggest() is None
    assert check_promotions(sim) == 11


@pytest.mark.parametrize("kind, resources", [
    ("float", [10 / 9, 10 / 3, 10.0]),
    ("int", [1, 3, 10]),
])
def test_max_iterations_10(kind: str, resources: list[float]) -> None:
    sim = driver(make(max_iterations=10, resource={"name": "steps", "type": kind})).run()
    rung0 = {s.meta["bracket"]: s.meta["resource"] for s in sim.starts() if s.meta["rung"] == 0}
    assert [rung0[b] for b in (2, 1, 0)] == pytest.approx(resources)
    counts = Counter((s.meta["bracket"], s.meta["rung"]) for s in sim.starts())
    assert counts == {(2, 0): 9, (2, 1): 3, (2, 2): 1, (1, 0): 5, (1, 1): 1, (0, 0): 3,
                      (0, 1): 1}
    if kind == "int":
        assert all(type(s.parameters["General/steps"]) is int for s in sim.starts())


# --------------------------------------------------------------------------- promotion
@pytest.mark.parametrize("sign", ["min", "max"])
def test_promotes_the_best_in_the_objective_direction(sign: str) -> None:
    def value_is_x(params: dict[str, Any], meta: dict[str, Any]) -> tuple[str, Any]:
        return "completed", params["General/x"]

    strategy = make(objective_metric=Objective("val", "acc", sign))
    sim = driver(strategy, workers=5, outcome=value_is_x).run()
    assert check_promotions(sim, maximize=sign == "max") == 11
    rung0 = sorted(s.parameters["General/x"] for s in by_rung(sim.starts())[(0, 0)])
    rung1 = sorted(s.parameters["General/x"] for s in by_rung(sim.starts())[(0, 1)])
    assert rung1 == (rung0[-27:] if sign == "max" else rung0[:27])


def test_failed_and_metricless_trials_are_never_promoted() -> None:
    def flaky(params: dict[str, Any], meta: dict[str, Any]) -> tuple[str, Any]:
        kind = meta["config"] % 4
        if kind == 0:
            return "failed", -100.0  # a (great) value, but the trial failed
        if kind == 1:
            return "completed", None
        if kind == 2 and meta["config"] % 8 == 2:
            return "completed", math.nan
        return "completed", params["General/x"]

    sim = driver(make(), workers=6, outcome=flaky).run()
    assert check_promotions(sim) > 0
    promoted = {s.meta["config"] for s in sim.starts() if s.meta["rung"] > 0}
    assert promoted and all(c % 4 == 3 or (c % 4 == 2 and c % 8 != 2) for c in promoted)


def test_a_rung_without_survivors_ends_its_bracket() -> None:
    sim = driver(make(), outcome=lambda p, m: ("failed", None)).run()
    assert Counter(s.meta["bracket"] for s in sim.starts()) == {4: 81, 3: 34, 2: 15, 1: 8, 0: 5}
    assert all(s.meta["rung"] == 0 for s in sim.starts())
    assert sim.exhausted


def test_waits_until_every_trial_of_the_rung_ended() -> None:
    strategy = make()
    sim = driver(strategy, workers=200)
    sim.fill()
    assert len(sim.running) == 81 and sum(e[0] == "wait" for e in sim.log) == 1
    for _ in range(80):
        sim.end_next()
        assert strategy.suggest() is WAIT
    sim.end_next()
    nxt = strategy.suggest()
    assert isinstance(nxt, Suggestion) and nxt.meta["rung"] == 1 and nxt.meta["resource"] == 3


def test_concurrency_caps_active_trials() -> None:
    strategy = make(concurrency=2)
    first, second = strategy.suggest(), strategy.suggest()
    assert isinstance(first, Suggestion) and isinstance(second, Suggestion)
    strategy.on_trial_start("a", first)
    strategy.on_trial_start("b", second)
    assert strategy.suggest() is WAIT
    strategy.on_trial_complete(Trial("a", first.parameters, first.meta, "completed", 0.5))
    assert isinstance(strategy.suggest(), Suggestion)

    sim = driver(make(max_iterations=9, concurrency=3), workers=10).run()
    assert sim.max_running == 3
    assert len(sim.starts()) == sum(n for *_, n, _ in HyperbandMath(9, 3).schedule())


# --------------------------------------------------------------------------- resume
@pytest.mark.parametrize("resume", [True, False])
def test_resume_continues_the_configs_previous_job(resume: bool) -> None:
    sim = driver(make(resume=resume), workers=7).run()
    job_of = {(t.meta["iteration"], t.meta["rung"], t.meta["config"]): t.job_id
              for t in sim.records.values()}
    promoted = [s for s in sim.starts() if s.meta["rung"] > 0]
    assert len(promoted) == 207 - 143
    for s in sim.starts():
        m = s.meta
        expected = (job_of[(m["iteration"], m["rung"] - 1, m["config"])]
                    if resume and m["rung"] > 0 else None)
        assert s.continue_from == expected
    for s in promoted if resume else []:
        previous = sim.records[s.continue_from]  # type: ignore[index]
        assert previous.meta["config"] == s.meta["config"]
        assert s.parameters["General/epochs"] == min(3 * previous.meta["resource"], 81)


# --------------------------------------------------------------------------- space, seeds
def test_suggestions_stay_in_the_space() -> None:
    space = [UniformParameterRange("General/x", 0.0, 1.0),
             UniformParameterRange("General/y", -1.0, 1.0, step_size=0.25),
             UniformIntegerParameterRange("General/layers", 1, 9, step_size=2),
             LogUniformParameterRange("General/lr", -5, -1),
             DiscreteParameterRange("General/act", ["relu", "tanh"])]
    strategy = make(hyper_parameters=space, max_iterations=27)
    sim = driver(strategy).run()
    assert len(sim.starts()) > 0
    assert all(strategy.space.contains(s.parameters) for s in sim.starts())
    assert all(set(s.parameters) == set(strategy.space.names) | {"General/epochs"}
               for s in sim.starts())


def test_seeded_runs_are_reproducible() -> None:
    a = driver(make(seed=7), seed=3).run()
    b = driver(make(seed=7), seed=3).run()
    c = driver(make(seed=8), seed=3).run()
    assert rows(a) == rows(b)
    assert rows(a) != rows(c)


@pytest.mark.parametrize("steps", [0, 1, 40, 81, 82, 120, 150, 190])
def test_state_round_trip_continues_identically(steps: int) -> None:
    def flaky(params: dict[str, Any], meta: dict[str, Any]) -> tuple[str, Any]:
        return ("failed", None) if meta["config"] % 7 == 0 else quadratic(params, meta)

    def build() -> Hyperband:
        return make(resume=True, concurrency=5)

    sim = driver(build(), workers=6, outcome=flaky, seed=11).run(steps)
    start = len(sim.starts())
    restored = round_trip(sim, build).run()
    sim.run()
    assert rows(restored, start) == rows(sim, start)


# --------------------------------------------------------------------------- arguments
def test_resource_forms() -> None:
    assert make(resource="epochs").resource.name == "General/epochs"
    assert make(resource="Args/steps").resource.name == "Args/steps"
    r = make(resource={"name": "lr_steps", "type": "float"}).resource
    assert (r.name, r.type) == ("General/lr_steps", "float")


@pytest.mark.parametrize("kwargs, field", [
    ({"max_iterations": 0}, "max_iterations"),
    ({"max_iterations": None}, "max_iterations"),
    ({"eta": 1}, "eta"),
    ({"eta": "3"}, "eta"),
    ({"resource": None}, "resource"),
    ({"resource": {"name": "e", "type": "str"}}, "resource type"),
    ({"resource": "General/x"}, "General/x"),
    ({"concurrency": 0}, "concurrency"),
    ({"max_iterations": 0.5}, "smallest resource is 0"),
    ({"metric": {"name": "loss"}}, "metric"),
    ({"metric": {"name": "loss", "optimization": "sideways"}}, "sideways"),
])
def test_invalid_arguments(kwargs: dict[str, Any], field: str) -> None:
    with pytest.raises(ValueError, match=field):
        make(**kwargs)


def test_unknown_argument_is_a_type_error() -> None:
    with pytest.raises(TypeError, match="max_iteration"):
        make(max_iteration=81)


def test_metric_must_agree_with_the_objective() -> None:
    ok = make(metric={"name": "loss", "optimization": "minimize"})
    assert ok.metric == {"name": "loss", "optimization": "minimize"}
    with pytest.raises(ValueError, match="contradicts"):
        make(metric={"name": "loss", "optimization": "maximize"})
    late = make(metric={"name": "acc", "optimization": "maximize"}, objective_metric=None)
    late.set_objective(Objective("val", "acc", "max"))
    with pytest.raises(ValueError, match="contradicts"):
        late.set_objective(Objective("val", "acc", "min"))


def test_from_polyaxon() -> None:
    config = {"kind": "hyperband", "maxIterations": 27, "eta": 3,
              "resource": {"name": "num_steps", "type": "int"},
              "metric": {"name": "loss", "optimization": "minimize"},
              "resume": True, "seed": 523, "concurrency": 4}
    strategy = Hyperband.from_polyaxon(config, SPACE,
                                       objective_metric=Objective("val", "loss", "min"))
    assert (strategy.math, strategy.resource.name, strategy.resume, strategy.seed,
            strategy.concurrency) == (HyperbandMath(27, 3), "General/num_steps", True, 523, 4)
    same = Hyperband(hyper_parameters=SPACE, max_iterations=27, resource="num_steps", seed=523,
                     resume=True, objective_metric=Objective("val", "loss", "min"))
    assert rows(driver(strategy, workers=4).run()) == rows(driver(same, workers=4).run())
    with pytest.raises(ValueError, match="params"):
        Hyperband.from_polyaxon({**config, "params": {}}, SPACE)
    with pytest.raises(ValueError, match="kind"):
        Hyperband.from_polyaxon({**config, "kind": "bayes"}, SPACE)
