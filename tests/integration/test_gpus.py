"""GPU slots on a real Celery worker: trials on ``--gpus 0,1`` never share a device.

The devices are made-up ids (no GPU is needed): every trial records the ``CUDA_VISIBLE_DEVICES``
and ``task.gpus`` it saw, its process and its run interval (:mod:`tests.integration.gpu_trials`).
The worker gets the environment ``hpq worker --gpus 0,1`` gives it (``worker_options``).
"""

from __future__ import annotations

import json
import sys
from itertools import combinations
from pathlib import Path
from typing import Any

import pytest

from tests.integration.worker_support import start_workers
from workers import Store, Task, TaskStatus
from workers.gpus import worker_options

GPU_TRIALS = Path(__file__).resolve().with_name("gpu_trials.py")
PROJECT = "gpus"


def _overlap(a: dict[str, Any], b: dict[str, Any]) -> bool:
    return a["start"] < b["end"] and b["start"] < a["end"]


def _run_all(tasks: list[Task], queue: str) -> None:
    for task in tasks:
        task.enqueue(queue)
    for task in tasks:
        assert task.wait_for_status(timeout=60) is TaskStatus.COMPLETED, task.record


@pytest.mark.integration
@pytest.mark.timeout(150)
def test_trials_on_two_gpu_slots_never_share_a_device(real_store: Store, queue: str,
                                                      tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    concurrency, env = worker_options("0,1")
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    out = tmp_path / "seen"
    out.mkdir()
    params = {"General/out": str(out), "General/seconds": 0.4}
    base = Task.create(PROJECT, "record", entry_point="tests.integration.gpu_trials:record_gpus",
                       parameters=params)
    command = Task.create(PROJECT, "record-cmd", command=[sys.executable, str(GPU_TRIALS)],
                          parameters=params)

    with start_workers(real_store, queue, concurrency=concurrency) as workers:
        # callables and commands, more than the two slots at a time
        _run_all([Task.clone(base) for _ in range(6)] + [Task.clone(command) for _ in range(2)],
                 queue)
        # a pool process dies mid-trial; Celery replaces it and the trial is retried; then
        # enough trials at once that both processes (the survivor and the new one) run some
        dying = Task.clone(base, parameters={"General/die": True})
        _run_all([dying], queue)
        assert dying.attempts == 2
        _run_all([Task.clone(base) for _ in range(4)], queue)
        workers.stop(timeout=30)

    seen = [json.loads(p.read_text()) for p in sorted(out.glob("*.json"))]
    assert len(seen) == 6 + 2 + 2 + 4
    for s in seen:
        assert s["cuda"] in ("0", "1"), s  # exactly one of the worker's devices
        assert s["order"] == "PCI_BUS_ID"
        assert s["gpus"] == [s["cuda"]], s  # task.gpus names the same device
    callables = [s for s in seen if s["kind"] == "callable"]
    device_of = {}
    for s in callables:  # a pool process keeps its slot for its whole life
        assert device_of.setdefault(s["pid"], s["cuda"]) == s["cuda"], s
    for s in seen:
        if s["kind"] == "command":  # a command runs on its pool process's devices
            assert s["ppid"] in device_of and device_of[s["ppid"]] == s["cuda"], s
    # two trials that ran at the same time never had the same device ...
    for a, b in combinations(seen, 2):
        if _overlap(a, b):
            assert a["cuda"] != b["cuda"], (a, b)
    # ... and trials did run at the same time, on both devices
    assert any(_overlap(a, b) for a, b in combinations(seen, 2))
    assert {s["cuda"] for s in seen} == {"0", "1"}
    # the killed process's slot went to the process Celery started in its place
    killed = next(s for s in callables if s["task"] == dying.id and s["attempt"] == 1)
    later = {s["pid"] for s in callables if s["start"] > killed["end"]}
    before = {s["pid"] for s in callables if s["end"] <= killed["end"]}
    replacements = later - before
    assert len(replacements) == 1, (later, before)
    assert device_of[replacements.pop()] == killed["cuda"]
    other_device = ({"0", "1"} - {killed["cuda"]}).pop()
    assert {device_of[p] for p in before - {killed["pid"]}} == {other_device}  # the survivor
