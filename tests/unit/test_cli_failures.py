"""Failures in ``hpq``'s output: the progress line, ``top``, ``status`` and ``job`` (fakeredis
store, trials run in-process)."""

from __future__ import annotations

import json
import re

import pytest

from controller.cli import main
from workers import Store, Task

from .test_failures import ENTRY
from .test_report import inline_workers  # noqa: F401 - a fixture

X = '{"type": "DiscreteParameterRange", "name": "x", "values": [0.1, 0.2, 0.3, 0.4]}'
ERROR = "ModuleNotFoundError: No module named 'hpq_test_missing_module'"


def optimize(store: Store, mode: str, *extra: str) -> int:
    base = Task.create("cli", "trial", entry_point=ENTRY,
                       parameters={"General/x": 0.5, "General/mode": "ok"}, store=store)
    return main(["optimize", "--task-id", base.id, "--params-search", X,
                 "--params-override", json.dumps({"mode": mode}),
                 "--objective-metric-title", "val", "--objective-metric-series", "loss",
                 "--objective-metric-sign", "min", "--optimizer-class", "GridSearch", "--max-number-of-concurrent-tasks", "1",
                 "--pool-period-min", "0.001", *extra])


def optimizer_id(out: str) -> str:
    return out.split("\noptimizer ")[1].split(":")[0]


@pytest.mark.timeout(20)
def test_every_view_says_that_all_jobs_failed(store: Store, inline_workers,  # noqa: F811
                                              capsys: pytest.CaptureFixture[str],
                                              caplog: pytest.LogCaptureFixture) -> None:
    assert optimize(store, "import") == 0
    out, err = capsys.readouterr()
    opt_id = optimizer_id(out)
    reason = f"all 4 jobs failed: {ERROR}"
    assert f"optimizer {opt_id}: {reason}" in out
    last = err.strip().splitlines()[-1]
    assert last.startswith("done 4 (failed 4) | running 0 | queued 0 | best - |")
    assert last.endswith(f"| last failure: job #3 {ERROR}")
    assert "the first 3 jobs all failed with the same error" in caplog.text

    assert main(["top", opt_id]) == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert lines[0] == f"optimizer {opt_id} (completed: {reason})"
    assert lines[1].startswith("no job has ended with the objective")
    assert "failed jobs (4) by error:" in out
    row = next(line for line in lines[1:] if ERROR in line)
    assert row.split()[0] == "4" and "(job #0)" in row
    example = row.split()[-3]
    assert lines[-1] == f"  see one: hpq job {example}"

    assert main(["top", opt_id, "--json"]) == 0
    top = json.loads(capsys.readouterr().out)
    assert top["end_reason"] == reason and top["top"] == []
    assert top["failures"] == [{"error": ERROR, "count": 4, "example": example,
                                "example_index": 0}]

    assert main(["status"]) == 0
    row = next(line for line in capsys.readouterr().out.splitlines() if opt_id in line)
    assert row.split()[1:6] == ["completed", "4", "4", "0", "0"]  # done, failed, running, queued
    assert main(["status", opt_id]) == 0
    out = capsys.readouterr().out
    assert f"completed ({reason})" in out and re.search(r"\njobs +4: failed 4\n", out)
    assert "failed jobs (4) by error:" in out and f"hpq job {example}" in out

    assert main(["job", example]) == 0
    out = capsys.readouterr().out
    assert f"status     failed: {ERROR}" in out
    assert f"optimizer  {opt_id} (job #0)" in out
    assert "General/mode  import" in out and "General/x     0.1" in out
    assert "last scalars (0):" in out
    assert "traceback:\nTraceback (most recent call last):" in out
    assert out.rstrip().endswith(ERROR)


@pytest.mark.timeout(20)
def test_job_of_a_completed_trial_and_bad_ids(store: Store, inline_workers,  # noqa: F811
                                              capsys: pytest.CaptureFixture[str]) -> None:
    assert optimize(store, "ok", "--total-max-jobs", "1") == 0
    opt_id = optimizer_id(capsys.readouterr().out)
    (job_id,) = store.find(parent=opt_id)
    assert main(["job", job_id, "-n", "0"]) == 0
    out = capsys.readouterr().out
    assert "status     completed" in out and "traceback" not in out
    scalars = out.split("last scalars (1):\n")[1].splitlines()
    assert scalars[0].split() == ["scalar", "last", "iteration", "min", "max"]
    assert scalars[1].split() == ["val/loss", "0.1", "0", "0.1", "0.1"]
    assert "output (last 0 of" in out
    assert main(["job", job_id, "--json"]) == 0
    detail = json.loads(capsys.readouterr().out)
    assert detail["metrics"]["val"]["loss"]["last"] == pytest.approx(0.1)
    assert detail["scalars"] == {}  # no history read for the command line
    assert main(["job", "nope"]) == 2
    assert "no task with id 'nope'" in capsys.readouterr().err


@pytest.mark.timeout(20)
def test_max_failed_jobs_flag(store: Store, inline_workers,  # noqa: F811
                              capsys: pytest.CaptureFixture[str]) -> None:
    assert optimize(store, "value", "--max-failed-jobs", "2") == 0
    out = capsys.readouterr().out
    assert f"optimizer {optimizer_id(out)}: max_failed_jobs (2) reached: 2 jobs failed" in out
    assert optimize(store, "value", "--max-failed-jobs", "0") == 2
    assert "max_failed_jobs must be a positive integer" in capsys.readouterr().err
