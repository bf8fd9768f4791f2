"""GPU slots: each pool process of a worker owns one slot of GPUs for its whole life.

``hpq worker --gpus 0,1,2,3 --gpus-per-trial 1`` splits the devices into slots (here four of one
GPU) and runs one prefork pool process per slot (:func:`worker_options`). The slots travel to the
worker in ``HPQ_GPU_SLOTS`` (``"0;1;2;3"``, or ``"0,1;2,3"`` for two GPUs per trial).

In the worker's main process a :class:`SlotTable` is made (:func:`init_worker`, at Celery's
``worker_init``): one lock file per slot in a private directory. Each pool process, as it starts
(:func:`init_pool_process`, at ``worker_process_init``, before any trial's code is imported), takes the first slot whose lock is free and keeps it until it exits; the
kernel releases the lock when the process dies, however it dies, so the process Celery starts in
its place takes the freed slot. The process then sets ``CUDA_VISIBLE_DEVICES`` (with
``CUDA_DEVICE_ORDER=PCI_BUS_ID``, the numbering of ``nvidia-smi``) and ``HPQ_TRIAL_GPUS`` in its
environment: a callable trial sees them, and so does a command trial (its subprocess inherits
them). ``task.gpus`` reads them. Two trials that run at the same time are in two processes, so
they never share a GPU.
"""

from __future__ import annotations

import atexit
import fcntl
import logging
import os
import re
import shutil
import subprocess
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import IO

from .errors import GpuError

log = logging.getLogger("hpqueue.gpus")

#: The worker's slots, set by ``hpq worker --gpus``: slots separated by ``;``, ids by ``,``.
SLOTS_ENV = "HPQ_GPU_SLOTS"
#: The devices of the running pool process (and of the commands it starts).
TRIAL_ENV = "HPQ_TRIAL_GPUS"
#: Seconds a starting pool process waits for a free slot (Celery kills a pool process whose
#: start takes more than 4 s).
ACQUIRE_TIMEOUT = 3.0
#: A device as CUDA_VISIBLE_DEVICES names it: an index, or a GPU/MIG UUID.
_DEVICE = re.compile(r"^(\d+|(GPU|MIG)-[0-9A-Za-z][0-9A-Za-z/-]*)$")
_NVIDIA_SMI_GPU = re.compile(r"^GPU (\d+):", re.MULTILINE)


def parse_gpus(spec: str) -> list[str]:
    """The device ids of ``--gpus``: ``"0,1,3"``, UUIDs, or ``"auto"`` (:func:`detect_gpus`)."""
    if spec.strip().lower() == "auto":
        return detect_gpus()
    ids = [part.strip() for part in spec.split(",")]
    bad = [i for i in ids if not _DEVICE.match(i)]
    if not spec.strip() or bad:
        raise GpuError(f"--gpus {spec!r}: expected 'auto' or device indices/UUIDs separated by "
                       f"commas (e.g. 0,1,2,3); not a device: {', '.join(map(repr, bad or ids))}")
    dups = sorted({i for i in ids if ids.count(i) > 1})
    if dups:
        raise GpuError(f"--gpus {spec!r} names {', '.join(dups)} more than once")
    return ids


def detect_gpus(nvidia_smi: str | None = None) -> list[str]:
    """The indices ``nvidia-smi -L`` lists; GpuError if it is missing, fails or lists none."""
    binary = nvidia_smi or shutil.which("nvidia-smi")
    if binary is None:
        raise GpuError("--gpus auto: nvidia-smi is not on PATH; name the devices (--gpus 0,1)")
    try:
        out = subprocess.run([binary, "-L"], capture_output=True, text=True, timeout=30,
                             check=True).stdout
    except (OSError, subprocess.SubprocessError) as exc:
        raise GpuError(f"--gpus auto: `nvidia-smi -L` failed: {exc}") from None
    ids = _NVIDIA_SMI_GPU.findall(out)
    if not ids:
        raise GpuError("--gpus auto: `nvidia-smi -L` lists no GPU")
    return ids


def pack(gpus: Sequence[str], per_trial: int = 1) -> list[tuple[str, ...]]:
    """Split ``gpus`` into slots of ``per_trial`` devices, in order."""
    if per_trial < 1:
        raise GpuError(f"--gpus-per-trial must be at least 1, not {per_trial}")
    if not gpus or len(gpus) % per_trial:
        raise GpuError(f"{len(gpus)} GPU(s) ({','.join(gpus)}) cannot be split into slots of "
                       f"{per_trial}: give a multiple of --gpus-per-trial")
    return [tuple(gpus[i:i + per_trial]) for i in range(0, len(gpus), per_trial)]


def encode_slots(slots: Sequence[tuple[str, ...]]) -> str:
    return ";".join(",".join(slot) for slot in slots)


def decode_slots(text: str) -> list[tuple[str, ...]]:
    return [tuple(slot.split(",")) for slot in text.split(";") if slot]


def worker_options(spec: str, per_trial: int = 1, concurrency: int | None = None,
                   celery_args: Sequence[str] = ()) -> tuple[int, dict[str, str]]:
    """What ``hpq worker --gpus SPEC`` adds to the Celery worker: its concurrency (one prefork
    pool process per slot; ``concurrency`` may only repeat it) and its environment.

    GpuError names what does not fit: a bad device list, a concurrency that is not the number
    of slots, or Celery arguments (``celery_args``) for autoscaling, a concurrency or a pool
    other than prefork.
    """
    slots = pack(parse_gpus(spec), per_trial)
    if concurrency is not None and concurrency != len(slots):
        raise GpuError(f"-c {concurrency} does not match the {len(slots)} GPU slot(s) of "
                       f"--gpus {spec} --gpus-per-trial {per_trial}: each pool process owns one "
                       "slot; leave -c out")
    _check_celery_args(list(celery_args))
    return len(slots), {SLOTS_ENV: encode_slots(slots)}


def _check_celery_args(args: list[str]) -> None:
    for i, arg in enumerate(args):
        name, eq, value = arg.partition("=")
        if name in ("-P", "--pool"):
            value = value if eq else (args[i + 1] if i + 1 < len(args) else "")
        elif name.startswith("-P"):
            value = name[2:]
        elif name in ("--autoscale", "-c", "--concurrency") or (
                name.startswith("-c") and name[2:].isdigit()):
            value = ""
        else:
            continue
        if value != "prefork":
            raise GpuError(f"{arg} cannot be used with --gpus: GPU slots need exactly one prefork "
                           "pool process per slot")


class SlotTable:
    """One lock file per slot in ``directory``; a process holds the slot whose lock it holds."""

    def __init__(self, directory: Path, slots: Sequence[tuple[str, ...]]) -> None:
        self.directory = directory
        self.slots = list(slots)
        self._held: IO[str] | None = None

    @classmethod
    def create(cls, slots: Sequence[tuple[str, ...]]) -> SlotTable:
        """A table in a new private directory (removed at the creating process's exit)."""
        directory = Path(tempfile.mkdtemp(prefix=f"hpq-gpu-slots-{os.getpid()}-"))
        owner = os.getpid()

        def remove() -> None:
            if os.getpid() == owner:  # not in a forked pool process that exits
                shutil.rmtree(directory, ignore_errors=True)

        atexit.register(remove)
        return cls(directory, slots)

    def acquire(self, timeout: float = ACQUIRE_TIMEOUT) -> tuple[str, ...]:
        """Take a free slot for the rest of this process's life; GpuError after ``timeout``."""
        deadline = time.monotonic() + timeout
        while True:
            for index, slot in enumerate(self.slots):
                handle = open(self.directory / f"slot-{index}.lock", "a+")  # noqa: SIM115
                try:
                    fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    handle.close()
                    continue
                handle.seek(0)
                handle.truncate()
                handle.write(f"{os.getpid()}\n")
                handle.flush()
                self._held = handle  # open (and locked) until the process exits
                return slot
            if time.monotonic() > deadline:
                raise GpuError(f"no free GPU slot among {encode_slots(self.slots)!r} after "
                               f"{timeout}s: more pool processes than slots?")
            time.sleep(0.05)


def use_devices(slot: tuple[str, ...]) -> None:
    """Make ``slot`` this process's devices (and those of the subprocesses it starts)."""
    os.environ["CUDA_VISIBLE_DEVICES"] = ",".join(slot)
    os.environ[TRIAL_ENV] = ",".join(slot)
    if all(d.isdigit() for d in slot):
        os.environ["CUDA_DEVICE_ORDER"] = "PCI_BUS_ID"  # indices as nvidia-smi numbers them


def current_devices() -> tuple[str, ...]:
    """The GPUs of this process's slot (empty outside a GPU worker)."""
    text = os.environ.get(TRIAL_ENV, "")
    return tuple(d for d in text.split(",") if d)


_table: SlotTable | None = None


def init_worker() -> None:
    """In the worker's main process, before its pool starts: the slot table, if the worker has
    GPU slots (``HPQ_GPU_SLOTS``)."""
    global _table
    text = os.environ.get(SLOTS_ENV)
    if text:
        _table = SlotTable.create(decode_slots(text))
        log.info("GPU slots %s (lock files in %s)", text, _table.directory)


def init_pool_process() -> None:
    """In each pool process as it starts, before any trial: take a slot, expose its devices."""
    if _table is not None:
        slot = _table.acquire()
        use_devices(slot)
        log.info("pool process %s owns GPU(s) %s", os.getpid(), ",".join(slot))
