"""GPU slots (workers/gpus.py): parsing ``--gpus``, packing, ``hpq worker --gpus``, and the slot
table with real processes (lock files; a killed holder's slot goes to the next process).

The worker end to end (trials on ``--gpus 0,1`` never share a device, also after a pool process
is killed) is in tests/integration/test_gpus.py.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from controller.cli import main
from workers import Store, Task
from workers.errors import GpuError
from workers.gpus import (
    SLOTS_ENV,
    TRIAL_ENV,
    current_devices,
    decode_slots,
    detect_gpus,
    pack,
    parse_gpus,
    use_devices,
    worker_options,
)

ROOT = Path(__file__).resolve().parents[2]


def test_parse_gpus() -> None:
    assert parse_gpus("0,1,2,3") == ["0", "1", "2", "3"]
    assert parse_gpus(" 2, 0 ") == ["2", "0"]
    uuid = "GPU-8f3c2a1e-0b7d-4c5e-9f1a-2b3c4d5e6f70"
    assert parse_gpus(f"{uuid},MIG-GPU-1/2/0") == [uuid, "MIG-GPU-1/2/0"]


@pytest.mark.parametrize("spec, message", [
    ("", "expected 'auto' or device indices"),
    ("0,,1", "not a device: ''"),
    ("gpu0", "not a device: 'gpu0'"),
    ("0;1", "not a device: '0;1'"),
    ("0,1,0", "names 0 more than once"),
])
def test_bad_gpus_are_named(spec: str, message: str) -> None:
    with pytest.raises(GpuError, match=message):
        parse_gpus(spec)


def _fake_nvidia_smi(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "nvidia-smi"
    path.write_text(f"#!/bin/sh\n{body}\n")
    path.chmod(0o755)
    return path


def test_auto_reads_nvidia_smi(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _fake_nvidia_smi(tmp_path, 'echo "GPU 0: NVIDIA A100 (UUID: GPU-aaa)"\n'
                               'echo "  MIG 1g.5gb Device 0: (UUID: MIG-bbb)"\n'
                               'echo "GPU 1: NVIDIA A100 (UUID: GPU-ccc)"')
    monkeypatch.setenv("PATH", f"{tmp_path}{os.pathsep}{os.environ['PATH']}")
    assert parse_gpus("auto") == ["0", "1"]


def test_auto_without_usable_nvidia_smi(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # no nvidia-smi
    with pytest.raises(GpuError, match="nvidia-smi is not on PATH"):
        parse_gpus("auto")
    failing = _fake_nvidia_smi(tmp_path, "echo 'NVIDIA-SMI has failed' >&2; exit 9")
    with pytest.raises(GpuError, match="nvidia-smi -L` failed"):
        detect_gpus(str(failing))
    empty = _fake_nvidia_smi(tmp_path, "echo 'No devices found.'")
    with pytest.raises(GpuError, match="lists no GPU"):
        detect_gpus(str(empty))


def test_pack() -> None:
    assert pack(["0", "1", "2", "3"]) == [("0",), ("1",), ("2",), ("3",)]
    assert pack(["0", "1", "2", "3"], 2) == [("0", "1"), ("2", "3")]
    with pytest.raises(GpuError, match="3 GPU.*cannot be split into slots of 2"):
        pack(["0", "1", "2"], 2)
    with pytest.raises(GpuError, match="at least 1"):
        pack(["0"], 0)


def test_worker_options() -> None:
    assert worker_options("0,1,2,3") == (4, {SLOTS_ENV: "0;1;2;3"})
    assert worker_options("0,1,2,3", 2, 2, ["-P", "prefork"]) == (2, {SLOTS_ENV: "0,1;2,3"})
    assert decode_slots("0,1;2,3") == [("0", "1"), ("2", "3")]
    with pytest.raises(GpuError, match="-c 4 does not match the 2 GPU slot"):
        worker_options("0,1", 1, 4)
    for args in (["-P", "threads"], ["--pool=solo"], ["-Pthreads"], ["--autoscale=4,1"],
                 ["-c", "8"], ["--concurrency=8"]):
        with pytest.raises(GpuError, match="cannot be used with --gpus"):
            worker_options("0,1", celery_args=args)


def test_hpq_worker_gpus(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
                         ) -> None:
    calls: list[tuple[list[str], dict[str, str]]] = []
    monkeypatch.setattr("controller.cli.worker._exec", lambda argv, env: calls.append((argv, env)))
    monkeypatch.setenv("HPQ_REDIS_URL", "redis://example:6379/0")
    assert main(["worker", "-Q", "1xGPU", "--gpus", "0,1,2,3"]) == 0
    argv, env = calls.pop()
    assert argv[argv.index("-c") + 1] == "4"  # concurrency: one pool process per GPU
    assert env[SLOTS_ENV] == "0;1;2;3"
    assert main(["worker", "-Q", "2xGPU", "--gpus", "0,1,2,3", "--gpus-per-trial", "2"]) == 0
    argv, env = calls.pop()
    assert argv[argv.index("-c") + 1] == "2" and env[SLOTS_ENV] == "0,1;2,3"

    assert main(["worker", "--gpus", "0,1", "-c", "3"]) == 2
    assert "-c 3 does not match the 2 GPU slot(s)" in capsys.readouterr().err
    assert main(["worker", "--gpus", "0,x"]) == 2
    assert "not a device: 'x'" in capsys.readouterr().err
    assert main(["worker", "--gpus-per-trial", "2"]) == 2
    assert "--gpus-per-trial needs --gpus" in capsys.readouterr().err
    assert not calls


HOLDER = """
import sys
from pathlib import Path
from workers.gpus import SlotTable, decode_slots
table = SlotTable(Path(sys.argv[1]), decode_slots(sys.argv[2]))
try:
    slot = table.acquire(timeout=float(sys.argv[3]))
except Exception as exc:
    print(type(exc).__name__, exc, flush=True)
    sys.exit(3)
print(",".join(slot), flush=True)
sys.stdin.read()  # hold the slot until stdin closes (or the process is killed)
"""


def _holder(directory: Path, timeout: float = 2.0) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-c", HOLDER, str(directory), "0,1;2,3", str(timeout)],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                            env={**os.environ, "PYTHONPATH": str(ROOT)})


@pytest.mark.timeout(30)
def test_slot_table_hands_a_killed_holders_slot_to_the_next_process(tmp_path: Path) -> None:
    first, second = _holder(tmp_path), _holder(tmp_path)
    try:
        assert first.stdout is not None and second.stdout is not None
        first_slot, second_slot = first.stdout.readline().strip(), second.stdout.readline().strip()
        assert {first_slot, second_slot} == {"0,1", "2,3"}  # two processes, two slots
        # a third process finds no free slot
        third = _holder(tmp_path, timeout=0.3)
        out, _ = third.communicate(timeout=10)
        assert third.returncode == 3 and "GpuError no free GPU slot" in out
        # the first dies without cleaning up: its slot is free again at once
        os.kill(first.pid, signal.SIGKILL)
        first.wait(timeout=10)
        replacement = _holder(tmp_path)
        assert replacement.stdout is not None
        assert replacement.stdout.readline().strip() == first_slot
        replacement.kill()
        replacement.wait(timeout=10)
    finally:
        for proc in (first, second):
            proc.kill()
            proc.wait(timeout=10)


def test_devices_of_the_process_and_task_gpus(store: Store, monkeypatch: pytest.MonkeyPatch
                                              ) -> None:
    for name in ("CUDA_VISIBLE_DEVICES", "CUDA_DEVICE_ORDER", TRIAL_ENV):
        monkeypatch.delenv(name, raising=False)
    assert current_devices() == ()
    use_devices(("2", "3"))
    assert os.environ["CUDA_VISIBLE_DEVICES"] == "2,3" and current_devices() == ("2", "3")
    assert os.environ["CUDA_DEVICE_ORDER"] == "PCI_BUS_ID"
    task = Task.create("p", "n", entry_point="tests.unit.sample_entry:main", validate=False)
    running = Task(task.id, store=store, token="attempt-token")
    assert running.gpus == ("2", "3")
    assert task.gpus == ()  # a handle outside the running trial


def test_a_slot_of_uuids_keeps_cuda_device_order(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CUDA_DEVICE_ORDER", raising=False)
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    monkeypatch.delenv(TRIAL_ENV, raising=False)
    use_devices(("GPU-aaa",))
    assert os.environ["CUDA_VISIBLE_DEVICES"] == "GPU-aaa"
    assert "CUDA_DEVICE_ORDER" not in os.environ
