"""The search-quality benchmark itself works (tiny budgets; no quality assertions)."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from bench import search_quality as sq
from bench.functions import (
    BRANIN_ARGMIN,
    BRANIN_MIN,
    HARTMANN6_ARGMIN,
    HARTMANN6_MIN,
    RESOURCE,
    LearningCurveModel,
    SingleFidelityModel,
    branin_runtime,
    hartmann6,
    hartmann6_problem,
    mf_branin,
    mf_branin_problem,
)


def test_functions_minima() -> None:
    assert hartmann6(HARTMANN6_ARGMIN) == pytest.approx(HARTMANN6_MIN, abs=1e-5)
    for x1, x2 in BRANIN_ARGMIN:
        assert mf_branin(x1, x2, 1.0) == pytest.approx(BRANIN_MIN, abs=1e-6)
    rng = np.random.default_rng(0)
    assert hartmann6(rng.random((1000, 6))).min() > HARTMANN6_MIN
    x = rng.uniform([-5, 0], [10, 15], (1000, 2))
    assert mf_branin(x[:, 0], x[:, 1]).min() > BRANIN_MIN
    assert branin_runtime(0.0) == pytest.approx(0.05 * 3600)
    assert branin_runtime(1.0) == pytest.approx(3600)


def test_learning_curve_model() -> None:
    problem = mf_branin_problem()
    model = LearningCurveModel(problem, max_resource=81)
    x = {"General/x1": 1.0, "General/x2": 2.0}
    reports, runtime, failed = model({**x, RESOURCE: 9}, 0)
    assert [r.iteration for r in reports] == list(range(1, 10)) and not failed
    assert runtime == pytest.approx(branin_runtime(9 / 81))
    assert reports[-1].value == pytest.approx(mf_branin(1.0, 2.0, 9 / 81))
    # continued from a checkpoint at iteration 9: pays the start-up and the increment only
    more, rest, _ = model({**x, RESOURCE: 27}, 10)
    assert [r.iteration for r in more] == list(range(10, 28))
    assert rest == pytest.approx(branin_runtime(27 / 81) - branin_runtime(9 / 81)
                                 + branin_runtime(0))
    # no resource: one report at full fidelity
    (only,), full, _ = model(dict(x), 0)
    assert only.iteration == 81 and full == pytest.approx(3600)
    assert only.value == pytest.approx(mf_branin(1.0, 2.0, 1.0))
    # the same answer whatever the order of calls
    assert model({**x, RESOURCE: 9}, 0) == (reports, runtime, failed)
    sf = SingleFidelityModel(hartmann6_problem(), runtime=2.0, jitter=0.5, seed=1)
    a = sf({f"General/x{i}": 0.5 for i in range(6)}, 0)
    assert a == sf({f"General/x{i}": 0.5 for i in range(6)}, 0)
    assert 1.0 <= a[1] <= 3.0


def test_quick_core_runs(tmp_path: Path) -> None:
    runs = sq.run_benchmarks(seeds=1, evaluations={"Hartmann6": 8, "MF-Branin": 6},
                             keys=[s.key for s in sq.SPECS], jobs=1)
    assert {(r.benchmark, r.key) for r in runs} == {
        (b, s.key) for s in sq.SPECS for b in ("Hartmann6", "MF-Branin") if b in s.benchmarks}
    for run in runs:
        assert run.regret == sorted(run.regret, reverse=True)
        assert all(r >= 0 for r in run.regret)
        assert run.compute == sorted(run.compute)
    summary = sq.summarize(runs)
    table = sq.format_table(summary)
    assert "Hartmann6" in table and "MF-Branin" in table and "BOHB" in table
    checks = sq.verdicts(summary)
    assert len(checks) == 7 and all(isinstance(c.text, str) for c in checks)
    body = sq.report(summary, "python bench/search_quality.py --quick", 1.0, 1,
                     {"Hartmann6": 8, "MF-Branin": 6}, "search_quality.png")
    assert body.startswith(sq.SECTION)
    pytest.importorskip("matplotlib")
    assert sq.plot(summary, tmp_path / "plot.png")
    assert (tmp_path / "plot.png").stat().st_size > 0


def test_results_section_is_replaced_in_place(tmp_path: Path) -> None:
    path = tmp_path / "RESULTS.md"
    sq.write_section(path, f"{sq.SECTION}\n\nfirst\n")
    assert path.read_text().startswith("# Benchmark results\n\n## Search quality")
    path.write_text(path.read_text() + "\n## Overhead\n\nkeep me\n")
    sq.write_section(path, f"{sq.SECTION}\n\nsecond\n")
    text = path.read_text()
    assert "first" not in text and "second" in text and "## Overhead\n\nkeep me" in text
    assert text.index("## Search quality") < text.index("## Overhead")


def test_rank_sum_p() -> None:
    a = np.arange(10.0)
    assert sq.rank_sum_p(a, a + 100) < 0.01
    assert sq.rank_sum_p(a, a + 0.5) > 0.5
    assert math.isclose(sq.rank_sum_p(a, a), 1.0)
