"""Population-based training the chrischute/pbt way: 8 members, each one long-running trial that
trains scikit-learn's MLPClassifier on the bundled digits data one epoch at a time
(``partial_fit``) with the seed's calls in its loop.

The member's loop is the seed's ``examples/train.py``; only the client's construction changed
(``task.pbt()`` instead of ``PBTClient(server_url, port, auth_key, config_path)``), and the
server is the optimizer with the ``PBTServer`` strategy over the seed's CSV search space
(``examples/pbt_hyperparameters.csv``). Checkpoints are pickled models stored with
``task.save_checkpoint`` under ``HPQ_ARTIFACTS_DIR``, where every member can load them.

Runs as it is (local mode without ``HPQ_REDIS_URL``: 8 local worker processes, one per member;
with ``HPQ_REDIS_URL``, start workers with ``hpq worker -c 8``); ``hpq report ID`` then draws
each member's accuracy and hyper-parameters over its epochs, and who copied whom.
"""

from __future__ import annotations

import pickle
import tempfile
from pathlib import Path
from typing import Any

from controller import HyperParameterOptimizer, PBTServer, parameters_from_csv
from workers import Task

HERE = Path(__file__).resolve().parent
CSV = HERE / "pbt_hyperparameters.csv"
POPULATION = 8


# ------------------------------------------------------------------- the member (a trial)
def update_hyperparameters(model: Any, hyperparameters: dict[str, float]) -> None:
    """Apply the member's current hyper-parameters (the seed re-applies them every epoch)."""
    model.set_params(learning_rate_init=hyperparameters["learning_rate_init"],
                     alpha=hyperparameters["alpha"])
    optimizer = getattr(model, "_optimizer", None)  # scikit-learn's SGD state, once it trained
    if optimizer is not None:
        optimizer.learning_rate = hyperparameters["learning_rate_init"]


def save_model(task: Task, model: Any, epoch: int) -> str:
    """Pickle ``model`` and store it as the task's checkpoint (on the shared artifacts dir)."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "model.pkl"
        path.write_bytes(pickle.dumps(model))
        return str(task.save_checkpoint(path, iteration=epoch))


def load_model(path: str) -> Any:
    return pickle.loads(Path(path).read_bytes())


def train(task: Task) -> float:
    """One member of the population: the seed's training loop."""
    import numpy as np
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split
    from sklearn.neural_network import MLPClassifier

    args = task.connect({"epochs": 20})
    x, y = load_digits(return_X_y=True)
    x_train, x_val, y_train, y_val = train_test_split(x / 16.0, y, test_size=0.3,
                                                      random_state=0, stratify=y)
    classes = np.unique(y)
    model = MLPClassifier(hidden_layer_sizes=(32,), solver="sgd", momentum=0.9,
                          random_state=int(task.id[:8], 16) % 2**31)
    pbt_client = task.pbt()  # the seed: PBTClient(url, port, auth_key, config_path)

    metric_val = 0.0
    for _ in range(int(args["epochs"])):
        update_hyperparameters(model, pbt_client.hyperparameters())
        model.partial_fit(x_train, y_train, classes=classes)  # one epoch

        metric_val = float(model.score(x_val, y_val))
        ckpt_path = save_model(task, model, pbt_client.step)

        pbt_client.save(ckpt_path, metric_val)
        if pbt_client.should_exploit():
            # Exploit
            pbt_client.exploit()

            # Load model parameters from the exploited member
            model = load_model(pbt_client.parameters_path())

            # Explore
            pbt_client.explore()
    return metric_val


# ------------------------------------------------------------------- the server (controller)
def main() -> None:
    from common import QUEUE, print_failure  # (here: workers import this file for train() alone)

    base = Task.create(project="examples", name="pbt member", entry_point=f"{__file__}:train",
                       parameters={"General/learning_rate_init": 0.01, "General/alpha": 1e-4,
                                   "General/epochs": 20})
    opt = HyperParameterOptimizer(
        base_task_id=base.id, hyper_parameters=parameters_from_csv(CSV),
        objective_metric_title="validation", objective_metric_series="accuracy",
        objective_metric_sign="max",  # the seed's maximize_metric=True
        optimizer_class=PBTServer, population_size=POPULATION,
        max_number_of_concurrent_tasks=POPULATION, execution_queue=QUEUE,
        pool_period_min=0.2, seed=3)
    opt.set_time_limit(in_minutes=10.0)
    opt.start(job_failed_callback=print_failure)
    opt.wait()
    print(f"\noptimizer {opt.id} ended ({opt.end_reason})")
    records = {t.id: t.artifacts["pbt"].get() for t in Task.get_tasks(parent=opt.id)
               if "pbt" in t.artifacts}
    for task_id, record in sorted(records.items(), key=lambda item: item[1]["member"]):
        accuracy = Task.get_task(task_id).get_last_scalar_metrics()["validation"]["accuracy"]
        copies = ", ".join(f"step {c['step']}: member {c['donor']} (its step {c['donor_step']})"
                           for c in record["lineage"])
        print(f"member {record['member']}: accuracy {accuracy['last']:.3f}; "
              f"copied {copies or 'nobody'}")
    print(f"\nplots of every member's accuracy and hyper-parameters: hpq report {opt.id} "
          "-o pbt_report.html")


if __name__ == "__main__":
    main()
