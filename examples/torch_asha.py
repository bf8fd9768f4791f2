"""ASHA over a PyTorch command-line script (examples/torch_digits.py) run as a command task.

The base task is the script's command line with placeholders (``--lr={{ General/lr }}``); each
trial runs it in a subprocess of a worker with the trial's values. Rungs of 1, 3 and 9 epochs;
a promoted configuration (``resume=True``) continues the model and optimizer state its previous
trial saved. 9 configurations; about a minute on two CPU cores (most of it PyTorch's import in
each trial's process).

Runs as it is (local mode without ``HPQ_REDIS_URL``, see examples/quickstart.py); needs the
``examples`` extra (``pip install -e '.[examples]'``).
"""

from __future__ import annotations

import sys

from common import HERE, QUEUE, run

from controller import (
    ASHA,
    DiscreteParameterRange,
    HyperParameterOptimizer,
    LogUniformParameterRange,
    UniformParameterRange,
)
from workers import Task

OPTIONS = ("lr", "hidden", "dropout", "epochs")


def main() -> None:
    base = Task.create(
        project="examples", name="torch_digits",
        command=[sys.executable, str(HERE / "torch_digits.py"),
                 *(f"--{name}={{{{ General/{name} }}}}" for name in OPTIONS)],
        parameters={"General/lr": 3e-3, "General/hidden": 64, "General/dropout": 0.1,
                    "General/epochs": 9})
    opt = HyperParameterOptimizer(
        base_task_id=base.id,
        hyper_parameters=[LogUniformParameterRange("General/lr", min_value=-4, max_value=-1.5),
                          DiscreteParameterRange("General/hidden", values=[32, 64, 128]),
                          UniformParameterRange("General/dropout", min_value=0.0,
                                                max_value=0.5)],
        objective_metric_title="validation", objective_metric_series="loss",
        objective_metric_sign="min", optimizer_class=ASHA,
        resource="General/epochs", min_resource=1, max_resource=9, reduction_factor=3,
        resume=True, max_trials=9, seed=2,
        max_number_of_concurrent_tasks=2, execution_queue=QUEUE,
        total_max_jobs=20, pool_period_min=0.2)
    run(opt)


if __name__ == "__main__":
    main()
