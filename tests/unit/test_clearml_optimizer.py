"""The optimizer's ClearML-compatible edges on fakeredis: parameter names without a section."""

from __future__ import annotations

import pytest

from controller import (
    DiscreteParameterRange,
    HyperParameterOptimizer,
    ParameterSet,
    UniformParameterRange,
)
from workers import Store, Task

ENTRY = "tests.unit.sample_entry:train"


def base(**parameters: object) -> Task:
    return Task.create("p", "base", entry_point=ENTRY, parameters=parameters)


def test_a_name_without_section_resolves_to_general(store: Store,
                                                    caplog: pytest.LogCaptureFixture) -> None:
    task = base(**{"General/lr": 0.1, "General/net": "a", "Args/batch": 8, "Args/lr": 0.2})
    opt = HyperParameterOptimizer(
        task.id, [UniformParameterRange("lr", 0.01, 0.3, step_size=0.01),
                  ParameterSet([{"net": "b", "Args/batch": 16},
                                {"net": DiscreteParameterRange("net", ["c", "d"])}])],
        "loss", "val", store=store)
    assert opt._space.names == ["General/lr", "General/net", "Args/batch"]
    warnings = [r.message for r in caplog.records if "without a section" in r.message]
    assert warnings == [("hyper-parameter name(s) without a section resolved to the base "
                        "task's: lr -> General/lr, net -> General/net")]


@pytest.mark.parametrize("name", ["batch", "missing"])
def test_an_unresolvable_name_lists_the_base_tasks_names(store: Store, name: str) -> None:
    task = base(**{"General/lr": 0.1, "Args/batch": 8, "Other/batch": 9})
    with pytest.raises(ValueError, match=rf"\['{name}'\] are not parameters of base task "
                       rf"{task.id}; it has: \['Args/batch', 'General/lr', 'Other/batch'\]"):
        HyperParameterOptimizer(task.id, [DiscreteParameterRange(name, [1, 2])], "loss", "val",
                                store=store)
