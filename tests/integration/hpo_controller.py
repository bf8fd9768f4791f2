"""A controller process for tests/integration/test_optimizer_real.py.

    python hpo_controller.py create <base task id> <queue> <workdir>
    python hpo_controller.py resume <optimizer task id> <workdir>

``create`` builds a GridSearch over ``General/x`` of a ``hpo_trials:gated`` base task (two
concurrent jobs, five jobs at most) and writes the optimizer's id to ``<workdir>/optimizer_id``;
``resume`` carries on an existing optimizer. Both run the optimization to its end and append one
JSON line per callback invocation to ``<workdir>/callbacks.jsonl`` (written and fsynced before the
callback returns), then write ``<workdir>/ended-<pid>`` with the end reason. The store and the
Celery broker come from the environment (``HPQ_REDIS_URL``, ``HPQ_NAMESPACE``, ...).
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

from controller import DiscreteParameterRange, GridSearch, HyperParameterOptimizer

XS = [0.5, 0.4, 0.3, 0.2, 0.1, 0.6]
TOTAL_MAX_JOBS = 5
CONCURRENCY = 2


def main(argv: list[str]) -> int:
    mode = argv[0]
    workdir = Path(argv[-1])
    callbacks = workdir / "callbacks.jsonl"

    def on_complete(job_id: str, value: float, iteration: int, params: dict,
                    best: str | None) -> None:
        line = json.dumps({"job": job_id, "value": value, "iteration": iteration,
                           "params": params, "best": best, "pid": os.getpid()})
        with open(callbacks, "a") as f:
            f.write(line + "\n")
            f.flush()
            os.fsync(f.fileno())

    if mode == "create":
        base_id, queue = argv[1], argv[2]
        opt = HyperParameterOptimizer(
            base_id, [DiscreteParameterRange("General/x", XS)], "val", "loss", "min",
            optimizer_class=GridSearch, max_number_of_concurrent_tasks=CONCURRENCY,
            execution_queue=queue, total_max_jobs=TOTAL_MAX_JOBS, pool_period_min=0.01)
        (workdir / "optimizer_id").write_text(opt.id)
    elif mode == "resume":
        opt = HyperParameterOptimizer.resume(argv[1])
    else:
        print(f"unknown mode {mode!r}", file=sys.stderr)
        return 2
    opt.start(job_complete_callback=on_complete)
    print(f"controller {os.getpid()} drives {opt.id}", flush=True)
    opt.wait()
    (workdir / f"ended-{os.getpid()}").write_text(opt.end_reason or "")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
