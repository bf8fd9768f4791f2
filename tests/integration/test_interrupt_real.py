"""Ctrl-C leaves an optimization that ``hpq resume`` continues, and says so: a user's script
interrupted in ``wait()``, and ``hpq optimize`` interrupted while it follows the progress.

A real redis-server and two real Celery prefork workers (the test's own processes, so that they
outlive the controllers); trials are :func:`tests.integration.hpo_trials.gated`, steered with
release files. The controller processes get a real SIGINT.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from controller.persistence import OptimizerRepository
from tests.helpers import final_events, wait_until
from tests.integration.hpo_trials import release_and_kill
from workers import Store, Task, TaskStatus

ROOT = Path(__file__).resolve().parents[2]
CONTROLLER = ROOT / "tests" / "integration" / "hpo_controller.py"
pytestmark = pytest.mark.integration


def _env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": os.pathsep.join(
        [str(ROOT), os.environ.get("PYTHONPATH", "")])}


def _start(argv: list[str], log: Path) -> subprocess.Popen[bytes]:
    with open(log, "ab") as out:
        return subprocess.Popen([sys.executable, *argv], cwd=ROOT, env=_env(), stdout=out,
                                stderr=subprocess.STDOUT)


def _hpq(*args: str, log: Path) -> subprocess.Popen[bytes]:
    return _start(["-m", "controller.cli", *args], log)


def _running(workdir: Path) -> set[str]:
    """The x of every trial that started (``ran-<x>-...`` files)."""
    return {p.name.split("-")[1] for p in workdir.glob("ran-*")}


def _gated_base(tmp_path: Path) -> tuple[Path, Task]:
    """The gate directory of the trials, and their base task."""
    workdir = tmp_path / "gates"
    workdir.mkdir()
    return workdir, Task.create("interrupt", "gated",
                                entry_point="tests.integration.hpo_trials:gated",
                                parameters={"General/x": 0.5, "General/gate_dir": str(workdir)})


@pytest.mark.timeout(150)
def test_ctrl_c_in_wait_leaves_an_optimizer_that_hpq_resume_continues(
        real_store: Store, queue: str, local_workers: Any, tmp_path: Path) -> None:
    workdir, base = _gated_base(tmp_path)
    log = tmp_path / "controller.log"
    with release_and_kill(workdir) as procs:
        controller = _start([str(CONTROLLER), "create", base.id, queue, str(workdir)], log)
        procs.append(controller)
        opt_id = wait_until(lambda: (workdir / "optimizer_id").exists()
                            and (workdir / "optimizer_id").read_text(), 60, "the optimizer")
        wait_until(lambda: _running(workdir) == {"0.5", "0.4"}, 60, "two running jobs")
        controller.send_signal(signal.SIGINT)
        assert controller.wait(timeout=30) != 0
        said = log.read_text()
        assert (f"hpq: interrupted: optimizer {opt_id} is saved; continue it with: "
                f"hpq resume {opt_id}") in said
        assert said.count(f"hpq resume {opt_id}") == 1 and "KeyboardInterrupt" in said
        # left in progress, its lease released at exit (a resume need not wait for it)
        progress = OptimizerRepository(real_store).progress(opt_id)
        assert progress.status == "in_progress" and not progress.live
        jobs = {f"{t.get_parameter('x'):g}": t for t in Task.get_tasks(parent=opt_id)}
        assert {x: t.status for x, t in jobs.items()} == {
            "0.5": TaskStatus.IN_PROGRESS, "0.4": TaskStatus.IN_PROGRESS}  # not stopped

        resumed = _hpq("resume", opt_id, log=tmp_path / "resume.log")
        procs.append(resumed)
        (workdir / "release-all").write_text("")
        assert resumed.wait(timeout=90) == 0, (tmp_path / "resume.log").read_text()
    out = (tmp_path / "resume.log").read_text()
    assert f"optimizer {opt_id}: total_max_jobs reached" in out
    children = Task.get_tasks(parent=opt_id)
    assert len(children) == 5 and all(t.status is TaskStatus.COMPLETED for t in children)
    assert all(t.attempts == 1 for t in children)  # the running jobs were re-attached, once
    assert final_events(real_store, opt_id) == Counter({t.id: 1 for t in children})


@pytest.mark.timeout(150)
def test_ctrl_c_in_hpq_optimize_stops_and_hpq_resume_continues(
        real_store: Store, queue: str, local_workers: Any, tmp_path: Path) -> None:
    workdir, base = _gated_base(tmp_path)
    log = tmp_path / "optimize.log"
    search = ('{"type": "DiscreteParameterRange", "name": "x", '
              '"values": [0.5, 0.4, 0.3, 0.2]}')
    with release_and_kill(workdir) as procs:
        optimize = _hpq("optimize", "--task-id", base.id, "--params-search", search,
                        "--objective-metric-title", "val", "--objective-metric-series", "loss",
                        "--objective-metric-sign", "min", "--optimizer-class", "GridSearch",
                        "--max-number-of-concurrent-tasks", "2", "--queue", queue,
                        "--pool-period-min", "0.01", log=log)
        procs.append(optimize)
        wait_until(lambda: _running(workdir) == {"0.5", "0.4"}, 60, "two running jobs")
        opt_id = log.read_text().split("hpq: optimizer ")[1].split()[0]
        optimize.send_signal(signal.SIGINT)
        assert optimize.wait(timeout=60) == 130, log.read_text()
        said = log.read_text()
        assert "stopping every job" in said
        assert f"hpq: optimizer {opt_id} stopped; continue it with: hpq resume {opt_id}" in said
        assert Task.get_task(opt_id).status is TaskStatus.STOPPED

        resumed = _hpq("resume", opt_id, log=tmp_path / "resume.log")
        procs.append(resumed)
        wait_until(lambda: _running(workdir) >= {"0.3", "0.2"}, 60, "the other two jobs")
        (workdir / "release-all").write_text("")
        assert resumed.wait(timeout=60) == 0, (tmp_path / "resume.log").read_text()
    assert f"optimizer {opt_id}: search space exhausted" in (tmp_path / "resume.log").read_text()
    statuses = {f"{t.get_parameter('x'):g}": t.status for t in Task.get_tasks(parent=opt_id)}
    assert statuses == {"0.5": TaskStatus.STOPPED, "0.4": TaskStatus.STOPPED,
                        "0.3": TaskStatus.COMPLETED, "0.2": TaskStatus.COMPLETED}
