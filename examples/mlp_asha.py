"""ASHA tuning a real network, each promotion continuing the saved model.

Rungs of 1, 3, 9 and 27 epochs of scikit-learn's MLPClassifier on the digits
(examples/mlp_digits.py). A promoted configuration (``resume=True``) loads the model its previous
trial pickled with ``task.save_checkpoint`` and trains it further: a job line says which trial it
continued, and its ``Summary/start_epoch`` is where that trial stopped. 27 configurations; under
a minute on two CPU cores.

Runs as it is (local mode without ``HPQ_REDIS_URL``, see examples/quickstart.py); needs the
``examples`` extra (``pip install -e '.[examples]'``).
"""

from __future__ import annotations

from common import MLP_SPACE, QUEUE, mlp_task, run

from controller import ASHA, HyperParameterOptimizer


def main() -> None:
    opt = HyperParameterOptimizer(
        base_task_id=mlp_task().id, hyper_parameters=MLP_SPACE,
        objective_metric_title="validation", objective_metric_series="loss",
        objective_metric_sign="min", optimizer_class=ASHA,
        resource="General/epochs", min_resource=1, max_resource=27, reduction_factor=3,
        resume=True, max_trials=27, seed=5,
        max_number_of_concurrent_tasks=2, execution_queue=QUEUE,
        total_max_jobs=40, pool_period_min=0.2)
    run(opt)


if __name__ == "__main__":
    main()
