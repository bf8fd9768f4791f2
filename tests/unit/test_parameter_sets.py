"""ParameterSets, the strategy of phs's definitions: sets in order, Bayesian values from a GP
conditioned on the set's other values, waiting rules, duplicates, malformed sets. (The contract
suite runs it in test_strategy_contract.py.)"""

from __future__ import annotations

from typing import Any

import pytest

from controller.objective import Objective
from controller.phs import ParameterDefinition
from controller.strategies.base import WAIT, Suggestion, Trial
from controller.strategies.parameter_sets import ParameterSets


def strategy(pardef: ParameterDefinition, **kwargs: Any) -> ParameterSets:
    defs = pardef.get_parameter_definitions()
    return ParameterSets(sets=defs.sets, types=defs.types, seed=5,
                         objective_metric=Objective("result", "value", "min"),
                         utility_function={"acquisition_function": "ei", "eps": 0.0,
                                           "num_warmup": 300}, **kwargs)


def run(s: ParameterSets, loss: Any, n: int | None = None) -> list[Suggestion]:
    """Suggest, start and complete one set at a time (``loss(parameters)``)."""
    out: list[Suggestion] = []
    while n is None or len(out) < n:
        sug = s.suggest()
        if sug is None:
            break
        assert isinstance(sug, Suggestion)
        job = f"job{len(out)}"
        s.on_trial_start(job, sug)
        s.on_trial_complete(Trial(job, sug.parameters, sug.meta, "completed",
                                  loss(sug.parameters), 0))
        out.append(sug)
    return out


def test_bayesian_values_are_conditioned_on_the_sets_other_values() -> None:
    pardef = ParameterDefinition(seed=3)
    pardef.set_data_types_and_order([("x", float), ("z", float)])
    pardef.add_individual_parameter_set(number_of_sets=30, set={
        "x": {"type": "random", "bounds": [-5, 5], "round_digits": 2},
        "z": {"type": "random_from_list", "lst": [-2.0, 2.0]}})
    for z in (2.0, -2.0, 2.0, -2.0):
        pardef.add_individual_parameter_set(set={
            "x": {"type": "bayesian", "bounds": [-5, 5], "round_digits": 3},
            "z": {"type": "explicit", "value": z}})
    s = strategy(pardef)
    done = run(s, lambda p: (p["General/x"] - p["General/z"]) ** 2)
    assert len(done) == 34 and s.suggest() is None
    for sug in done[30:]:
        assert sug.meta == {"set": sug.meta["set"], "group": sug.meta["set"] - 29,
                            "bayesian": ["x"]}
        x, z = sug.parameters["General/x"], sug.parameters["General/z"]
        assert round(x, 3) == x and abs(x - z) < 0.75, (x, z)  # the optimum for this z


def test_a_bayesian_set_waits_for_a_result_or_draws_when_nothing_runs() -> None:
    pardef = ParameterDefinition(seed=3)
    pardef.set_data_types_and_order([("n", int)])
    pardef.add_individual_parameter_set(number_of_sets=2, set={
        "n": {"type": "bayesian", "bounds": [0, 9]}})
    s = strategy(pardef)
    first = s.suggest()  # nothing ran, nothing runs: a uniform draw
    assert isinstance(first, Suggestion) and isinstance(first.parameters["General/n"], int)
    assert 0 <= first.parameters["General/n"] <= 9
    s.on_trial_start("a", first)
    assert s.suggest() is WAIT  # its result will come
    s.on_trial_complete(Trial("a", first.parameters, first.meta, "completed", 1.0, 0))
    second = s.suggest()
    assert isinstance(second, Suggestion) and second.parameters != first.parameters
    assert s.state_dict()["next"] == 2


def test_wait_for_all_waits_for_every_earlier_set() -> None:
    pardef = ParameterDefinition(seed=3)
    pardef.set_data_types_and_order([("x", float)])
    pardef.add_individual_parameter_set(number_of_sets=2, set={
        "x": {"type": "random", "bounds": [0, 1]}})
    pardef.add_individual_parameter_set(set={"x": {"type": "bayesian", "bounds": [0, 1]}})
    s = strategy(pardef, wait_for_all=True)
    a, b = s.suggest(), s.suggest()
    assert isinstance(a, Suggestion) and isinstance(b, Suggestion)
    s.on_trial_start("a", a)
    s.on_trial_start("b", b)
    s.on_trial_complete(Trial("a", a.parameters, a.meta, "completed", 0.5, 0))
    assert s.suggest() is WAIT  # b still runs
    s.on_trial_complete(Trial("b", b.parameters, b.meta, "failed", None, None))
    assert isinstance(s.suggest(), Suggestion)


def test_prevent_duplicate_holds_for_bayesian_sets() -> None:
    pardef = ParameterDefinition(seed=3)
    pardef.set_data_types_and_order([("n", int)])
    pardef.add_individual_parameter_set(set={"n": {"type": "explicit", "value": 1}})
    pardef.add_individual_parameter_set(number_of_sets=4, set={
        "n": {"type": "bayesian", "bounds": [0, 4]}}, prevent_duplicate=True)
    done = run(strategy(pardef), lambda p: (p["General/n"] - 1) ** 2)
    assert sorted(s.parameters["General/n"] for s in done) == [0, 1, 2, 3, 4]


@pytest.mark.parametrize("sets, match", [
    ([{"group": 0, "values": {"x": 1.0}}], "set 0: expected the keys"),
    ([{"group": 0, "values": {}, "bayesian": {}, "prevent_duplicate": True}],
     "set 0 defines \\[\\], the parameters are \\['x'\\]"),
    ([{"group": 0, "values": {}, "bayesian": {"x": {"bounds": [2, 1]}},
       "prevent_duplicate": True}], "set 0: Bayesian parameter 'x' needs bounds"),
    ([], "at least one set"),
])
def test_malformed_sets_are_refused(sets: list[dict[str, Any]], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        ParameterSets(sets=sets, types=[["x", "float"]])
