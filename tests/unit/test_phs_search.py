"""The function API end to end on fakeredis, trials run in-process by real TrialRunners: phs's
quick start (20 random sets, then 10 Bayesian ones) and its typed example with expressions,
an expression that raises, a restart that runs the missing sets only, ``hpq export``, the PNG
plots and the report's run sections."""

from __future__ import annotations

import csv
import io
import json
import math
from collections.abc import Iterator
from pathlib import Path

import pytest

from controller import HyperParameterOptimizer
from controller.cli import main
from controller.dispatch import InProcessDispatcher
from controller.export import results_table
from controller.persistence import OptimizerRepository
from controller.phs import ParameterDefinition, search
from controller.plots import write_plots
from controller.report import write_report
from tests.helpers import crash, wait_until
from tests.phs_definitions import quick_start
from tests.unit import phs_targets
from tests.unit.test_report import page_data
from workers import Store, Task, TaskStatus

GRIEWANK = "tests.unit.phs_targets:test_griewank"


@pytest.fixture
def dispatcher(store: Store) -> Iterator[InProcessDispatcher]:
    running = InProcessDispatcher(store, threads=2)
    yield running
    assert running.close(timeout=30)


def griewank(x: float, y: float) -> float:
    return (x * x + y * y) / 4000 - math.cos(x) * math.cos(y / math.sqrt(2)) + 1


def test_the_quick_start(store: Store, dispatcher: InProcessDispatcher, tmp_path: Path) -> None:
    opt = search(GRIEWANK, quick_start(1), workers=None, concurrency=2, dispatcher=dispatcher,
                 seed=3)
    assert opt.end_reason == "search space exhausted"
    table = results_table(store, opt.id)
    assert [r.index for r in table.rows] == list(range(30))
    assert all(r.status == "completed" and r.worker and r.end >= r.start  # type: ignore[operator]
               for r in table.rows)
    for row in table.rows:
        assert row.values == [pytest.approx(griewank(row.parameters["x"], row.parameters["y"]))]
        assert bool(row.bayesian) == (row.index >= 20)
    bayesian = [r for r in table.rows if r.bayesian]
    assert all(-5 <= r.parameters["x"] <= 5 and -5 <= r.parameters["y"] <= 5 for r in bayesian)
    assert min(r.values[0] for r in bayesian) < min(  # type: ignore[index]
        r.values[0] for r in table.rows[:20])  # type: ignore[index]

    # (to a file: the in-process trials, run concurrently, leave sys.stdout redirected)
    assert main(["export", opt.id, "-o", str(tmp_path / "r.csv")]) == 0
    rows = list(csv.DictReader(io.StringIO((tmp_path / "r.csv").read_text())))
    assert list(rows[0]) == ["index", "job_id", "x", "y", "result", "start", "end", "run_time",
                             "worker", "status"]
    assert [int(r["index"]) for r in rows] == list(range(30))
    assert float(rows[4]["result"]) == pytest.approx(table.rows[4].values[0])  # type: ignore
    assert rows[4]["start"].endswith("Z") and float(rows[4]["run_time"]) >= 0
    assert main(["export", opt.id, "--format", "json", "-o", str(tmp_path / "r.json")]) == 0
    assert len(json.loads((tmp_path / "r.json").read_text())["rows"]) == 30

    paths = write_plots(table, tmp_path / "plots")
    assert sorted(p.name for p in paths) == [
        "contour_x_y.png", "parameter_combinations.png", "result_evolution.png",
        "scatter3d_x_y.png", "worker_timeline.png"]
    assert all(p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" for p in paths)

    write_report(store, opt.id, tmp_path / "report.html")
    html = (tmp_path / "report.html").read_text()
    assert "<h2>Worker timeline</h2>" in html and "<h2>Objective over x and y</h2>" in html
    assert len(page_data(html)["overview"]["timeline"]["jobs"]) == 30  # the dashboard's chart
    surface = html[html.index("<h2>Objective over x and y</h2>"):]
    assert surface[:surface.index("</svg>")].count("<circle") == 30


def typed(expressions: list[str]) -> ParameterDefinition:
    pardef = ParameterDefinition(seed=4)
    pardef.set_data_types_and_order([("x", float), ("f", "expr"), ("iterations", int),
                                     ("s", str)])
    pardef.add_individual_parameter_set(
        number_of_sets=len(expressions) * 2,
        set={"x": {"type": "random", "bounds": [-5, 5], "distribution": "uniform",
                   "round_digits": 3},
             "f": {"type": "random_from_list", "lst": expressions},
             "iterations": {"type": "random", "bounds": [1, 7], "distribution": "uniform",
                            "round_digits": 0},
             "s": {"type": "random_from_list", "lst": ["string1", "string2", "string3"]}},
        prevent_duplicate=True)
    return pardef


def test_expressions_are_evaluated_on_the_worker_and_one_that_raises_fails_alone(
        store: Store, dispatcher: InProcessDispatcher) -> None:
    target = "tests.unit.phs_targets:data_types_and_order_func"
    pardef = typed(["math.sin(x)", "math.cos(x)", "math.log(x)"])
    opt = search(target, pardef, workers=None, concurrency=2, dispatcher=dispatcher, seed=3)
    table = results_table(store, opt.id)
    assert table.expressions == ["f"] and len(table.rows) == 6
    for row in table.rows:
        x, expression = row.parameters["x"], row.parameters["f"]
        task = Task.get_task(row.job_id)
        if expression == "math.log(x)" and x <= 0:
            assert row.status == "failed" and row.values is None
            assert task.error == ("ExpressionError: expression f = 'math.log(x)' failed: "
                                  "ValueError: math domain error")
            assert task.artifacts["expressions"].get() == {
                "f": {"expression": "math.log(x)", "error": "ValueError: math domain error"}}
            assert row.expressions == {"f": "error: ValueError: math domain error"}
            continue
        expected = eval(expression, {"math": math}, {"x": x})
        assert row.status == "completed" and row.values == [pytest.approx(expected)]
        assert row.expressions == {"f": pytest.approx(expected)}
        assert task.artifacts["expressions"].get() == {
            "f": {"expression": expression, "value": pytest.approx(expected)}}
        assert isinstance(row.parameters["iterations"], int)
    assert {r.status for r in table.rows} >= {"completed"}
    header = table.to_csv().splitlines()[0]
    assert header == ("index,job_id,x,f,iterations,s,f value,result,start,end,run_time,worker,"
                      "status")


def test_parameters_by_name_and_a_folder_per_trial(store: Store,
                                                   dispatcher: InProcessDispatcher) -> None:
    pardef = ParameterDefinition(seed=2)
    pardef.set_data_types_and_order([("x", float), ("f", "expr")])
    pardef.add_individual_parameter_set(number_of_sets=3, set={
        "x": {"type": "random", "bounds": [0, 2]}, "f": {"type": "explicit", "value": "x / 2"}})
    opt = search(phs_targets.by_name, pardef, workers=None, dispatcher=dispatcher, seed=1)
    for row in results_table(store, opt.id).rows:
        x = row.parameters["x"]
        assert row.values == [pytest.approx((x - 1) ** 2 + x / 2)]
        folder = store.settings.artifacts_root / row.job_id / "worker_out"
        written = (folder / "out.txt").read_text()
        assert f"'worker_save_path': '{folder}'" in written and "'hyperpar': 'x=" in written


def test_a_function_that_returns_no_number_fails_its_trial(store: Store,
                                                           dispatcher: InProcessDispatcher
                                                           ) -> None:
    pardef = ParameterDefinition(seed=2)
    pardef.set_data_types_and_order([("s", str)])
    pardef.add_individual_parameter_set(set={"s": {"type": "explicit", "value": "text"}})
    opt = search("tests.unit.phs_targets:echo_s", pardef, workers=None,
                 dispatcher=dispatcher)
    (row,) = results_table(store, opt.id).rows
    assert row.status == "failed" and Task.get_task(row.job_id).error == (
        "TypeError: tests.unit.phs_targets:echo_s returned 'text', not a number")
    with pytest.raises(ValueError, match="module-level function"):
        search(lambda parameter: 0.0, pardef, workers=None, dispatcher=dispatcher)


@pytest.mark.parametrize("how", ["killed", "stopped"])
def test_a_restart_runs_the_missing_sets_only(store: Store, dispatcher: InProcessDispatcher,
                                              how: str) -> None:
    pardef = quick_start(seed=5)
    pardef.add_individual_parameter_set(number_of_sets=4, set={  # a third group, mixed
        "x": {"type": "bayesian", "bounds": [-1, 1], "round_digits": 2},
        "y": {"type": "random_from_list", "lst": [0.5, 1.5]}})
    opt = search(GRIEWANK, pardef, workers=None, concurrency=2, dispatcher=dispatcher, seed=3,
                 wait=False)
    wait_until(lambda: sum(r.status == "completed" for r in results_table(store, opt.id).rows)
               >= 12, 20, "12 results")
    if how == "killed":
        crash(opt)
    else:
        opt.stop()
        assert Task.get_task(opt.id).status is TaskStatus.STOPPED
    before = {r.job_id: r for r in results_table(store, opt.id).rows}
    assert 12 <= len(before) < 34
    resumed = HyperParameterOptimizer.resume(opt.id, dispatcher=dispatcher)
    resumed.start()
    assert resumed.wait(timeout=1.0) and resumed.end_reason == "search space exhausted"
    jobs = OptimizerRepository(store).load(opt.id).jobs
    assert sorted(j.meta["set"] for j in jobs) == list(range(34))  # each set once
    assert [j.meta["group"] for j in sorted(jobs, key=lambda j: j.meta["set"])] == \
        [0] * 20 + [1] * 10 + [2] * 4
    runs = [Task.get_task(j.id) for j in jobs]
    assert all(t.attempts <= 1 for t in runs)  # nothing ran twice (a stopped queued set: 0)
    after = {r.job_id: r for r in results_table(store, opt.id).rows}
    for job_id, row in before.items():  # what had run is kept as it was
        if row.status == "completed":
            assert after[job_id].values == row.values
    new = [r for r in after.values() if r.job_id not in before]
    assert len(new) == 34 - len(before) and all(r.status == "completed" for r in new)
    third = [r for r in after.values() if r.index >= 30]
    assert all(-1 <= r.parameters["x"] <= 1 and r.parameters["y"] in (0.5, 1.5)
               for r in third)
    stopped = [r for r in after.values() if r.status == "stopped"]
    assert len(stopped) <= (2 if how == "stopped" else 0)


def test_hpq_export_prints_the_table_and_refuses_a_task_that_is_no_optimizer(
        store: Store, capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    one_at_a_time = InProcessDispatcher(store, threads=1)  # (sys.stdout stays capsys's)
    pardef = ParameterDefinition(seed=2)
    pardef.set_data_types_and_order([("x", float), ("y", float)])
    pardef.add_individual_parameter_set(number_of_sets=3, set={
        "x": {"type": "random", "bounds": [0, 1]}, "y": {"type": "explicit", "value": 2.0}})
    opt = search(GRIEWANK, pardef, workers=None, dispatcher=one_at_a_time)
    assert one_at_a_time.close(timeout=10)
    capsys.readouterr()
    assert main(["export", opt.id, "--format", "json"]) == 0
    rows = json.loads(capsys.readouterr().out)["rows"]
    assert [r["index"] for r in rows] == [0, 1, 2] and all(r["y"] == 2.0 for r in rows)
    assert rows[0]["result"] == pytest.approx(griewank(rows[0]["x"], 2.0))
    base = Task.get_task(opt.id).record["configuration"]
    assert json.loads(base)["optimizer_class"].endswith(":ParameterSets")
    assert main(["export", json.loads(base)["base_task_id"]]) == 2
    assert "is not an hpqueue optimizer" in capsys.readouterr().err
    assert main(["plots", opt.id, "-o", str(tmp_path / "p"), "--x", "nope", "--y", "y"]) == 2
    assert "'nope' is not a numeric parameter" in capsys.readouterr().err
    assert not (tmp_path / "p").exists()  # nothing written
