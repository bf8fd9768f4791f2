#!/usr/bin/env python
"""Where a TPE trial's time goes in the controller: ``ask()`` and the per-report writes, by
Optuna storage.

    python bench/tpe_ask.py                 # 450 finished trials of history, 100 asks each;
                                            # writes its section of bench/RESULTS.md
    python bench/tpe_ask.py --trials 100 --asks 10 --no-write

A study is filled with ``--trials`` finished trials of ``bench/realwork.py``'s search space, each
with 27 intermediate values (what a 120 s real-workload run leaves behind), plus one running
trial (the other worker's), in three storages: in memory, Optuna's journal file
(``JournalFileBackend``, what standalone Optuna shares between processes) and Optuna's journal on
Redis (``JournalRedisBackend`` on a private ``redis-server``: what ``OptimizerOptuna`` uses). Then,
per storage (round robin, so that all see the same load on a shared machine), the median time
of:

* ``ask`` with one sampler kept for the whole run (standalone Optuna's ``study.optimize``);
* ``ask`` with a new seeded sampler per ask (what ``OptimizerOptuna._ask`` does), and that plus
  the two trial user attributes hpqueue writes per trial (owner, job id);
* ``tell`` (complete, with a value);
* one report as the controller handles it (``OptimizerOptuna.on_trial_result``: ``get_trial``,
  ``set_trial_intermediate_value``, ``get_trial`` again, the pruner) against ``trial.report``;

and, for Redis, the round trips each makes (redis-py's ``send_packed_command`` calls). The sampler
is the one ``OptimizerOptuna`` builds: ``TPESampler(multivariate=True, constant_liar=True)``. Each
round asks three times (one per variant) and tells each trial complete, so the history grows as in
a run: from ``--trials`` to ``--trials`` + 3 x ``--asks``.

A second table times ``OptimizerOptuna`` itself, as the controller drives it (the same history in
a study of its own, ``bench/realwork.py``'s space): ``suggest`` + ``on_trial_start`` (the ask and
the trial's two user attributes), ``on_trial_result`` with a ``NopPruner`` (``hpq-tpe``'s) and
with a ``MedianPruner(n_startup_trials=5)`` (Optuna's default), and ``on_trial_complete`` (the
tell) -- in memory, on Optuna's ``JournalRedisBackend``, and on the storage ``OptimizerOptuna``
builds for a Redis URL (``redis_journal_storage``).
"""

from __future__ import annotations

import argparse
import datetime
import os
import statistics
import sys
import tempfile
import time
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import numpy as np
import optuna
from optuna.distributions import CategoricalDistribution, FloatDistribution

from bench.overhead import RedisServer, RoundTrips, _version, machine
from bench.realwork import hpq_space
from bench.realwork_trial import ALPHA_RANGE, BATCH_SIZES, EPOCHS, HIDDEN, LR_RANGE
from bench.sections import write_section

RESULTS_FILE = ROOT / "bench" / "RESULTS.md"
SECTION = "## TPE: ask() and reports by Optuna storage"
OPTUNA_REDIS = "journal on Redis, Optuna's backend"
HPQ_REDIS = "redis_journal_storage"
STRATEGY_CAPTION = (f"OptimizerOptuna's operations ({HPQ_REDIS}: the storage it builds for a "
                    "Redis URL; its own study, the same history, grows by --asks):")

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


def _timed(trips: RoundTrips, fn: Callable[..., Any], *args: Any) -> tuple[float, int, Any]:
    """(seconds, Redis round trips, result) of ``fn(*args)``."""
    before = trips.count
    t = time.perf_counter()
    out = fn(*args)
    return time.perf_counter() - t, trips.count - before, out


class StorageBench:
    """The operations on one storage's study (see the module docstring), one round at a time."""

    def __init__(self, storage: optuna.storages.BaseStorage,
                 trials: list[optuna.trial.FrozenTrial], trips: RoundTrips) -> None:
        self.storage = storage
        self.trips = trips
        self.study = optuna.create_study(storage=storage, sampler=_sampler(0),
                                         study_name="ask-bench",
                                         pruner=optuna.pruners.NopPruner())
        self.study.add_trials(trials)
        self.running = self.study.ask(DISTRIBUTIONS)  # the other worker's, running all along
        self.kept = _sampler(0)
        self.rng = np.random.default_rng(1)
        self.samples: dict[str, list[tuple[float, int]]] = {}

    def _note(self, what: str, fn: Callable[..., Any], *args: Any) -> Any:
        seconds, count, out = _timed(self.trips, fn, *args)
        self.samples.setdefault(what, []).append((seconds * 1000, count))
        return out

    def _hpqueue_ask(self, job: str) -> optuna.Trial:
        trial = self.study.ask(DISTRIBUTIONS)
        trial.set_user_attr("hpqueue_owner", "0123456789abcdef")
        self.storage.set_trial_user_attr(trial._trial_id, "hpqueue_job_id", job)
        return trial

    def round(self, i: int) -> None:
        """Each ask variant once, each followed by two reports of each kind and a tell."""
        study = self.study
        for variant in ("kept", "rebuilt", "rebuilt+attrs"):
            if variant == "kept":
                study.sampler = self.kept
            else:  # as OptimizerOptuna._ask: a new sampler seeded from (seed, trial number)
                number = len(study.get_trials(deepcopy=False))
                study.sampler = _sampler(int(np.random.SeedSequence([0, number])
                                             .generate_state(1)[0]))
            if variant == "rebuilt+attrs":
                trial = self._note(f"ask, sampler {variant}", self._hpqueue_ask, f"job{i}")
            else:
                trial = self._note(f"ask, sampler {variant}", study.ask, DISTRIBUTIONS)
            for epoch in (1, 2):
                self._note("report, trial.report", trial.report,
                           float(self.rng.uniform(0.02, 1)), epoch)
            for epoch in (3, 4):
                self._note("report, hpqueue's controller", _controller_report, study,
                           trial._trial_id, epoch, float(self.rng.uniform(0.02, 1)))
            self._note("tell", study.tell, trial, float(self.rng.uniform(0.02, 0.3)))

    def medians(self) -> dict[str, tuple[float, float]]:
        """Median ms and median round trips of each operation."""
        self.study.tell(self.running, 0.5)
        return {what: (statistics.median(s for s, _ in rows),
                       statistics.median(c for _, c in rows))
                for what, rows in self.samples.items()}


def _controller_report(study: optuna.Study, trial_id: int, step: int, value: float) -> None:
    """What ``OptimizerOptuna.on_trial_result`` does with one report (NopPruner)."""
    storage = study._storage
    frozen = storage.get_trial(trial_id)
    if step not in frozen.intermediate_values:
        storage.set_trial_intermediate_value(trial_id, step, value)
        frozen = storage.get_trial(trial_id)
    study.pruner.prune(study, frozen)


class StrategyBench:
    """``OptimizerOptuna``'s own operations on one storage (see the module docstring)."""

    def __init__(self, storage: optuna.storages.BaseStorage,
                 trials: list[optuna.trial.FrozenTrial], trips: RoundTrips) -> None:
        from controller import Objective, OptimizerOptuna

        def strategy(name: str, pruner: optuna.pruners.BasePruner) -> OptimizerOptuna:
            made = OptimizerOptuna(hyper_parameters=hpq_space(), seed=0,
                                   objective_metric=Objective("validation", "error", "min"),
                                   optuna_storage=storage, study_name=name, optuna_pruner=pruner)
            made.study.add_trials([_renamed(t, made) for t in trials])
            return made

        self.trips = trips
        self.nop = strategy("strategy-nop", optuna.pruners.NopPruner())
        self.median = strategy("strategy-median", optuna.pruners.MedianPruner(n_startup_trials=5))
        self.rng = np.random.default_rng(2)
        self.samples: dict[str, list[tuple[float, int]]] = {}

    def _note(self, what: str, fn: Callable[..., Any], *args: Any) -> Any:
        seconds, count, out = _timed(self.trips, fn, *args)
        self.samples.setdefault(what, []).append((seconds * 1000, count))
        return out

    def round(self, i: int) -> None:
        """One trial on each strategy: started, two reports, completed."""
        from controller.strategies.base import Trial

        for name, strategy in (("NopPruner", self.nop), ("MedianPruner", self.median)):
            job = f"{name}-{i}"
            mine = name == "NopPruner"
            suggestion = (self._note("suggest + on_trial_start", _start, strategy, job) if mine
                          else _start(strategy, job))
            for epoch in (1, 2):
                self._note(f"on_trial_result, {name}", strategy.on_trial_result, job, epoch,
                           float(self.rng.uniform(0.02, 1)))
            done = Trial(job, suggestion.parameters, suggestion.meta, "completed",
                         float(self.rng.uniform(0.02, 0.3)), EPOCHS)
            if mine:
                self._note("on_trial_complete", strategy.on_trial_complete, done)
            else:
                strategy.on_trial_complete(done)

    def medians(self) -> dict[str, tuple[float, float]]:
        return {what: (statistics.median(s for s, _ in rows),
                       statistics.median(c for _, c in rows))
                for what, rows in self.samples.items()}


def _start(strategy: Any, job: str) -> Any:
    suggestion = strategy.suggest()
    strategy.on_trial_start(job, suggestion)
    return suggestion


def _renamed(trial: optuna.trial.FrozenTrial, strategy: Any) -> optuna.trial.FrozenTrial:
    """``trial`` in ``strategy``'s study: its parameters named and encoded as the strategy's."""
    codecs = {c.name.split("/")[1]: c for c in strategy._codecs}
    params = {codecs[k].name: codecs[k].encode(int(v) if k == "batch_size" else v)
              for k, v in trial.params.items()}
    return optuna.trial.create_trial(
        params=params, distributions={c.name: c.distribution for c in codecs.values()},
        value=trial.value, intermediate_values=trial.intermediate_values)


def format_table(results: dict[str, dict[str, tuple[float, float]]],
                 trips_of: Sequence[str] = ("journal on Redis",),
                 what: str = "operation (median)") -> str:
    """One row per operation (the first column is headed ``what``), one column per storage, and
    the Redis round trips of the storages ``trips_of``."""
    operations = list(next(iter(results.values())))
    trip_heads = (["Redis round trips"] if len(trips_of) == 1
                  else [f"round trips, {s}" for s in trips_of])
    head = [what, *results, *trip_heads]
    lines = ["| " + " | ".join(head) + " |", "|" + "|".join("---" for _ in head) + "|"]
    for op in operations:
        cells = [f"{results[s][op][0]:.2f} ms" for s in results]
        cells += [f"{results[s][op][1]:g}" for s in trips_of]
        lines.append(f"| {op} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    p = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    p.add_argument("--trials", type=int, default=450, help="finished trials in the study")
    p.add_argument("--asks", type=int, default=100, help="asks per variant and storage")
    p.add_argument("--results", type=Path, default=RESULTS_FILE,
                   help="Markdown file to write the section into (default bench/RESULTS.md)")
    p.add_argument("--no-write", action="store_true", help="print only")
    args = p.parse_args(argv)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
    from optuna.storages import InMemoryStorage, JournalStorage
    from optuna.storages.journal import JournalFileBackend, JournalRedisBackend

    from controller.strategies.optuna_search import redis_journal_storage

    trials = history(args.trials)
    load_before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory() as tmp:
        server = RedisServer(Path(tmp))
        try:
            with RoundTrips() as trips:  # only the Redis journal makes round trips
                benches = {
                    "in memory": StorageBench(InMemoryStorage(), trials, trips),
                    "journal file": StorageBench(JournalStorage(JournalFileBackend(
                        str(Path(tmp) / "journal.log"))), trials, trips),
                    "journal on Redis": StorageBench(
                        JournalStorage(JournalRedisBackend(server.url)), trials, trips)}
                strategies = {
                    "in memory": StrategyBench(InMemoryStorage(), trials, trips),
                    OPTUNA_REDIS: StrategyBench(JournalStorage(JournalRedisBackend(
                        server.url, prefix="strategy")), trials, trips),
                    HPQ_REDIS: StrategyBench(redis_journal_storage(server.url, prefix="hpq"),
                                             trials, trips)}
                rounds = [*benches.values(), *strategies.values()]
                for i in range(args.asks):  # round robin: every storage sees the same load
                    for bench in rounds:
                        bench.round(i)
                results = {name: bench.medians() for name, bench in benches.items()}
                by_strategy = {name: bench.medians() for name, bench in strategies.items()}
        finally:
            server.stop()
    what = (f"{args.trials} finished trials with {EPOCHS} intermediate values each (growing "
            f"to {args.trials + 3 * args.asks}), one running; {args.asks} asks per variant")
    table = (format_table(results) + "\n\n" + STRATEGY_CAPTION + "\n\n"
             + format_table(by_strategy, (OPTUNA_REDIS, HPQ_REDIS),
                            "OptimizerOptuna's operation (median)"))
    print(f"{what}\n\n{table}")
    if not args.no_write:
        date = datetime.datetime.now().astimezone().strftime("%Y-%m-%d")
        command = "python bench/tpe_ask.py" + ("" if not argv else " " + " ".join(argv))
        where = (f"{machine(server.version)}, optuna {_version('optuna')}; shared (load average "
                 f"{load_before:.1f} before, {os.getloadavg()[0]:.1f} after)")
        write_section(args.results, "\n".join([
            SECTION, "", f"- Date: {date}", f"- Command: `{command}`", f"- Machine: {where}",
            f"- {what}; what each row is: the docstring of `bench/tpe_ask.py`", "", table]))
        print(f"written to {args.results}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
