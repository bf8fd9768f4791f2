"""How good are the searches? Median best regret against compute used, over seeds.

Usage (from the repository root, in the venv)::

    python bench/search_quality.py [--seeds 20] [--quick] [--jobs N] [--strategies a,b]
                                   [--no-write]

Benchmarks (see :mod:`bench.functions`):

* **Hartmann6**, single fidelity: a budget of ``N`` full evaluations (100; 30 with ``--quick``),
  each one simulated second, on 4 workers. Only the single-fidelity strategies run here:
  Hyperband, ASHA and BOHB need a fidelity to trade, and without one they reduce to random search.
* **MF-Branin** (Kandasamy et al. 2017), a learning curve over ``General/epochs`` = 1..81
  (fidelity ``z = epochs / 81``) with the runtime model ``(0.05 + 0.95 z**1.5) * 3600 s``: a
  compute budget equal to ``N`` full-fidelity evaluations (what Random uses), on 4 workers. The
  single-fidelity strategies evaluate at full fidelity; Hyperband, ASHA and BOHB pass the
  resource in ``General/epochs`` and continue promoted trials from their checkpoint
  (``resume=True``: only the extra epochs are paid for, plus the 5 % start-up cost).

Every strategy runs through the real Scheduler in simulated time (:func:`controller.simulate.
simulate`), except the standalone Optuna baselines, which are plain Optuna studies on the same
function and budget: ``study.optimize(n_trials=N)`` (sequential) and an ask/tell loop that
emulates 4 workers with the same event order as the Scheduler (ask 4; then tell the oldest and ask
one more). Both use the sampler OptimizerOptuna uses by default (``TPESampler(multivariate=True,
constant_liar=True)``), so the comparison isolates the integration.

Regret is ``f(x, z=1) - f*`` of the incumbent, the best configuration *evaluated at full
fidelity* so far (a configuration seen only at low fidelity does not count, as in hpbandster's
incumbent at the largest budget). Compute is the summed run time of all trials (running ones
included) when the result is known, as a fraction of the budget.

Output: a table on stdout, ``bench/RESULTS.md`` (section "Search quality", replaced in place) and
``bench/search_quality.png``.

Targets (from the issue; checked and printed): our TPE within the noise of standalone Optuna TPE
(two-sided rank-sum permutation test on the final regrets, p >= 0.05); Hyperband, ASHA and BOHB
reach Random's final median regret on MF-Branin with at most a fifth of its compute. ``--quick``
(30 evaluations, 3 seeds) only checks that everything runs: at that budget a fifth of the compute
is less than one Hyperband bracket.

GP-BO (BayesianGP) is opt-in (``--strategies random,tpe,gp``): about 100 s per Hartmann6 run on
a 2-core machine.
"""

from __future__ import annotations

import argparse
import datetime
import math
import os
import platform
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import numpy as np

from bench.functions import (
    RESOURCE,
    RUNTIME_FACTOR,
    LearningCurveModel,
    Problem,
    SingleFidelityModel,
    hartmann6_problem,
    mf_branin_problem,
)
from bench.sections import write_section

BENCH_DIR = Path(__file__).resolve().parent
MAX_EPOCHS = 81
WORKERS = 4
FULL_EVALUATIONS = {"Hartmann6": 100, "MF-Branin": 100}
QUICK_EVALUATIONS = {"Hartmann6": 30, "MF-Branin": 30}
FRACTIONS = (0.05, 0.1, 0.2, 0.5, 1.0)
MF_TARGET = 0.2  # reach Random's final median regret with at most this fraction of its compute
GRID = np.unique(np.concatenate([np.geomspace(1e-3, 1.0, 600), FRACTIONS]))
SECTION = "## Search quality"


# ---------------------------------------------------------------------- strategies
@dataclass(frozen=True)
class Spec:
    """One line of the comparison."""

    key: str
    label: str
    benchmarks: tuple[str, ...]
    kind: str = "simulate"  # or "optuna-sequential", "optuna-emulated"
    workers: int = WORKERS
    default: bool = True  # part of the default run (else only with --strategies)
    quick: bool = True  # part of --quick


def _make(key: str, problem: Problem, seed: int) -> Any:
    """The strategy object of ``key`` for ``problem`` (imports on demand)."""
    space = list(problem.hyper_parameters)
    common = {"hyper_parameters": space, "seed": seed}
    mf = {"resource": RESOURCE, "resume": True}
    if key == "random":
        from controller.strategies.grid_random import RandomSearch
        return RandomSearch(**common)
    if key in ("tpe", "tpe1"):
        import optuna

        from controller.strategies.optuna_search import OptimizerOptuna
        optuna.logging.set_verbosity(optuna.logging.WARNING)
        return OptimizerOptuna(**common, optuna_pruner=optuna.pruners.NopPruner())
    if key == "hyperband":
        from controller.strategies.hyperband import Hyperband
        return Hyperband(**common, **mf, max_iterations=MAX_EPOCHS, eta=3)
    if key == "asha":
        from controller.strategies.asha import ASHA
        return ASHA(**common, **mf, min_resource=1, max_resource=MAX_EPOCHS, reduction_factor=3)
    if key == "bohb":
        from controller.strategies.bohb import OptimizerBOHB
        # total_max_jobs: brackets repeat until the compute budget ends the run
        return OptimizerBOHB(**common, **mf, min_budget=1, max_budget=MAX_EPOCHS, eta=3,
                             total_max_jobs=10 ** 6)
    if key == "gp":
        from controller.strategies.bayes_gp import BayesianGP
        return BayesianGP(**common, num_initial_runs=10, max_iterations=10 ** 4)
    raise ValueError(f"unknown strategy {key!r}")


BOTH = ("Hartmann6", "MF-Branin")
SPECS = (
    Spec("random", "Random", BOTH),
    Spec("tpe", "TPE (ours, 4 workers)", BOTH),
    Spec("optuna4", "Optuna TPE standalone (4-worker emulation)", BOTH, "optuna-emulated"),
    Spec("tpe1", "TPE (ours, 1 worker)", BOTH, workers=1),
    Spec("optuna", "Optuna TPE standalone (sequential)", BOTH, "optuna-sequential", workers=1),
    Spec("hyperband", "Hyperband", ("MF-Branin",)),
    Spec("asha", "ASHA", ("MF-Branin",)),
    Spec("bohb", "BOHB", ("MF-Branin",)),
    # ~100 s per Hartmann6 run on a 2-core machine: opt-in (--strategies ...,gp)
    Spec("gp", "GP-BO (BayesianGP)", BOTH, default=False, quick=False),
)
SPEC = {s.key: s for s in SPECS}
PROBLEMS: dict[str, Callable[[], Problem]] = {"Hartmann6": hartmann6_problem,
                                               "MF-Branin": mf_branin_problem}


# ---------------------------------------------------------------------- one run
@dataclass
class Run:
    """One (benchmark, strategy, seed): the incumbent's regret after each improvement, against
    compute as a fraction of the budget."""

    benchmark: str
    key: str
    seed: int
    compute: list[float]
    regret: list[float]
    jobs: int
    full: int
    used: float  # compute used at the end, fraction of the budget
    wall: float
    reason: str

    def at(self, fractions: np.ndarray) -> np.ndarray:
        """Best regret known at each compute fraction (inf before the first result)."""
        out = np.full(len(fractions), np.inf)
        if self.compute:
            idx = np.searchsorted(np.asarray(self.compute), fractions, side="right") - 1
            ok = idx >= 0
            out[ok] = np.asarray(self.regret)[idx[ok]]
        return out


def _steps(events: Iterable[tuple[float, float]]) -> tuple[list[float], list[float]]:
    """Best-so-far steps of (compute, regret) events."""
    compute, regret, best = [], [], math.inf
    for c, r in sorted(events):
        if r < best:
            best = r
            compute.append(c)
            regret.append(r)
    return compute, regret


def _run_simulated(benchmark: str, spec: Spec, seed: int, evaluations: int) -> Run:
    from controller.simulate import simulate

    problem = PROBLEMS[benchmark]()
    strategy = _make(spec.key, problem, seed)
    if problem.multi_fidelity:
        model: Any = LearningCurveModel(problem, max_resource=MAX_EPOCHS)
        unit = RUNTIME_FACTOR  # one full-fidelity evaluation
        limits = {"compute_time_limit": evaluations * unit / 60.0}
    else:
        model = SingleFidelityModel(problem, runtime=1.0)
        unit = 1.0
        limits = {"total_max_jobs": evaluations}
    budget = evaluations * unit
    start = time.perf_counter()
    result = simulate(strategy, model, workers=spec.workers, **limits)
    wall = time.perf_counter() - start
    jobs = [j for j in result.jobs if j.started_at is not None]
    starts = np.array([j.started_at for j in jobs])
    lengths = np.array([j.run_seconds(result.time) for j in jobs])
    events, full = [], 0
    for job in result.jobs:
        iteration = job.objective_iteration()
        value = job.stats[0].last if job.stats else None
        at_full = iteration is not None and (not problem.multi_fidelity
                                             or iteration >= MAX_EPOCHS)
        if job.ended_at is None or not at_full or value is None or math.isnan(value):
            continue
        full += 1
        used = float(np.clip(job.ended_at - starts, 0.0, lengths).sum())
        events.append((used / budget, problem.regret(job.parameters)))
    compute, regret = _steps(events)
    return Run(benchmark, spec.key, seed, compute, regret, len(result.jobs), full,
               result.compute / budget, wall, result.reason)


def _run_optuna(benchmark: str, spec: Spec, seed: int, evaluations: int) -> Run:
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    problem = PROBLEMS[benchmark]()
    names = [p.name for p in problem.hyper_parameters]
    bounds = [(p.min_value, p.max_value) for p in problem.hyper_parameters]  # type: ignore

    def objective(trial: optuna.Trial) -> float:
        params = {n: trial.suggest_float(n, lo, hi) for n, (lo, hi) in zip(names, bounds)}
        return problem.value(params, 1.0)

    sampler = optuna.samplers.TPESampler(seed=seed, multivariate=True, constant_liar=True)
    study = optuna.create_study(sampler=sampler)
    start = time.perf_counter()
    events = []
    if spec.kind == "optuna-sequential":
        study.optimize(objective, n_trials=evaluations)
        for k, t in enumerate(study.trials, 1):
            events.append((k / evaluations, problem.regret(t.params)))
    else:  # 4 workers, constant run time: the Scheduler's event order
        # distributions given to ask(): the parameters are drawn at ask time, while the other
        # trials run (define-by-run suggest_float calls would draw them at tell time)
        space = {n: optuna.distributions.FloatDistribution(lo, hi)
                 for n, (lo, hi) in zip(names, bounds)}
        running = [study.ask(space) for _ in range(min(WORKERS, evaluations))]
        asked, told = len(running), 0
        while running:
            trial = running.pop(0)
            study.tell(trial, problem.value(trial.params, 1.0))
            told += 1
            # the k-th result is known at time ceil(k / 4), when 4 trials ran that long
            used = min(WORKERS * math.ceil(told / WORKERS), evaluations)
            events.append((used / evaluations, problem.regret(trial.params)))
            if asked < evaluations:
                running.append(study.ask(space))
                asked += 1
    wall = time.perf_counter() - start
    compute, regret = _steps(events)
    return Run(benchmark, spec.key, seed, compute, regret, evaluations, evaluations, 1.0, wall,
               "n_trials reached")


def run_one(benchmark: str, key: str, seed: int, evaluations: int) -> Run:
    """One run of strategy ``key`` on ``benchmark`` with ``seed`` and a budget of
    ``evaluations`` full evaluations."""
    spec = SPEC[key]
    if spec.kind == "simulate":
        return _run_simulated(benchmark, spec, seed, evaluations)
    return _run_optuna(benchmark, spec, seed, evaluations)


def _run_packed(args: tuple[str, str, int, int]) -> Run:
    return run_one(*args)


def run_benchmarks(seeds: int, evaluations: dict[str, int], keys: Sequence[str] | None = None,
                   jobs: int = 1, log: Callable[[str], None] | None = None) -> list[Run]:
    """Every (benchmark, strategy, seed) run; ``jobs`` > 1 runs them in processes."""
    keys = list(keys) if keys is not None else [s.key for s in SPECS]
    tasks = [(b, k, seed, evaluations[b]) for b in evaluations for k in keys
             if b in SPEC[k].benchmarks for seed in range(seeds)]
    runs: list[Run] = []
    if jobs > 1:
        with ProcessPoolExecutor(max_workers=jobs) as pool:
            for run in pool.map(_run_packed, tasks):
                runs.append(run)
                if log:
                    log(f"{run.benchmark:9} {SPEC[run.key].label:45} seed {run.seed:2}: "
                        f"{run.wall:6.2f} s")
    else:
        for task in tasks:
            run = run_one(*task)
            runs.append(run)
            if log:
                log(f"{run.benchmark:9} {SPEC[run.key].label:45} seed {run.seed:2}: "
                    f"{run.wall:6.2f} s")
    return runs


# ---------------------------------------------------------------------- summary
@dataclass
class Line:
    """One strategy on one benchmark, over the seeds."""

    benchmark: str
    key: str
    curves: np.ndarray  # (seeds, len(GRID)) best regret on the compute grid
    final: np.ndarray   # best regret at the end of the budget, per seed
    jobs: float
    full: float
    used: float
    wall: float

    @property
    def label(self) -> str:
        return SPEC[self.key].label

    def median(self) -> np.ndarray:
        return _quantile(self.curves, 0.5)

    def quantile(self, q: float) -> np.ndarray:
        return _quantile(self.curves, q)

    def at(self, fraction: float) -> float:
        return float(self.median()[np.searchsorted(GRID, fraction - 1e-12)])

    def to_reach(self, target: float) -> float:
        """Smallest compute fraction where the median regret is <= ``target`` (inf if never)."""
        ok = np.nonzero(self.median() <= target)[0]
        return float(GRID[ok[0]]) if len(ok) else math.inf


def _quantile(values: np.ndarray, q: float | Sequence[float]) -> np.ndarray:
    """Quantiles over the seeds (axis 0); ``inf`` (no full-fidelity result yet) sorts last, and
    a quantile that reaches into the ``inf`` runs is ``inf``."""
    big = 1e300
    out = np.quantile(np.where(np.isinf(values), big, values), q, axis=0)
    return np.where(out >= big * 1e-3, np.inf, out)


def summarize(runs: Sequence[Run]) -> dict[str, list[Line]]:
    """Lines per benchmark, in SPECS order."""
    out: dict[str, list[Line]] = {}
    for benchmark in dict.fromkeys(r.benchmark for r in runs):
        lines = []
        for spec in SPECS:
            mine = [r for r in runs if r.benchmark == benchmark and r.key == spec.key]
            if not mine:
                continue
            curves = np.array([r.at(GRID) for r in mine])
            lines.append(Line(benchmark, spec.key, curves, curves[:, -1],
                              float(np.median([r.jobs for r in mine])),
                              float(np.median([r.full for r in mine])),
                              float(np.median([r.used for r in mine])),
                              float(np.sum([r.wall for r in mine]))))
        out[benchmark] = lines
    return out


def rank_sum_p(a: np.ndarray, b: np.ndarray, rounds: int = 20000, seed: int = 0) -> float:
    """Two-sided permutation p-value of the Mann-Whitney rank sum of ``a`` against ``b``."""
    both = np.concatenate([a, b])
    ranks = np.argsort(np.argsort(both, kind="stable"), kind="stable").astype(float)
    for v in np.unique(both):  # mid-ranks for ties
        ranks[both == v] = ranks[both == v].mean()
    expected = ranks.mean() * len(a)
    observed = abs(ranks[:len(a)].sum() - expected)
    rng = np.random.default_rng(seed)
    perms = np.argsort(rng.random((rounds, len(both))), axis=1)[:, :len(a)]
    stats = np.abs(ranks[perms].sum(axis=1) - expected)
    return float((np.sum(stats >= observed - 1e-9) + 1) / (rounds + 1))


def _fmt(x: float) -> str:
    if math.isinf(x):
        return "—"
    if x == 0:
        return "0"
    return f"{x:.2e}" if x < 1e-2 else f"{x:.3f}"


def _frac(x: float) -> str:
    return "not reached" if math.isinf(x) else f"{x:.3f}"


@dataclass
class Verdict:
    text: str
    met: bool | None


def _iqr(values: np.ndarray) -> str:
    q1, q3 = _quantile(values, [0.25, 0.75])
    return f"{_fmt(float(q1))} – {_fmt(float(q3))}"


def verdicts(summary: dict[str, list[Line]]) -> list[Verdict]:
    """The issue's targets, checked."""
    out: list[Verdict] = []
    for benchmark, lines in summary.items():
        by = {line.key: line for line in lines}
        for ours, theirs in (("tpe", "optuna4"), ("tpe1", "optuna")):
            if ours in by and theirs in by:
                a, b = by[ours].final, by[theirs].final
                p = rank_sum_p(a, b)
                out.append(Verdict(
                    f"{benchmark}: {by[ours].label} vs {by[theirs].label}: final median regret "
                    f"{_fmt(float(np.median(a)))} (IQR {_iqr(a)}) vs "
                    f"{_fmt(float(np.median(b)))} (IQR {_iqr(b)}); rank-sum permutation "
                    f"p = {p:.2f} over {len(a)} seeds -> "
                    f"{'within the noise' if p >= 0.05 else 'DIFFERENT'} (p >= 0.05)",
                    p >= 0.05))
        if benchmark == "MF-Branin" and "random" in by:
            target = float(np.median(by["random"].final))
            for key in ("hyperband", "asha", "bohb"):
                if key in by:
                    line = by[key]
                    need = line.to_reach(target)
                    k = int(np.sum(line.curves[:, np.searchsorted(GRID, MF_TARGET)] <= target))
                    out.append(Verdict(
                        f"{benchmark}: {line.label} reaches Random's final median regret "
                        f"({_fmt(target)}) with {_frac(need)} of Random's compute (target <= "
                        f"{MF_TARGET}) -> {'met' if need <= MF_TARGET else 'NOT met'}; "
                        f"{k} of {len(line.final)} seeds individually reach it within "
                        f"{MF_TARGET}", need <= MF_TARGET))
    return out


def format_table(summary: dict[str, list[Line]]) -> str:
    """Markdown tables, one per benchmark."""
    parts = []
    for benchmark, lines in summary.items():
        random_final = next((float(np.median(line.final)) for line in lines
                             if line.key == "random"), None)
        seeds = len(lines[0].final) if lines else 0
        head = ["strategy", *[f"{int(f * 100)} %" for f in FRACTIONS], "IQR at 100 %",
                "compute to reach Random's final", "compute used", "jobs",
                "full-fidelity evals", "run time s (sum)"]
        title = (f"**{benchmark}** — median best regret over {seeds} seeds at a fraction of "
                 f"the compute budget")
        rows = [title, "", "| " + " | ".join(head) + " |",
                "|" + "|".join("---" for _ in head) + "|"]
        for line in lines:
            reach = _frac(line.to_reach(random_final)) if random_final is not None else "—"
            cells = [line.label, *[_fmt(line.at(f)) for f in FRACTIONS],
                     _iqr(line.final), reach, f"{line.used:.2f}",
                     f"{line.jobs:.0f}",
                     f"{line.full:.0f}", f"{line.wall:.1f}"]
            rows.append("| " + " | ".join(cells) + " |")
        parts.append("\n".join(rows))
    return "\n\n".join(parts)


# ---------------------------------------------------------------------- plot
def plot(summary: dict[str, list[Line]], path: Path) -> bool:
    """Median regret (IQR shaded) vs compute, log-y, one panel per benchmark; False without
    matplotlib."""
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    fig, axes = plt.subplots(1, len(summary), figsize=(6.5 * len(summary), 4.8), squeeze=False)
    styles = {"random": ("black", "-"), "tpe": ("tab:blue", "-"),
              "optuna4": ("tab:blue", "--"), "tpe1": ("tab:cyan", "-"),
              "optuna": ("tab:cyan", "--"), "hyperband": ("tab:orange", "-"),
              "asha": ("tab:green", "-"), "bohb": ("tab:red", "-"), "gp": ("tab:purple", "-")}
    for ax, (benchmark, lines) in zip(axes[0], summary.items()):
        for line in lines:
            color, dash = styles.get(line.key, (None, "-"))
            med = line.median()
            ok = np.isfinite(med)
            floor = 1e-6
            ax.plot(GRID[ok], np.maximum(med[ok], floor), dash, color=color, label=line.label,
                    lw=1.6)
            lo, hi = line.quantile(0.25), line.quantile(0.75)
            band = np.isfinite(lo) & np.isfinite(hi)
            ax.fill_between(GRID[band], np.maximum(lo[band], floor),
                            np.maximum(hi[band], floor), color=color, alpha=0.08)
            if line.key == "random":
                ax.axhline(max(float(np.median(line.final)), floor), color="black", lw=0.6,
                           ls=":")
        if benchmark == "MF-Branin":
            ax.axvline(MF_TARGET, color="grey", lw=0.6, ls=":")
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlim(GRID[0] * 10, 1.0)
        ax.set_xlabel("compute used (fraction of the budget)")
        ax.set_ylabel("median best regret (IQR shaded)")
        ax.set_title(f"{benchmark} ({len(lines[0].final)} seeds)")
        ax.grid(True, which="both", alpha=0.2)
        ax.legend(fontsize=7, loc="lower left")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return True


# ---------------------------------------------------------------------- results file
def machine_info() -> str:
    cpu = platform.processor() or "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    import optuna

    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    return (f"{platform.system()} {platform.release()}, {cpu}, {os.cpu_count()} CPUs "
            f"(load average {load:.1f} at the end of the run), Python "
            f"{platform.python_version()}, numpy {np.__version__}, optuna {optuna.__version__}")


NOTES = (
    ("MF-Branin: fidelity z = epochs / 81 (epochs 1..81; rungs 1, 3, 9, 27, 81 with eta = 3), "
     "runtime (0.05 + 0.95 z^1.5) × 3600 s; promoted trials continue from their checkpoint; "
     "Random and the TPEs evaluate at full fidelity. Hyperband, ASHA and BOHB do not run on the "
     "single-fidelity Hartmann6."),
    ("Regret = f(x, z=1) − f* of the best configuration evaluated *at full fidelity* so far. "
     "Compute = summed trial run time (running trials included), as a fraction of the budget. "
     "Columns 5 % … 100 %: median over the seeds at that much compute (— = no full-fidelity "
     "result yet in half of the seeds or more). \"compute to reach\": first compute fraction "
     "where the median curve is at or below Random's final median. \"compute used\": median "
     "fraction used when the strategy ended."),
    ("MF-Branin property worth knowing: at every z < 1 its three minima have equal depth and "
     "are displaced (at z = 1/81 they sit at regret 0.166, 0.045 and 0.003 of the z = 1 "
     "function), so low-fidelity rungs cannot tell the basins apart: the multi-fidelity "
     "strategies gain early and then level off, while full-fidelity model-based search keeps "
     "improving. Hyperband runs one round of brackets (Polyaxon's semantics) and then ends; "
     "BOHB repeats brackets until the budget is used."),
    ("jobs, full-fidelity evals: medians per run; run time: wall-clock seconds of the runs, "
     "summed (simulation and strategy cost, not simulated time)."),
    ("Standalone Optuna: plain Optuna studies with OptimizerOptuna's default sampler "
     "(`TPESampler(multivariate=True, constant_liar=True)`) on the same functions and budgets: "
     "`study.optimize(n_trials=N)` (sequential), and an ask/tell loop emulating 4 workers with "
     "the Scheduler's event order (ask 4, then tell the oldest and ask one)."),
)


def report(summary: dict[str, list[Line]], command: str, seconds: float, jobs: int,
           evaluations: dict[str, int], png: str | None) -> str:
    """The "Search quality" section of RESULTS.md."""
    plural = "es" if jobs > 1 else ""
    budgets = ", ".join(f"{b}: {n} full evaluations" for b, n in evaluations.items())
    lines = [
        SECTION, "",
        f"- Date: {datetime.date.today().isoformat()}",
        f"- Command: `{command}` ({seconds:.0f} s wall clock, {jobs} process{plural})",
        f"- Machine: {machine_info()}",
        f"- Budgets: {budgets}; {WORKERS} workers in simulated time (`controller.simulate`)",
        *[f"- {note}" for note in NOTES], "",
        format_table(summary), "",
        "Targets (checked by the script):", "",
        *[f"- {c.text}" for c in verdicts(summary)], "",
    ]
    if png:
        lines += [f"![median regret vs compute]({png})", ""]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, default=None,
                        help="seeds per strategy (default 20; 3 with --quick)")
    parser.add_argument("--quick", action="store_true",
                        help="small budgets and 3 seeds (under a minute)")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1,
                        help="processes (default: one per CPU)")
    parser.add_argument("--strategies", default=None,
                        help=f"comma-separated subset of {','.join(SPEC)} (default: all but "
                             f"gp, which is slow)")
    parser.add_argument("--no-write", action="store_true",
                        help="print only; do not touch RESULTS.md and the PNG")
    args = parser.parse_args(argv)
    seeds = args.seeds if args.seeds is not None else (3 if args.quick else 20)
    evaluations = dict(QUICK_EVALUATIONS if args.quick else FULL_EVALUATIONS)
    keys = (args.strategies.split(",") if args.strategies
            else [s.key for s in SPECS if s.default and (s.quick or not args.quick)])
    unknown = [k for k in keys if k not in SPEC]
    if unknown:
        parser.error(f"unknown strategies {unknown}; known: {', '.join(SPEC)}")
    start = time.perf_counter()
    runs = run_benchmarks(seeds, evaluations, keys, args.jobs,
                          log=lambda s: print(s, file=sys.stderr, flush=True))
    seconds = time.perf_counter() - start
    summary = summarize(runs)
    print(format_table(summary))
    print()
    for check in verdicts(summary):
        print("-", check.text)
    if args.quick:
        print("(--quick is a smoke run: the targets are defined for the full budgets)")
    if not args.no_write:
        command = "python bench/search_quality.py" + "".join(
            f" {a}" for a in (argv if argv is not None else sys.argv[1:]))
        png = BENCH_DIR / "search_quality.png"
        drawn = plot(summary, png)
        body = report(summary, command, seconds, args.jobs, evaluations,
                      png.name if drawn else None)
        write_section(BENCH_DIR / "RESULTS.md", body)
        print(f"\nwrote {BENCH_DIR / 'RESULTS.md'}" + (f" and {png}" if drawn else
                                                       " (no matplotlib: no plot)"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
