#!/usr/bin/env python
"""Where a TPE trial's time goes in the controller: ``ask()`` and the per-report writes, by
Optuna storage.

    python bench/tpe_ask.py                 # 450 finished trials of history, 40 asks each
    python bench/tpe_ask.py --trials 100 --asks 10

A study is filled with ``--trials`` finished trials of ``bench/realwork.py``'s search space, each
with 27 intermediate values (what a 120 s real-workload run leaves behind), plus one running
trial (the other worker's), in three storages: in memory, Optuna's journal file
(``JournalFileBackend``, what standalone Optuna shares between processes) and Optuna's journal on
Redis (``JournalRedisBackend`` on a private ``redis-server``: what ``OptimizerOptuna`` uses). Then,
per storage, the median time of:

* ``ask`` with one sampler kept for the whole run (standalone Optuna's ``study.optimize``);
* ``ask`` with a new seeded sampler per ask (what ``OptimizerOptuna._ask`` does), and that plus
  the two trial user attributes hpqueue writes per trial (owner, job id);
* ``tell`` (complete, with a value);
* one report as the controller handles it (``OptimizerOptuna.on_trial_result``: ``get_trial``,
  ``set_trial_intermediate_value``, ``get_trial`` again, the pruner) against ``trial.report``;

and, for Redis, the round trips each makes (redis-py's ``send_packed_command`` calls). The sampler
is the one ``OptimizerOptuna`` builds: ``TPESampler(multivariate=True, constant_liar=True)``.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import numpy as np
import optuna
from optuna.distributions import CategoricalDistribution, FloatDistribution

from bench.overhead import RedisServer, RoundTrips
from bench.realwork_trial import ALPHA_RANGE, BATCH_SIZES, EPOCHS, HIDDEN, LR_RANGE

DISTRIBUTIONS = {"lr": FloatDistribution(*LR_RANGE, log=True),
                 "alpha": FloatDistribution(*ALPHA_RANGE, log=True),
                 "hidden": CategoricalDistribution(list(HIDDEN)),
                 "batch_size": CategoricalDistribution(list(BATCH_SIZES))}


def history(n: int, seed: int = 0) -> list[optuna.trial.FrozenTrial]:
    """``n`` finished trials with random configurations and a learning curve of 27 values."""
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        params = {"lr": float(np.exp(rng.uniform(*np.log(LR_RANGE)))),
                  "alpha": float(np.exp(rng.uniform(*np.log(ALPHA_RANGE)))),
                  "hidden": str(rng.choice(list(HIDDEN))),
                  "batch_size": int(rng.choice(BATCH_SIZES))}
        final = float(rng.uniform(0.02, 0.3))
        curve = {e: final + (1 - final) * 0.7 ** e for e in range(1, EPOCHS + 1)}
        out.append(optuna.trial.create_trial(params=params, distributions=DISTRIBUTIONS,
                                             value=curve[EPOCHS], intermediate_values=curve))
    return out


def _sampler(seed: int) -> optuna.samplers.BaseSampler:
    return optuna.samplers.TPESampler(seed=seed, multivariate=True, constant_liar=True)


def _timed(trips: RoundTrips | None, fn: Callable[..., Any], *args: Any
           ) -> tuple[float, int, Any]:
    """(seconds, Redis round trips, result) of ``fn(*args)``."""
    before = trips.count if trips else 0
    t = time.perf_counter()
    out = fn(*args)
    return time.perf_counter() - t, (trips.count - before if trips else 0), out


def measure(storage: optuna.storages.BaseStorage, trials: list[optuna.trial.FrozenTrial],
            asks: int, trips: RoundTrips | None) -> dict[str, tuple[float, float]]:
    """Median ms and round trips of each operation (see the module docstring)."""
    study = optuna.create_study(storage=storage, sampler=_sampler(0), study_name="ask-bench",
                                pruner=optuna.pruners.NopPruner())
    study.add_trials(trials)
    running = study.ask(DISTRIBUTIONS)  # the other worker's trial, running all along
    samples: dict[str, list[tuple[float, int]]] = {}

    def note(what: str, timed: tuple[float, int, Any]) -> Any:
        samples.setdefault(what, []).append((timed[0] * 1000, timed[1]))
        return timed[2]

    def hpqueue_attrs(trial: optuna.Trial, job: str) -> None:
        trial.set_user_attr("hpqueue_owner", "0123456789abcdef")
        storage.set_trial_user_attr(trial._trial_id, "hpqueue_job_id", job)

    rng = np.random.default_rng(1)
    kept = _sampler(0)
    for i in range(asks):
        for variant in ("kept", "rebuilt", "rebuilt+attrs"):
            if variant == "kept":
                study.sampler = kept
            else:  # as OptimizerOptuna._ask: a new sampler seeded from (seed, trial number)
                number = len(study.get_trials(deepcopy=False))
                study.sampler = _sampler(int(np.random.SeedSequence([0, number])
                                             .generate_state(1)[0]))
            seconds, count, trial = _timed(trips, study.ask, DISTRIBUTIONS)
            if variant == "rebuilt+attrs":
                more, more_count, _ = _timed(trips, hpqueue_attrs, trial, f"job{i}")
                seconds, count = seconds + more, count + more_count
            note(f"ask, sampler {variant}", (seconds, count, None))
            for epoch in (1, 2):
                note("report, trial.report",
                     _timed(trips, trial.report, float(rng.uniform(0.02, 1)), epoch))
            for epoch in (3, 4):
                note("report, hpqueue's controller",
                     _timed(trips, _controller_report, study, trial._trial_id, epoch,
                            float(rng.uniform(0.02, 1))))
            note("tell", _timed(trips, study.tell, trial, float(rng.uniform(0.02, 0.3))))
    study.tell(running, 0.5)
    return {what: (statistics.median(s for s, _ in rows), statistics.median(c for _, c in rows))
            for what, rows in samples.items()}


def _controller_report(study: optuna.Study, trial_id: int, step: int, value: float) -> None:
    """What ``OptimizerOptuna.on_trial_result`` does with one report (NopPruner)."""
    storage = study._storage
    frozen = storage.get_trial(trial_id)
    if step not in frozen.intermediate_values:
        storage.set_trial_intermediate_value(trial_id, step, value)
        frozen = storage.get_trial(trial_id)
    study.pruner.prune(study, frozen)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    p.add_argument("--trials", type=int, default=450, help="finished trials in the study")
    p.add_argument("--asks", type=int, default=40, help="asks per variant and storage")
    args = p.parse_args(argv)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
    from optuna.storages import InMemoryStorage, JournalStorage
    from optuna.storages.journal import JournalFileBackend, JournalRedisBackend

    trials = history(args.trials)
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        server = RedisServer(Path(tmp))
        try:
            results["in memory"] = measure(InMemoryStorage(), trials, args.asks, None)
            results["journal file"] = measure(
                JournalStorage(JournalFileBackend(str(Path(tmp) / "journal.log"))), trials,
                args.asks, None)
            with RoundTrips() as trips:
                results["journal on Redis"] = measure(
                    JournalStorage(JournalRedisBackend(server.url)), trials, args.asks, trips)
        finally:
            server.stop()
    operations = list(next(iter(results.values())))
    head = ["operation (median)", *results, "Redis round trips"]
    lines = ["| " + " | ".join(head) + " |", "|" + "|".join("---" for _ in head) + "|"]
    for op in operations:
        cells = [f"{results[s][op][0]:.2f} ms" for s in results]
        lines.append(f"| {op} | " + " | ".join(cells)
                     + f" | {results['journal on Redis'][op][1]:g} |")
    print(f"{args.trials} finished trials with {EPOCHS} intermediate values each, one running; "
          f"{args.asks} asks per variant\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
