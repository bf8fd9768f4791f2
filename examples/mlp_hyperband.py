"""Hyperband tuning a real network, each promotion continuing the saved model.

``max_iterations=27, eta=3``: four brackets, 67 trials of scikit-learn's MLPClassifier on the
digits (examples/mlp_digits.py), from 1 to 27 epochs. With ``resume=True`` a promoted
configuration loads the model its previous trial pickled and trains only the extra epochs. About
a minute on two CPU cores.

Runs as it is (local mode without ``HPQ_REDIS_URL``, see examples/quickstart.py); needs the
``examples`` extra (``pip install -e '.[examples]'``).
"""

from __future__ import annotations

from common import MLP_SPACE, QUEUE, mlp_task, run

from controller import Hyperband, HyperParameterOptimizer


def main() -> None:
    opt = HyperParameterOptimizer(
        base_task_id=mlp_task().id, hyper_parameters=MLP_SPACE,
        objective_metric_title="validation", objective_metric_series="loss",
        objective_metric_sign="min", optimizer_class=Hyperband,
        max_iterations=27, eta=3, resource="General/epochs", resume=True,
        max_number_of_concurrent_tasks=2, execution_queue=QUEUE, pool_period_min=0.2, seed=7)
    run(opt)


if __name__ == "__main__":
    main()
