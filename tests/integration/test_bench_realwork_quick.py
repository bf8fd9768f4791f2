"""The real-workload benchmark works end to end: ``bench/realwork.py --quick`` with a tiny
budget runs every system (real Celery workers on the benchmark's own redis-server, standalone
Optuna processes) and prints its table. No timing assertions: it is not a test of speed (the
trial adapters, checkpoint continuation included, are tested in tests/unit/test_bench_realwork.py).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(shutil.which("redis-server") is None,
                       reason="the benchmark starts its own redis-server"),
]


@pytest.mark.timeout(360)
def test_quick_run_prints_the_table_and_writes_its_section(tmp_path: Path) -> None:
    pytest.importorskip("sklearn")
    results = tmp_path / "RESULTS.md"
    results.write_text("# Benchmark results\n\n## Overhead\n\nkept as it is\n")
    out_json = tmp_path / "realwork.json"
    proc = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "realwork.py"), "--quick",
         "--results", str(results), "--json", str(out_json)],
        cwd=ROOT, capture_output=True, text=True, timeout=340, check=False)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-5000:]
    print(proc.stdout)
    assert "| system | start-up s |" in proc.stdout and "Goals:" in proc.stdout

    res = json.loads(out_json.read_text())
    runs = {r["system"]: r for r in res["runs"]}
    assert list(runs) == ["hpq-random", "hpq-tpe", "hpq-asha", "optuna-tpe", "optuna-sh"]
    for key, run in runs.items():  # on a loaded machine a system may train no epoch in 8 s
        assert run["started"] >= 1, key
        assert run["failed"] == 0, (key, run["first_failure"])
        assert 0 <= run["training_share"] <= 1, key
    assert sum(run["epochs"] for run in runs.values()) >= 1
    for key in ("hpq-random", "hpq-tpe", "hpq-asha"):
        assert runs[key]["controller"]["end_reason"] == "time limit reached"

    text = results.read_text()
    assert "## Overhead\n\nkept as it is" in text
    assert text.count("## Real workload") == 1
    assert "Command: `python bench/realwork.py --quick --results" in text


@pytest.mark.timeout(120)
def test_tpe_ask_breakdown_prints_every_storage(tmp_path: Path) -> None:
    results = tmp_path / "RESULTS.md"
    proc = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "tpe_ask.py"), "--trials", "20", "--asks", "2",
         "--results", str(results)],
        cwd=ROOT, capture_output=True, text=True, timeout=100, check=False)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-5000:]
    print(proc.stdout)
    rows = {line.split(" | ")[0].lstrip("| "): line.split(" | ")
            for line in proc.stdout.splitlines() if line.startswith("| ")}
    assert rows["operation (median)"][1:4] == ["in memory", "journal file", "journal on Redis"]
    for op in ("ask, sampler kept", "ask, sampler rebuilt", "ask, sampler rebuilt+attrs",
               "report, trial.report", "report, hpqueue's controller", "tell"):
        assert float(rows[op][4].rstrip(" |")) > 0, op  # Redis round trips were counted
    assert rows["OptimizerOptuna's operation (median)"][1:4] == [
        "in memory", "journal on Redis, Optuna's backend", "redis_journal_storage"]
    for op in ("suggest + on_trial_start", "on_trial_complete", "on_trial_result, MedianPruner"):
        optunas, ours = (float(cell.rstrip(" |")) for cell in rows[op][4:6])
        assert 0 < ours < optunas, op  # RedisJournalBackend makes fewer round trips
    assert rows["on_trial_result, NopPruner"][4:6] == ["0", "0 |"]  # no storage operation
    assert "## TPE: ask() and reports by Optuna storage" in results.read_text()
