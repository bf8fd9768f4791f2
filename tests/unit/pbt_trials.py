"""PBT members for tests/unit/test_pbt_client.py: the seed's training loop on a toy model, run
in-process by TrialRunner threads.

The "model" is one number that grows by the learning rate every epoch; the metric is the model
itself (higher is better), so a member with a smaller ``lr`` falls behind and copies a better
one. Checkpoints are pickled files under the artifacts directory.
"""

from __future__ import annotations

import pickle
import threading
from pathlib import Path

from workers import Task

MAX_SECONDS = 30.0
#: Cleared: every member pauses after each save until it is set again.
hold = threading.Event()
hold.set()


def seed_loop(task: Task) -> float:
    p = task.connect({"lr": 0.05, "epochs": 6})
    pbt = task.pbt(wait_slice=0.05)
    model = {"w": 0.0}
    directory = Path(task._store.settings.artifacts_root) / task.id / "pbt"
    directory.mkdir(parents=True, exist_ok=True)
    for epoch in range(int(p["epochs"])):
        model["w"] += pbt.hyperparameters()["lr"]          # one epoch of "training"
        path = directory / f"epoch{epoch}.pkl"
        path.write_bytes(pickle.dumps(model))
        pbt.save(str(path), model["w"])
        hold.wait(MAX_SECONDS)
        if pbt.should_exploit():
            pbt.exploit()
            model = pickle.loads(Path(pbt.parameters_path()).read_bytes())
            pbt.explore()
    return model["w"]
