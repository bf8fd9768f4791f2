"""The real-workload benchmark's parts: the trial adapters (run in process on fakeredis and an
in-memory Optuna study) and the figures computed from trial logs. No timing assertions."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pytest

from bench import realwork as rw
from bench.realwork_trial import EPOCHS, LOG_DIR_ENV, base_parameters, optuna_objective
from workers import Store, Task, TaskStatus
from workers.runner import TrialRunner

pytest.importorskip("sklearn")

CONFIG = {"General/lr": 3e-3, "General/alpha": 1e-4, "General/hidden": "32",
          "General/batch_size": 128}


def _run(store: Store, base: Task, parameters: dict[str, Any],
         continue_from: str | None = None) -> Task:
    clone = Task.clone(base, parameters=parameters)
    if continue_from:
        store.set_fields(clone.id, {"continue_from": continue_from})
    store.transition(clone.id, clone.parent, [TaskStatus.CREATED], TaskStatus.QUEUED)
    assert TrialRunner(store, clone.id).run() == "completed", clone.error
    return clone


def test_hpq_trial_reports_every_epoch_and_continues_its_checkpoint(
        store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(LOG_DIR_ENV, str(tmp_path))
    base = Task.create("realwork", "mlp", entry_point=rw.ENTRY_POINT,
                       parameters=base_parameters(seed=1, checkpoint=True))
    first = _run(store, base, {**CONFIG, "General/epochs": 2})
    second = _run(store, base, {**CONFIG, "General/epochs": 4}, continue_from=first.id)

    history = second.get_reported_scalars()["validation"]["error"]
    assert history["x"] == [3, 4] and all(0 <= y <= 1 for y in history["y"])
    assert first.get_reported_scalars()["validation"]["error"]["x"] == [1, 2]
    assert second.latest_checkpoint() is not None
    logs = rw.read_trials(tmp_path)
    assert [(t["first_epoch"], len(t["epochs"]), t["outcome"]) for t in logs] == [
        (0, 2, "completed"), (2, 2, "completed")]
    assert logs[0]["checkpoint_load"] is None and logs[1]["checkpoint_load"] is not None
    assert all(t["checkpoint_save"] is not None for t in logs)
    assert logs[1]["params"] == {"lr": 3e-3, "alpha": 1e-4, "hidden": "32", "batch_size": 128}


def test_optuna_objective_trains_the_same_workload(tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    import optuna

    monkeypatch.setenv(LOG_DIR_ENV, str(tmp_path))
    study = optuna.create_study(pruner=optuna.pruners.NopPruner())
    study.enqueue_trial({"lr": 3e-3, "alpha": 1e-4, "hidden": "32", "batch_size": 128})
    study.optimize(lambda trial: optuna_objective(trial, prune=False, seed=1), n_trials=1)
    (trial,) = study.trials
    assert sorted(trial.intermediate_values) == list(range(1, EPOCHS + 1))
    assert trial.value == trial.intermediate_values[EPOCHS]
    (log,) = rw.read_trials(tmp_path)
    assert log["outcome"] == "completed" and [e[2] for e in log["epochs"]] == [
        trial.intermediate_values[i] for i in range(1, EPOCHS + 1)]


def _trial(pid: int, start: float, epochs: list[tuple[float, float, float]], *,
           report: float = 0.01, outcome: str = "completed", first_epoch: int = 0,
           ckpt: tuple[float | None, float | None] = (None, None)) -> dict[str, Any]:
    rows = [[b, e, err, report] for b, e, err in epochs]
    end = rows[-1][1] + report if rows else start
    return {"pid": pid, "start": start, "end": end, "epochs": rows, "first_epoch": first_epoch,
            "checkpoint_load": ckpt[0], "checkpoint_save": ckpt[1], "params": {},
            "outcome": outcome}


def test_figures_from_trial_logs() -> None:
    t0, budget = 1000.0, 10.0
    trials = [
        # process 1: two trials, 0.19 s between the first's last report and the second's epoch
        _trial(1, 1001.0, [(1001.5, 1002.0, 0.5), (1002.0, 1002.5, 0.4)]),
        _trial(1, 1002.6, [(1002.7, 1003.2, 0.3)], ckpt=(0.002, 0.004), first_epoch=2),
        # process 2: a trial stopped at the deadline; its last epoch ends after it
        _trial(2, 1001.2, [(1001.3, 1005.0, 0.2), (1005.0, 1012.0, 0.1)], outcome="stopped"),
        # started after the deadline: left out
        _trial(1, 1011.0, [(1011.1, 1011.5, 0.05)]),
    ]
    fig = rw.analyse(trials, t0, budget, workers=2)
    assert fig["startup"] == pytest.approx(1.0)
    assert (fig["started"], fig["completed"], fig["failed"], fig["continued"]) == (3, 2, 0, 1)
    assert fig["epochs"] == 4  # the epoch ending at 1012 is past the deadline
    training = 0.5 + 0.5 + 0.5 + 3.7 + (1010.0 - 1005.0)
    assert fig["training_share"] == pytest.approx(training / (2 * (1010.0 - 1001.0)))
    assert fig["gap_ms"] == pytest.approx(190.0)
    assert fig["report_ms"] == pytest.approx(10.0)
    assert fig["checkpoint_save_ms"] == pytest.approx(4.0)
    assert fig["checkpoint_load_ms"] == pytest.approx(2.0)
    assert fig["best"] == {"0.25": 0.4, "0.5": 0.2, "1.0": 0.2}


def test_summary_table_and_goals() -> None:
    def run(system: str, gap: float, share: float, startup: float) -> dict[str, Any]:
        out: dict[str, Any] = {
            "system": system, "budget": 10.0, "startup": startup, "started": 5, "completed": 4,
            "failed": 0, "epochs": 50, "continued": 0, "training_share": share,
            "gap_ms": gap, "report_ms": 1.0, "checkpoint_save_ms": math.nan,
            "checkpoint_load_ms": math.nan, "best": {"0.25": math.nan, "0.5": 0.2, "1.0": 0.1}}
        if system.startswith("hpq"):
            out["controller"] = {"loop_cpu": 0.5}
        return out

    runs = [run("hpq-tpe", 9.0, 0.88, 1.0), run("hpq-tpe", 11.0, 0.86, 3.0),
            run("optuna-tpe", 8.0, 0.89, 0.5), run("hpq-random", 6.0, 0.91, 1.0)]
    summary = rw.summarize(runs)
    assert list(summary) == ["hpq-tpe", "optuna-tpe", "hpq-random"]
    assert summary["hpq-tpe"]["gap_ms"] == pytest.approx(10.0)
    assert summary["hpq-tpe"]["startup"] == pytest.approx(2.0)
    assert summary["hpq-tpe"]["controller_cpu_share"] == pytest.approx(0.05)
    table = rw.format_table(summary, budget=120.0)
    assert "best error at 30 / 60 / 120 s" in table
    assert "| hpqueue OptimizerOptuna (TPE, NopPruner) | 2.00 | 5 / 4 | 50 | 0.870 | 10.0 |" in table
    assert "— / 0.2000 / 0.1000" in table
    assert rw.goals(summary) == {
        "TPE gap <= standalone Optuna's": False,
        "TPE training share >= standalone Optuna's": False,
        "RandomSearch training share >= 0.90": True,
        "start-up <= standalone Optuna's (every hpqueue system)": False,
        "ASHA gap <= 5 ms": None}
    assert "- ASHA gap <= 5 ms: not measured" in rw.format_goals(rw.goals(summary))


def test_results_section_is_written_in_place(tmp_path: Path) -> None:
    from bench.sections import write_section

    path = tmp_path / "RESULTS.md"
    path.write_text("# Benchmark results\n\n## Overhead\n\nkept\n")
    body = rw.section("| table |", "Goals: -", "python bench/realwork.py", "7.0", 1, 120.0, 60.0,
                      (1.0, 2.0))
    write_section(path, body)
    write_section(path, body.replace("| table |", "| new table |"))
    text = path.read_text()
    assert text.count(rw.SECTION) == 1 and "| new table |" in text and "## Overhead\n\nkept" in text
    assert "- Command: `python bench/realwork.py`" in text
