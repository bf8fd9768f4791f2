"""Optuna (TPE) through the event loop, with the study kept in the same Redis.

``OptimizerOptuna`` asks Optuna for each trial and tells it how each ended; every trial runs its
course unless a pruner is passed (``optuna_pruner=optuna.pruners.MedianPruner()``, say: hopeless
trials then end ``stopped``). Any sampler or pruner can be passed (``optuna_sampler=``,
``optuna_pruner=``). The study lives in Optuna's journal storage on
the optimizer's Redis, named after the optimizer's id, so a resumed optimizer continues it and
``optuna.load_study`` or ``optuna-dashboard`` open it. In local mode the embedded server ends
with this script; with your own Redis (``HPQ_REDIS_URL``) the dashboard works any time.

Runs as it is (local mode without ``HPQ_REDIS_URL``, see examples/quickstart.py).
"""

from __future__ import annotations

import optuna
from common import QUEUE, SPACE, base_task, run

from controller import HyperParameterOptimizer, OptimizerOptuna
from controller.strategies.optuna_search import redis_journal_storage
from workers import get_store


def main() -> None:
    opt = HyperParameterOptimizer(
        base_task_id=base_task().id, hyper_parameters=SPACE,
        objective_metric_title="validation", objective_metric_series="loss",
        objective_metric_sign="min", optimizer_class=OptimizerOptuna, seed=3,
        max_number_of_concurrent_tasks=2, execution_queue=QUEUE,
        total_max_jobs=16, pool_period_min=0.2)
    url = get_store().url
    print(f"follow the study live with:  optuna-dashboard {url}  (study {opt.id})")
    run(opt)
    # The same study, read back with plain Optuna from the Redis journal storage.
    study = optuna.load_study(study_name=opt.id, storage=redis_journal_storage(url))
    states = [t.state.name for t in study.trials]
    print(f"\noptuna study {study.study_name}: {len(study.trials)} trials "
          f"({', '.join(f'{states.count(s)} {s}' for s in sorted(set(states)))}); "
          f"best value {study.best_value:.4f} with {study.best_params}")


if __name__ == "__main__":
    main()
