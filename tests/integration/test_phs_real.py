"""phs on real workers (a real redis-server, two Celery worker processes): the quick start
through phs's own classes (imports changed only), its results table growing as results arrive,
``hpq export``, the four post-processing plots, a typed experiment with an expression, and a
controller killed mid-run whose restart runs the missing sets only."""

from __future__ import annotations

import csv
import io
import math
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from controller import phs
from controller.cli import main
from controller.export import results_table
from tests.helpers import wait_until
from tests.phs_definitions import quick_start
from workers import Store, Task

pytestmark = [pytest.mark.integration, pytest.mark.timeout(180)]

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"


def rows(path: Path) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(path.read_text()))) if path.exists() else []


def test_the_quick_start_ported_by_its_imports(real_store: Store, queue: str,
                                               local_workers: object, tmp_path: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    experiment = tmp_path / "griewank"
    phs.experiment_definition.ExperimentDefinition(
        experiment_dir=str(experiment), target_module_root_dir=str(EXAMPLES),
        target_module_name='phs_functions', target_function_name='test_griewank',
        parameter_definitions=quick_start(1).get_parameter_definitions())
    with pytest.raises(ValueError, match="already exists"):
        phs.experiment_definition.ExperimentDefinition(
            experiment_dir=str(experiment), target_module_root_dir=str(EXAMPLES),
            target_module_name='phs_functions', target_function_name='test_griewank',
            parameter_definitions=quick_start(1).get_parameter_definitions())
    compdef = phs.compute_definition.ComputeDefinition(
        experiment_dir=str(experiment), parallelization='celery', queue=queue)
    assert compdef.start_execution() == 1
    table = rows(experiment / "results" / "result_frame.csv")
    assert [int(r["index"]) for r in table] == list(range(30))
    assert all(r["status"] == "completed" and r["worker"] for r in table)
    assert min(float(r["result"]) for r in table[20:]) < min(float(r["result"])
                                                            for r in table[:20])

    opt_id = compdef.optimizer.id  # type: ignore[union-attr]
    capsys.readouterr()
    assert main(["export", opt_id]) == 0
    exported = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert [r["result"] for r in exported] == [r["result"] for r in table]

    post_pro = phs.post_processing.PostProcessing(experiment_dir=str(experiment))
    made = [post_pro.plot_3d(name='plot_xyr_post', first='x', second='y', third='result',
                             contour=True),
            post_pro.result_evolution(name='evo_post'),
            post_pro.create_worker_timeline(name='worker_timeline_post'),
            post_pro.create_parameter_combination(name='parameter_combination_post')]
    assert sorted(p.name for p in (experiment / "post_processing").iterdir()) == sorted(
        p.name for p in made) and all(p.stat().st_size > 1000 for p in made)

    again = phs.compute_definition.ComputeDefinition(experiment_dir=str(experiment),
                                                     parallelization='celery', queue=queue)
    assert again.start_execution() == 1 and again.optimizer is None  # nothing to do
    assert "Nothing to do" in capsys.readouterr().out


def test_an_expression_parameter_on_real_workers(real_store: Store, queue: str,
                                                 local_workers: object) -> None:
    pardef = phs.parameter_definition.ParameterDefinition(seed=2)
    pardef.set_data_types_and_order([('x', float), ('f', 'expr'), ('iterations', int),
                                     ('s', str)])
    pardef.add_individual_parameter_set(
        number_of_sets=3,
        set={'x': {'type': 'random', 'bounds': [-5, 5], 'round_digits': 3},
             'f': {'type': 'random_from_list', 'lst': ['math.sin(x)', 'math.cos(x)']},
             'iterations': {'type': 'random', 'bounds': [1, 7], 'round_digits': 0},
             's': {'type': 'random_from_list', 'lst': ['string1', 'string2']}})
    opt = phs.search(f"{EXAMPLES / 'phs_functions.py'}:data_types_and_order_func", pardef,
                     workers=None, queue=queue, store=real_store)
    table = results_table(real_store, opt.id)
    assert len(table.rows) == 3
    for row in table.rows:
        x = row.parameters["x"]
        value = eval(row.parameters["f"], {"math": math}, {"x": x})
        assert row.values == [pytest.approx(value)] and row.expressions["f"] == pytest.approx(
            value)
        assert f"x={x}" in Task.get_task(row.job_id, store=real_store).output


def test_a_killed_controller_restarts_with_the_missing_sets_only(
        real_store: Store, real_env: dict[str, str], queue: str, local_workers: object,
        tmp_path: Path) -> None:
    experiment = tmp_path / "restart"
    phs.experiment_definition.ExperimentDefinition(
        experiment_dir=str(experiment), target_module_root_dir=str(Path(__file__).parent),
        target_module_name='phs_trials', target_function_name='slow_griewank',
        parameter_definitions=quick_start(3).get_parameter_definitions())
    results = experiment / "results" / "result_frame.csv"
    controller = subprocess.Popen(
        [sys.executable, str(Path(__file__).with_name("phs_compute.py")), str(experiment),
         queue], env={**os.environ, **real_env}, cwd=ROOT, stdout=subprocess.DEVNULL)
    try:
        wait_until(lambda: sum(r["status"] == "completed" for r in rows(results)) >= 8, 60,
                   "8 results")
    finally:
        controller.send_signal(signal.SIGKILL)
        controller.wait(10)
    before = {int(r["index"]): r for r in rows(results) if r["status"] == "completed"}
    assert 8 <= len(before) < 30

    compdef = phs.compute_definition.ComputeDefinition(
        experiment_dir=str(experiment), parallelization='celery', queue=queue)
    compdef.start_execution()  # (waits for the killed controller's lease to expire)
    after = rows(results)
    assert [int(r["index"]) for r in after] == list(range(30))  # each set once
    assert all(r["status"] == "completed" for r in after)
    for index, row in before.items():  # what had run was not run again
        assert after[index]["job_id"] == row["job_id"] and after[index]["result"] == row["result"]
    children = Task.get_tasks(parent=compdef.optimizer.id, store=real_store)  # type: ignore
    assert len(children) == 30 and all(t.attempts == 1 for t in children)
