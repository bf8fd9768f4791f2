"""The overhead benchmark itself works: a tiny run of ``bench/overhead.py`` end to end.

This checks that every part runs and reports (raw Celery, hpqueue, latency, scale, local mode)
and that the results file is written section-wise. It asserts no timing: the benchmark is not a
test of speed.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.skipif(shutil.which("redis-server") is None,
                                reason="the benchmark needs a redis-server binary")


@pytest.mark.timeout(300)
def test_tiny_overhead_run_prints_the_table_and_writes_its_section(tmp_path: Path) -> None:
    results = tmp_path / "RESULTS.md"
    results.write_text("# Benchmark results\n\n## Search quality\n\nkept as it is\n")
    out_json = tmp_path / "overhead.json"
    proc = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "overhead.py"), "--quick", "--trials", "20",
         "--scale", "30,60", "--local-trials", "10", "--fakeredis-trials", "0", "--repeat", "1",
         "--results", str(results), "--json", str(out_json)],
        cwd=ROOT, capture_output=True, text=True, timeout=280, check=False)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-5000:]
    assert "| Ratio hpqueue / raw Celery |" in proc.stdout
    res = json.loads(out_json.read_text())
    real = res["real"]
    assert real["raw"][0]["n"] == 20 and real["hpqueue"][0]["n"] == 20
    assert real["hpqueue"][0]["latency"]["n"] == 20 - 8  # completions that freed a slot
    assert [s["n"] for s in res["scale"]] == [30, 60]
    assert all(s["peak_rss_mb"] > 0 and s["redis_commands_per_trial"] > 0 for s in res["scale"])
    assert res["local"][0]["server"] == "redis-server"
    assert set(res["goals"]) >= {"ratio >= 0.8", "latency p50 < 10 ms",
                                 "get_top_experiments(10) < 20 ms"}
    text = results.read_text()
    assert text.startswith("# Benchmark results")
    assert "## Search quality\n\nkept as it is" in text
    assert text.count("## Overhead") == 1 and "Command: `python bench/overhead.py --quick" in text

    # a second write replaces the section instead of appending another
    from bench.overhead import write_results

    write_results(results, "## Overhead\n\nnew figures\n")
    text = results.read_text()
    assert text.count("## Overhead") == 1 and "new figures" in text and "kept as it is" in text
