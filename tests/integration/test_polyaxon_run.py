"""``hpq run -f ... --eager`` on the documented polyaxonfiles of examples/polyaxon, against a
real redis-server with real local Celery worker processes: each trial runs ``python3 train.py``
with its rendered args and reports through :mod:`workers.tracking`."""

from __future__ import annotations

import os
import sys
from collections import Counter
from pathlib import Path

import pytest
import yaml

from controller.cli import main
from controller.jobs import Job
from controller.persistence import OptimizerRepository
from controller.polyaxon import V1Hyperband
from workers import Store, Task, TaskStatus

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "polyaxon"
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def python3_on_path(monkeypatch: pytest.MonkeyPatch) -> None:
    """``python3`` is this interpreter, and it imports this checkout's ``workers``, in the
    workers' trials (as in a Polyaxon container, whose python has polyaxon)."""
    monkeypatch.setenv("PATH", f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(
        p for p in (str(ROOT), os.environ.get("PYTHONPATH")) if p))


def run(store: Store, files: list[Path], capsys: pytest.CaptureFixture[str]) -> list[Job]:
    """``hpq run -f ... --eager``; its jobs in the order the optimizer created them."""
    assert main(["run", *[a for f in files for a in ("-f", str(f))], "--eager",
                 "-p", "polyaxon-examples"]) == 0
    out = capsys.readouterr().out
    opt_id = out.split("\noptimizer ")[1].split(":")[0]
    return sorted(OptimizerRepository(store).load(opt_id).jobs, key=lambda job: job.index)


@pytest.mark.integration
@pytest.mark.timeout(120)
def test_the_documented_mapping_runs_its_two_configurations_in_order(
        real_store: Store, python3_on_path: None, capsys: pytest.CaptureFixture[str]) -> None:
    trials = [Task.get_task(job.id) for job in run(real_store, [EXAMPLES / "mapping.yaml"],
                                                     capsys)]
    assert [t.status for t in trials] == [TaskStatus.COMPLETED] * 2, [t.error for t in trials]
    expected = [{"learning_rate": 0.001, "dropout": 0.25, "conv_activation": "relu"},
                {"learning_rate": 0.01, "dropout": 0.5, "conv_activation": "sigmoid"}]
    for trial, values in zip(trials, expected):
        params = trial.get_parameters()
        assert {k: params[f"General/{k}"] for k in values} == values
        assert params["General/epochs"] == 5 and params["General/conv1_size"] == 32
        # train.py got the rendered args and reported 5 steps, then its outputs
        assert (f"lr={values['learning_rate']} dropout={values['dropout']} "
                f"activation={values['conv_activation']} steps=5") in trial.output
        assert trial.get_reported_scalars()["loss"]["loss"]["x"] == [0, 1, 2, 3, 4, 5]
        assert set(trial.artifacts["outputs"].get()) == {"loss", "accuracy"}
    assert trials[0].get_last_scalar_metrics()["loss"]["loss"]["last"] < (
        trials[1].get_last_scalar_metrics()["loss"]["loss"]["last"])


@pytest.mark.integration
@pytest.mark.timeout(240)
def test_the_documented_hyperband_runs_polyaxons_schedule(
        real_store: Store, python3_on_path: None, capsys: pytest.CaptureFixture[str],
        tmp_path: Path) -> None:
    # a small budget: maxIterations 9 instead of 81 (the same code computes both schedules)
    small = tmp_path / "small.yaml"
    small.write_text(yaml.safe_dump({"matrix": {"maxIterations": 9, "concurrency": 2,
                                                "seed": 3}}))
    jobs = run(real_store, [EXAMPLES / "hyperband.yaml", small], capsys)
    trials = [Task.get_task(job.id) for job in jobs]
    assert all(t.status is TaskStatus.COMPLETED for t in trials), [t.error for t in trials]
    schedule = V1Hyperband(max_iterations=9, eta=3).schedule()
    assert [(it, bi, n) for it, bi, n, _ in schedule] == [
        (0, 0, 9), (0, 1, 3), (0, 2, 1), (1, 0, 5), (1, 1, 1), (2, 0, 3), (2, 1, 1)]
    # the rungs ran in the schedule's order, each of its size
    rungs = [(job.meta["iteration"], job.meta["rung"]) for job in jobs]
    assert rungs == [(it, bi) for it, bi, n, _ in schedule for _ in range(n)]
    steps = [t.get_parameter("num_steps") for t in trials]
    assert len(trials) == 23
    assert Counter(steps) == Counter({1: 9, 3: 3 + 5, 9: 1 + 1 + 3 + 1})
    for trial in trials:
        params = trial.get_parameters()
        assert params["General/logspace"] == 0.01 and params["General/batch_size"] == 128
        assert params["General/dropout"] in (0.25, 0.3)
        assert params["General/activation"] in ("relu", "sigmoid")
        assert 0 <= params["General/lr"] <= 0.9
        # the resource reached the script: one report per step, then the outputs
        assert len(trial.get_reported_scalars()["loss"]["loss"]["x"]) == params[
            "General/num_steps"] + 1
