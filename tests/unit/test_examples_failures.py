"""The quickstart and the examples print a line per failed job (trials run in-process on the
fakeredis store; output is captured at the file descriptor: a trial running in this process
redirects ``sys.stdout`` while a callback may print)."""

from __future__ import annotations

from pathlib import Path

import pytest

from controller import HyperParameterOptimizer, Mapping
from examples import common, quickstart
from workers import Store

from .test_report import inline_workers  # noqa: F401 - a fixture


@pytest.mark.timeout(30)
def test_quickstart_prints_each_failed_job(store: Store, inline_workers,  # noqa: F811
                                           tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                           capfd: pytest.CaptureFixture[str]) -> None:
    broken = tmp_path / "train.py"
    broken.write_text("def main(task):\n    import hpq_quickstart_missing_dependency\n")
    monkeypatch.setattr(quickstart, "TRAIN", broken)
    quickstart.main()
    out = capfd.readouterr().out
    error = "ModuleNotFoundError: No module named 'hpq_quickstart_missing_dependency'"
    failed = [line for line in out.splitlines() if " FAILED: " in line]
    assert len(failed) == 12
    assert all(line.startswith("job ") and error in line and "(details: hpq job " in line
               for line in failed)
    assert f"ended (all 12 jobs failed: {error})" in out


@pytest.mark.timeout(30)
def test_examples_print_failed_and_completed_jobs(store: Store, inline_workers,  # noqa: F811
                                                  capfd: pytest.CaptureFixture[str]) -> None:
    opt = HyperParameterOptimizer(
        common.base_task(**{"General/epochs": 2}).id, [], "validation", "loss",
        optimizer_class=Mapping, values=[{"General/lr": 0.0}, {"General/lr": 0.1}],
        max_number_of_concurrent_tasks=1, pool_period_min=0.001, store=store)
    common.run(opt)
    lines = capfd.readouterr().out.splitlines()
    failed = [line for line in lines if "FAILED" in line]
    assert len(failed) == 1 and failed[0].startswith("job ") and " lr=0 FAILED" in failed[0]
    assert failed[0].endswith(f"FAILED: ValueError: math domain error  (details: hpq job "
                              f"{store.find(parent=opt.id)[0]})")
    assert sum(" loss=" in line for line in lines) == 2  # the completed job, and the top 1
