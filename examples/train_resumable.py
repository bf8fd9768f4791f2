"""A base task for the multi-fidelity strategies (Hyperband, ASHA, BOHB): it resumes from a
checkpoint.

``epochs`` is the resource: the strategy sets it to the number of epochs the trial must reach.
Each epoch it reports ``validation/loss`` and saves a checkpoint (a JSON file with the epoch
reached and the model's state). A trial that continues a previous one (``resume=True``: the job
record has ``continue_from``) finds that trial's checkpoint through ``task.latest_checkpoint()``
and trains only the remaining epochs. It reports the epoch it started from as the single value
``start_epoch``.
"""

from __future__ import annotations

import json
import math
import tempfile
import time
from pathlib import Path


def main(task) -> float:  # a worker calls this with the trial's Task
    p = task.connect({"lr": 0.1, "dropout": 0.25, "epochs": 9, "sleep": 0.0})
    log = task.get_logger()
    start, model = 0, {"gap": 1.0}            # a fresh "model"
    checkpoint = task.latest_checkpoint()     # ours, or the one of the trial we continue
    if checkpoint is not None:
        saved = json.loads(checkpoint.read_text())
        start, model = saved["epoch"], saved["model"]
    log.report_single_value("start_epoch", start)
    print(f"lr={p['lr']} dropout={p['dropout']}: epochs {start} -> {p['epochs']}"
          f"{' (resumed from ' + str(checkpoint) + ')' if checkpoint else ''}")
    # converges towards a minimum at lr = 0.1, dropout = 0.3
    floor = (math.log10(p["lr"]) + 1) ** 2 + (p["dropout"] - 0.3) ** 2
    loss = floor + model["gap"]
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "checkpoint.json"
        for epoch in range(start, int(p["epochs"])):
            model["gap"] *= math.exp(-5 * p["lr"])          # one epoch of "training"
            loss = floor + model["gap"]
            log.report_scalar("validation", "loss", value=loss, iteration=epoch)
            path.write_text(json.dumps({"epoch": epoch + 1, "model": model}))
            task.save_checkpoint(path, iteration=epoch)
            if p["sleep"]:
                time.sleep(p["sleep"])
    return loss
