"""Optuna (TPE) through the event loop, with the study kept in the same Redis.

``OptimizerOptuna`` asks Optuna for each trial and tells it every reported loss (Optuna's default
``MedianPruner`` may stop hopeless trials: they end ``stopped``). Any sampler or pruner can be
passed (``optuna_sampler=``, ``optuna_pruner=``). The study lives in Optuna's journal storage on
the optimizer's Redis, named after the optimizer's id, so a resumed optimizer continues it and
``optuna.load_study`` or ``optuna-dashboard`` open it. In local mode the embedded server ends
with this script; with your own Redis (``HPQ_REDIS_URL``) the dashboard works any time.

Runs as it is (local mode without ``HPQ_REDIS_URL``, see examples/quickstart.py).
"""

from __future__ import annotations

import os
from pathlib import Path

import optuna

from controller import (
    HyperParameterOptimizer,
    LogUniformParameterRange,
    OptimizerOptuna,
    UniformParameterRange,
)
from controller.strategies.optuna_search import redis_journal_storage
from workers import Task, get_store

TRAIN = Path(__file__).resolve().with_name("train.py")


def on_done(job_id: str, loss: float, iteration: int, params: dict, best: str) -> None:
    print(f"job {job_id[:8]} lr={params['General/lr']:<8.4g} "
          f"dropout={params['General/dropout']:<6.3g} loss={loss:.4f} (iteration {iteration})"
          f"{'  <- best so far' if job_id == best else ''}", flush=True)


def main() -> None:
    base = Task.create(project="examples", name="train", entry_point=f"{TRAIN}:main",
                       parameters={"General/lr": 0.1, "General/dropout": 0.25,
                                   "General/epochs": 10})
    opt = HyperParameterOptimizer(
        base_task_id=base.id,
        hyper_parameters=[LogUniformParameterRange("General/lr", min_value=-3, max_value=0),
                          UniformParameterRange("General/dropout", min_value=0.0, max_value=0.6)],
        objective_metric_title="validation", objective_metric_series="loss",
        objective_metric_sign="min", optimizer_class=OptimizerOptuna, seed=3,
        max_number_of_concurrent_tasks=2, execution_queue=os.environ.get("HPQ_QUEUE", "default"),
        total_max_jobs=16, pool_period_min=0.2)
    opt.set_time_limit(in_minutes=5.0)
    url = get_store().url
    print(f"follow the study live with:  optuna-dashboard {url}  (study {opt.id})")
    opt.start(job_complete_callback=on_done)
    opt.wait()
    print(f"\noptimizer {opt.id} ended ({opt.end_reason})\ntop 3:")
    for rank, row in enumerate(opt.get_top_experiments_details(top_k=3), 1):
        loss = row["metrics"]["validation/loss"]["value"]
        print(f"  {rank}. {row['task_id'][:8]} loss={loss:.4f} {row['hyper_parameters']}")

    # The same study, read back with plain Optuna from the Redis journal storage.
    study = optuna.load_study(study_name=opt.id, storage=redis_journal_storage(url))
    states = [t.state.name for t in study.trials]
    print(f"\noptuna study {study.study_name}: {len(study.trials)} trials "
          f"({', '.join(f'{states.count(s)} {s}' for s in sorted(set(states)))}); "
          f"best value {study.best_value:.4f} with {study.best_params}")


if __name__ == "__main__":
    main()
