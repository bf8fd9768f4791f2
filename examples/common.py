"""What the strategy examples share: the base tasks, a search space, and the printing.

Each example builds a ``HyperParameterOptimizer`` for its strategy and hands it to :func:`run`.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from controller import (
    DiscreteParameterRange,
    HyperParameterOptimizer,
    LogUniformParameterRange,
    UniformParameterRange,
)
from controller.persistence import OptimizerRepository
from workers import Task, TaskStatus, get_store

HERE = Path(__file__).resolve().parent
#: The queue the examples use (local mode starts workers on it).
QUEUE = os.environ.get("HPQ_QUEUE", "default")
#: lr = 10**x for x in [-3, 0], dropout in [0, 0.6]; the toy loss is lowest at lr=0.1, dropout=0.3.
SPACE = [LogUniformParameterRange("General/lr", min_value=-3, max_value=0),
         UniformParameterRange("General/dropout", min_value=0.0, max_value=0.6)]


#: The real model's (examples/mlp_digits.py): Adam's step size 10**x for x in [-4, -1.5], the
#: L2 penalty 10**x for x in [-6, -2], and the hidden layer's width.
MLP_SPACE = [LogUniformParameterRange("General/lr", min_value=-4, max_value=-1.5),
             LogUniformParameterRange("General/alpha", min_value=-6, max_value=-2),
             DiscreteParameterRange("General/hidden", values=[32, 64, 128])]


def mlp_task(**parameters: Any) -> Task:
    """The base task of the real-model examples: examples/mlp_digits.py (scikit-learn's
    ``MLPClassifier`` on the digits, epoch by epoch, a pickled checkpoint per epoch)."""
    defaults = {"General/lr": 1e-3, "General/alpha": 1e-4, "General/hidden": 64,
                "General/batch_size": 64, "General/epochs": 9, "General/seed": 0, **parameters}
    return Task.create(project="examples", name="mlp_digits",
                       entry_point=f"{HERE / 'mlp_digits.py'}:main", parameters=defaults)


def base_task(resumable: bool = False, **parameters: Any) -> Task:
    """The base task: examples/train.py, or examples/train_resumable.py (checkpoints each epoch,
    continues from ``task.latest_checkpoint()``) for the multi-fidelity strategies."""
    name = "train_resumable" if resumable else "train"
    defaults = {"General/lr": 0.1, "General/dropout": 0.25,
                "General/epochs": 9 if resumable else 10, **parameters}
    return Task.create(project="examples", name=name,
                       entry_point=f"{HERE / (name + '.py')}:main", parameters=defaults)


def _shown(params: dict) -> str:
    """``lr=0.1 dropout=0.3`` (names without their section)."""
    return " ".join(f"{k.split('/', 1)[-1]}={v:.4g}" if isinstance(v, float) else
                    f"{k.split('/', 1)[-1]}={v}" for k, v in sorted(params.items()))


def print_job(job_id: str, loss: float, iteration: int, params: dict, best: str) -> None:
    """A ``job_complete_callback``: one line per job that ended with its loss."""
    record = Task.get_task(job_id).record
    shown = _shown(params)
    notes = []
    if record.get("continue_from"):
        notes.append(f"continued {record['continue_from'][:8]}")
    if record.get("status") == TaskStatus.STOPPED.value:
        notes.append(f"stopped: {record.get('status_reason')}")
    if job_id == best:
        notes.append("<- best so far")
    print(f"job {job_id[:8]} {shown} loss={loss:.4f} (iteration {iteration})"
          f"{'  ' + '; '.join(notes) if notes else ''}", flush=True)


def print_failure(job_id: str, reason: str, params: dict) -> None:
    """A ``job_failed_callback``: one line per failed job, with its error."""
    error = reason.splitlines()[0] if reason else "no reason recorded"
    print(f"job {job_id[:8]} {_shown(params)} FAILED: {error}  (details: hpq job {job_id})",
          flush=True)


def run(opt: HyperParameterOptimizer, *, all_hyper_parameters: bool = False) -> None:
    """Start (5-minute limit), print each job as it ends (or fails), then why it ended and the
    top 3."""
    opt.set_time_limit(in_minutes=5.0)
    opt.start(job_complete_callback=print_job, job_failed_callback=print_failure)
    opt.wait()
    print_end(opt, all_hyper_parameters=all_hyper_parameters)


def print_end(opt: HyperParameterOptimizer, *, all_hyper_parameters: bool = False) -> None:
    """Why the optimization ended, and its top 3."""
    print(f"\noptimizer {opt.id} ended ({opt.end_reason})\ntop 3:")
    rows = opt.get_top_experiments_details(top_k=3, all_hyper_parameters=all_hyper_parameters)
    for rank, row in enumerate(rows, 1):
        loss = row["metrics"]["validation/loss"]["value"]
        print(f"  {rank}. {row['task_id'][:8]} loss={loss:.4f} {row['hyper_parameters']}")


def print_pbt_schedules(opt: HyperParameterOptimizer, name: str = "General/lr") -> None:
    """The schedule of ``name`` each member of a population-based training followed."""
    print(f"{name.split('/')[-1]} schedule of each member:")
    schedules: dict[int, list[str]] = {}
    for job in OptimizerRepository(get_store()).load(opt.id).jobs:  # by job index
        mark = f"(copied {job.meta['exploited']})" if "exploited" in job.meta else ""
        schedules.setdefault(job.meta["member"], []).append(f"{job.parameters[name]:.3g}{mark}")
    for member, values in sorted(schedules.items()):
        print(f"  member {member}: {' -> '.join(values)}")
