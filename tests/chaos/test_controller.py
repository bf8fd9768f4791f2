"""The controller killed, and two controllers at once.

A controller is a process of its own (``tests/integration/hpo_controller.py``: a GridSearch of
five jobs at most over ``General/x``, two at a time, of ``hpo_trials:gated`` trials, which wait
for their release file) or a second optimizer object in this process. Workers are started by the
test process, so they outlive a controller that is killed.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from controller import HyperParameterOptimizer
from controller.persistence import OptimizerRepository
from tests.helpers import final_events, wait_until
from tests.integration.hpo_trials import release_and_kill
from workers import Store, Task, TaskStatus

pytestmark = pytest.mark.chaos

ROOT = Path(__file__).resolve().parents[2]
CONTROLLER = ROOT / "tests" / "integration" / "hpo_controller.py"
PROJECT = "chaos-controller"


def _callbacks(workdir: Path) -> list[dict[str, Any]]:
    path = workdir / "callbacks.jsonl"
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def _runs(workdir: Path) -> list[tuple[str, str, str]]:
    """(x, task id, attempt) of every trial start."""
    return [tuple(p.name.split("-", 1)[1].split("-")) for p in workdir.glob("ran-*")]


def _controller(*args: str, log: Path) -> subprocess.Popen[bytes]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        [str(ROOT), os.environ.get("PYTHONPATH", "")])}
    with open(log, "ab") as out:
        return subprocess.Popen([sys.executable, str(CONTROLLER), *args], cwd=ROOT, env=env,
                                stdout=out, stderr=subprocess.STDOUT)


@pytest.mark.timeout(150)
def test_resume_after_sigkill_of_the_controller(real_store: Store, queue: str,
                                                local_workers: Any, tmp_path: Path) -> None:
    workdir = tmp_path / "gates"
    workdir.mkdir()
    log = tmp_path / "controller.log"
    base = Task.create(PROJECT, "gated", entry_point="tests.integration.hpo_trials:gated",
                       parameters={"General/x": 0.5, "General/gate_dir": str(workdir)})

    def release(x: str) -> None:
        (workdir / f"release-{x}").write_text("")

    first = _controller("create", base.id, queue, str(workdir), log=log)
    with release_and_kill(workdir) as procs:
        procs.append(first)
        opt_id = wait_until(lambda: (workdir / "optimizer_id").exists()
                            and (workdir / "optimizer_id").read_text(), 60,
                            "the optimizer's id", ).strip()

        def by_x() -> dict[str, Task]:
            return {f"{t.get_parameter('x'):g}": t for t in Task.get_tasks(parent=opt_id)}

        # two jobs finish under the first controller, two more start running
        wait_until(lambda: {x for x, _, _ in _runs(workdir)} >= {"0.5", "0.4"}, 60,
                   "the first two jobs to start")
        release("0.5")
        release("0.4")
        wait_until(lambda: len(_callbacks(workdir)) == 2, 60, "two callbacks")
        wait_until(lambda: {x for x, _, _ in _runs(workdir)} == {"0.5", "0.4", "0.3", "0.2"},
                   60, "jobs 0.3 and 0.2 to run")
        wait_until(lambda: all(by_x()[x].get_last_scalar_metrics() for x in ("0.3", "0.2")),
                   30, "the running jobs to report")
        before_kill = by_x()
        assert {x: t.status for x, t in before_kill.items()} == {
            "0.5": TaskStatus.COMPLETED, "0.4": TaskStatus.COMPLETED,
            "0.3": TaskStatus.IN_PROGRESS, "0.2": TaskStatus.IN_PROGRESS}

        def notified(job_id: str) -> bool:
            jobs = OptimizerRepository(real_store).load(opt_id).jobs
            return any(j.id == job_id and j.notified for j in jobs)

        # the callback fires at least once: a kill after it returned and before its
        # "notified" flag was saved would repeat it. Kill outside that window.
        wait_until(lambda: notified(before_kill["0.5"].id) and notified(before_kill["0.4"].id),
                   30, "the callbacks to be saved as done")

        first.send_signal(signal.SIGKILL)
        assert first.wait(timeout=30) == -signal.SIGKILL
        killed_pid = first.pid
        assert Task.get_task(opt_id).status is TaskStatus.IN_PROGRESS

        # a running job ends while no controller runs; the workers are unaffected
        release("0.3")
        wait_until(lambda: before_kill["0.3"].status is TaskStatus.COMPLETED, 60,
                   "job 0.3 to end without a controller")

        second = _controller("resume", opt_id, str(workdir), log=log)
        procs.append(second)
        # the killed controller's lease expires, then the resumed one launches the fifth job
        wait_until(lambda: len(Task.get_tasks(parent=opt_id)) == 5, 60, "the fifth job")
        (workdir / "release-all").write_text("")
        assert second.wait(timeout=60) == 0, log.read_text()

    assert (workdir / f"ended-{second.pid}").read_text() == "total_max_jobs reached"
    children = Task.get_tasks(parent=opt_id)
    xs = sorted(f"{t.get_parameter('x'):g}" for t in children)
    assert xs == ["0.1", "0.2", "0.3", "0.4", "0.5"]  # <= total_max_jobs; no config twice
    assert all(t.status is TaskStatus.COMPLETED for t in children)
    # every job ran once: one trial start, one attempt, one final-status event
    runs = Counter(task_id for _, task_id, _ in _runs(workdir))
    assert runs == Counter({t.id: 1 for t in children})
    assert all(t.attempts == 1 for t in children)
    assert final_events(real_store, opt_id) == Counter({t.id: 1 for t in children})
    # finished jobs were not re-run; the running ones were re-attached and finished
    assert before_kill["0.2"].completed > before_kill["0.3"].completed
    # callbacks: once per job that ended with its objective (one job = one line), whichever
    # controller saw it end
    lines = _callbacks(workdir)
    per_job = Counter(line["job"] for line in lines)
    assert per_job == Counter({t.id: 1 for t in children}), lines
    fired_by = {f"{line['params']['General/x']:g}": line["pid"] for line in lines}
    assert fired_by["0.5"] == fired_by["0.4"] == killed_pid
    assert fired_by["0.3"] == fired_by["0.2"] == fired_by["0.1"] == second.pid
    assert all(line["value"] == line["params"]["General/x"] for line in lines)
    record = Task.get_task(opt_id)
    assert record.status is TaskStatus.COMPLETED
    assert record.artifacts["summary"].get()["jobs"] == 5


@pytest.mark.timeout(150)
def test_a_controller_that_takes_the_lease_drives_on_fresh_state(
        real_store: Store, queue: str, local_workers: Any, tmp_path: Path) -> None:
    """A second controller resumed while the first drives waits for the lease, then carries
    on from what is saved then (not from what it loaded); a third one that gets the lease
    after the optimization ended leaves at once."""
    workdir = tmp_path / "gates"
    workdir.mkdir()
    log = tmp_path / "controller.log"
    base = Task.create(PROJECT, "gated", entry_point="tests.integration.hpo_trials:gated",
                       parameters={"General/x": 0.5, "General/gate_dir": str(workdir)})
    calls: dict[str, list[str]] = {"second": [], "third": []}

    def record_to(name: str) -> Any:
        return lambda job_id, *_: calls[name].append(job_id)

    first = _controller("create", base.id, queue, str(workdir), log=log)
    with release_and_kill(workdir) as procs:
        procs.append(first)
        opt_id = wait_until(lambda: (workdir / "optimizer_id").exists()
                            and (workdir / "optimizer_id").read_text(), 60,
                            "the optimizer's id").strip()
        wait_until(lambda: {x for x, _, _ in _runs(workdir)} == {"0.5", "0.4"}, 60,
                   "the first two jobs to start")
        second = HyperParameterOptimizer.resume(opt_id)  # loads 0.5 and 0.4 running
        # the first controller goes on: 0.5 ends (its callback fires), 0.3 starts
        (workdir / "release-0.5").write_text("")
        wait_until(lambda: "0.3" in {x for x, _, _ in _runs(workdir)}, 60, "job 0.3")
        job_05 = next(t for t in Task.get_tasks(parent=opt_id) if t.get_parameter("x") == 0.5)
        wait_until(lambda: any(j.id == job_05.id and j.notified
                               for j in OptimizerRepository(real_store).load(opt_id).jobs),
                   30, "the first controller to save its callback of 0.5 as done")
        first.send_signal(signal.SIGKILL)
        assert first.wait(timeout=30) == -signal.SIGKILL

        second.start(job_complete_callback=record_to("second"))  # waits for the lease
        (workdir / "release-0.4").write_text("")
        (workdir / "release-0.3").write_text("")
        wait_until(lambda: len(Task.get_tasks(parent=opt_id)) == 5, 60, "the fifth job")
        third = HyperParameterOptimizer.resume(opt_id)
        third.start(job_complete_callback=record_to("third"))  # waits for the lease
        (workdir / "release-all").write_text("")
        assert second.wait(timeout=1.5), "the second controller did not finish"
        assert third.wait(timeout=0.5), "the third controller did not leave"

    assert second.end_reason == "total_max_jobs reached"
    assert third.end_reason == "already completed: total_max_jobs reached"
    children = Task.get_tasks(parent=opt_id)
    xs = sorted(f"{t.get_parameter('x'):g}" for t in children)
    assert xs == ["0.1", "0.2", "0.3", "0.4", "0.5"]  # <= total_max_jobs; no config twice
    assert all(t.status is TaskStatus.COMPLETED and t.attempts == 1 for t in children)
    assert Counter(task_id for _, task_id, _ in _runs(workdir)) == \
        Counter({t.id: 1 for t in children})
    assert final_events(real_store, opt_id) == Counter({t.id: 1 for t in children})
    # callbacks: once per job, whichever controller saw it end; none from the third
    by_first = [line["job"] for line in _callbacks(workdir)]
    assert by_first == [job_05.id]
    assert calls["third"] == []
    assert Counter(by_first + calls["second"]) == Counter({t.id: 1 for t in children})
    record = Task.get_task(opt_id)
    assert record.status is TaskStatus.COMPLETED
    assert record.artifacts["summary"].get()["jobs"] == 5
