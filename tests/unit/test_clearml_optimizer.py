"""ClearML-compatible edges on fakeredis: parameter names without a section, ClearML's
Objective and MultiObjective, parameter dicts, budgets."""

from __future__ import annotations

import pytest

from controller import (
    DiscreteParameterRange,
    HyperParameterOptimizer,
    MultiObjective,
    Objective,
    Parameter,
    ParameterSet,
    UniformParameterRange,
)
from controller.budget import Budget
from workers import Store, Task, TaskStatus

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


# ==================================================================== objectives
def finished_child(store: Store, parent: str, status: str = "completed",
                   **scalars: tuple[float, int]) -> Task:
    """A child of ``parent`` that reported ``title/series=(value, iteration)`` and ended."""
    child = Task.clone(base(), parent=parent)
    for key, (value, iteration) in scalars.items():
        title, series = key.split("__")
        child.get_logger().report_scalar(title, series, value, iteration)
    store.transition(child.id, parent, [TaskStatus.CREATED], TaskStatus(status))
    return child


def test_objective_has_clearmls_constructor_and_queries(store: Store) -> None:
    assert Objective("val", "acc").maximize  # ClearML's default order is max
    glob = Objective("val", "loss", "min", extremum=True)
    assert (glob.order, glob.extremum, glob.sign) == ("min", True, "min_global")
    assert Objective.from_dict(Objective("a", "b", "max_global").to_dict()).extremum
    a = finished_child(store, "opt", val__loss=(0.5, 3))
    a.get_logger().report_scalar("val", "loss", 0.2, 1)  # the min, not the last
    b = finished_child(store, "opt", val__loss=(0.3, 2))
    last = Objective("val", "loss", "min")
    assert last.get_objective(a.id) == 0.5 and glob.get_objective(a) == 0.2
    assert last.get_current_raw_objective(a) == (3, 0.5)
    assert last.get_normalized_objective(a.id) == -0.5 and last.get_objective_sign() == -1
    assert Objective("val", "acc").get_objective_sign() == 1
    assert last.get_objective_metric() == ("val", "loss")
    assert last.get_objective(Task.clone(base())) is None
    assert last.get_top_tasks(5, optimizer_task_id="opt") == [b, a]
    assert glob.get_top_tasks(1, optimizer_task_id="opt") == [a]


def test_top_tasks_rank_finished_tasks_only(store: Store) -> None:
    done = finished_child(store, "opt", val__loss=(0.5, 1))
    finished_child(store, "opt", status="failed", val__loss=(0.1, 1))
    running = Task.clone(base(), parent="opt")
    running.get_logger().report_scalar("val", "loss", 0.05, 1)
    assert Objective("val", "loss", "min").get_top_tasks(3, "opt") == [done]
    assert Objective("val", "loss", "min").get_top_tasks(
        3, "opt", task_filter={"status": ["failed", "completed"]})[1] == done
    with pytest.raises(ValueError, match=r"task_filter keys \['page'\] are not supported"):
        Objective("val", "loss", "min").get_top_tasks(3, "opt", task_filter={"page": 0})


def test_multi_objective_has_clearmls_constructor_and_queries(store: Store) -> None:
    multi = MultiObjective(["val", "val"], ["loss", "acc"], ["min", "max"], [False, True])
    assert multi.len == 2 and multi.title == ["val", "val"] and multi.extremum == [False, True]
    assert multi.get_objective_metric() == [("val", "loss"), ("val", "acc")]
    assert multi.get_objective_sign() == [-1, 1]
    a = finished_child(store, "opt", val__loss=(0.5, 2), val__acc=(0.9, 2))
    b = finished_child(store, "opt", val__loss=(0.4, 2), val__acc=(0.8, 2))
    c = finished_child(store, "opt", val__loss=(0.6, 2), val__acc=(0.7, 2))  # dominated
    finished_child(store, "opt", val__loss=(0.1, 2))  # lacks acc
    assert multi.get_objective(a) == [0.5, 0.9]
    assert multi.get_normalized_objective(b.id) == [-0.4, 0.8]
    assert multi.get_current_raw_objective(a) == [(2, 0.5), (2, 0.9)]
    top = multi.get_top_tasks(3, "opt")
    assert set(top[:2]) == {a, b} and top[2] == c
    with pytest.raises(ValueError, match="same length"):
        MultiObjective(["val"], ["loss", "acc"], ["min"], [False])


# ============================================================ parameters, budget
def test_parameter_from_clearmls_dicts() -> None:
    clearml_set = {"type": "ParameterSet", "name": None, "values": [
        {"General/opt": "sgd", "General/lr": {"type": "UniformParameterRange",
                                              "name": "General/lr", "min_value": 0.1,
                                              "max_value": 0.3, "step_size": 0.1,
                                              "include_max": True}},
        {"General/opt": "adam", "General/lr": 0.001}]}
    param = Parameter.from_dict(clearml_set)
    assert isinstance(param, ParameterSet) and param.values == param.parameter_combinations
    assert param.to_list() == [{"General/opt": "sgd", "General/lr": 0.1},
                               {"General/opt": "sgd", "General/lr": 0.2},
                               {"General/opt": "sgd", "General/lr": 0.3},
                               {"General/opt": "adam", "General/lr": 0.001}]
    integer = Parameter.from_dict({"type": "UniformIntegerParameterRange", "name": "General/n",
                                   "min_value": 0, "max_value": 10, "step_size": 5,
                                   "include_max": True})
    assert integer.to_list() == [{"General/n": 0}, {"General/n": 5}, {"General/n": 10}]


def test_budget_to_dict_clearmls_way() -> None:
    budget = Budget(total_max_jobs=4, max_iteration_per_job=10, compute_time_limit=None)
    assert budget.to_dict(created=3, iterations=20, compute_seconds=60) == {
        "jobs": {"limit": 4, "used": 0.75}, "iterations": {"limit": 40, "used": 0.5},
        "compute_time": {"limit": None, "used": 0}}
