"""How fast the dashboard's optimization page loads with 10,000 jobs.

Starts a private ``redis-server``, fills it with one optimizer of ``--jobs`` jobs (job-table
rows, task records, metrics and a scalar history of ``--iterations`` points each, ASHA-like rung
meta; 1 % failed, a few running), serves the dashboard on a free port and times:

* each API call of the page (median and max of ``--repeat`` cold loads: the snapshot cache is
  dropped before each, as when the optimizer's events arrive), the three calls the page makes together, the list and a job page;
* with ``/usr/bin/chromium`` present, the whole page in headless Chromium: from navigation until
  the jobs table, the learning curves and the parallel coordinates are drawn.

    python bench/dashboard.py                # 10,000 jobs
    python bench/dashboard.py --jobs 1000 --repeat 2

The fill writes task records, metrics and histories in pipelines (the execution layer's format)
and the optimizer's saved state through its repository; it never touches another Redis.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import statistics
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.overhead import RedisServer
from workers import codec
from workers.keys import SEP
from workers.store import Store

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                 "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]
OBJECTIVE = ("validation", "loss")


def fill(store: Store, jobs: int, iterations: int = 20, *, seed: int = 0, running: int = 10,
         failed_every: int = 100, kind: str = "asha") -> str:
    """One optimizer with ``jobs`` jobs; returns its id. ``kind``: ``asha`` (rung meta),
    ``pbt`` (member/generation meta, each job continuing its member's previous one) or
    ``random`` (no meta)."""
    from controller import (
        DiscreteParameterRange,
        HyperParameterOptimizer,
        LogUniformParameterRange,
        RandomSearch,
        UniformParameterRange,
    )
    from controller.jobs import Job, SeriesStats
    from controller.persistence import (
        BestPoint,
        OptimizerRepository,
        Resources,
        SavedState,
        SchedulerState,
        Timing,
    )
    from workers.status import TaskStatus
    from workers.task import Task, clone_record

    rng = random.Random(seed)
    base = Task.create("bench", "train", entry_point="examples.train:main",
                       parameters={"General/lr": 0.1, "General/dropout": 0.25,
                                   "General/layers": 2, "General/optimizer": "adam"},
                       working_dir=str(ROOT), store=store)
    opt = HyperParameterOptimizer(
        base_task_id=base.id,
        hyper_parameters=[LogUniformParameterRange("General/lr", -4, 0),
                          UniformParameterRange("General/dropout", 0.0, 0.6),
                          DiscreteParameterRange("General/layers", [1, 2, 3, 4]),
                          DiscreteParameterRange("General/optimizer", ["adam", "sgd"])],
        objective_metric_title=OBJECTIVE[0], objective_metric_series=OBJECTIVE[1],
        objective_metric_sign="min", optimizer_class=RandomSearch,
        max_number_of_concurrent_tasks=max(running, 1), execution_queue="bench", total_max_jobs=jobs,
        store=store)
    keys, opt_id, repo = store.keys, opt.id, OptimizerRepository(store)
    t0 = time.time() - jobs * 0.5
    counts: dict[str, int] = {}
    best: list[BestPoint] = []
    batch: list[Job] = []
    best_value = math.inf
    last_of_member: dict[int, str] = {}
    pipe = store.redis.pipeline(transaction=False)
    for i in range(jobs):
        jid = f"{opt_id[:8]}{i:06d}{rng.getrandbits(40):010x}"
        params = {"General/lr": 10 ** rng.uniform(-4, 0), "General/dropout": rng.uniform(0, 0.6),
                  "General/layers": rng.choice([1, 2, 3, 4]),
                  "General/optimizer": rng.choice(["adam", "sgd"])}
        quality = (abs(math.log10(params["General/lr"]) + 2) + params["General/dropout"]
                   + (0.3 if params["General/optimizer"] == "sgd" else 0))
        status = (TaskStatus.IN_PROGRESS if i >= jobs - running
                  else TaskStatus.FAILED if i % failed_every == failed_every - 1
                  else TaskStatus.COMPLETED)
        meta: dict[str, Any] = {}
        continue_from = None
        if kind == "asha":
            rung = 0 if i % 9 else (1 if i % 27 else 2)
            meta = {"rung": rung, "config": i, "resource": 3 ** rung, "bracket": 0}
        elif kind == "pbt":
            member, generation = i % 8, i // 8
            meta = {"member": member, "generation": generation, "resource": generation + 1}
            continue_from = last_of_member.get(member)
            if generation and rng.random() < 0.25:  # exploit: continue another member
                meta["exploited"] = donor = rng.choice([m for m in range(8) if m != member])
                continue_from = last_of_member[donor]
            last_of_member[member] = jid
        started = t0 + i * 0.5
        ended = None if status == TaskStatus.IN_PROGRESS else started + 0.4 + rng.random()
        n_points = iterations if status == TaskStatus.COMPLETED else rng.randint(1, iterations)
        curve = [quality + 1.0 / (it + 1) + rng.gauss(0, 0.01) for it in range(n_points)]
        stats = SeriesStats()
        history = {}
        for it, v in enumerate(curve):
            stats.add(it, v)
            history[f"{OBJECTIVE[0]}{SEP}{OBJECTIVE[1]}{SEP}{it}"] = codec.encode_number(v)
        job = Job(jid, i, params, meta, continue_from, status, created_at=started - 0.1,
                  started_at=started, ended_at=ended, stats=[stats], sent=True, notified=True,
                  reason="ValueError: loss diverged" if status == TaskStatus.FAILED else "")
        record = clone_record(base.record, name=f"train #{i}", parent=opt_id, project="bench",
                              parameters=params, task_id=jid,
                              extra={"created": repr(started - 0.1)})
        record.update(status=status.value, started=repr(started), worker=f"bench:{i % 8}",
                      output=f"epoch {n_points - 1}: loss {curve[-1]:.4f}\n" * 20,
                      attempts="1", status_reason=job.reason)
        if ended is not None:
            record["completed"] = repr(ended)
        if status == TaskStatus.FAILED:
            record.update(error=job.reason, traceback="Traceback (most recent call last):\n"
                          "  File \"train.py\", line 12, in main\nValueError: loss diverged\n")
        if continue_from:
            record["continue_from"] = continue_from
        pipe.hset(keys.task(jid), mapping=record)
        pipe.zadd(keys.children(opt_id), {jid: started})
        pipe.zadd(keys.tasks, {jid: started})
        base_f = f"{OBJECTIVE[0]}{SEP}{OBJECTIVE[1]}{SEP}"
        pipe.hset(keys.metrics(jid), mapping={base_f + "last": codec.encode_number(curve[-1]),
                                              base_f + "min": codec.encode_number(min(curve)),
                                              base_f + "max": codec.encode_number(max(curve)),
                                              base_f + "iter": str(n_points - 1)})
        pipe.hset(keys.history(jid), mapping=history)
        batch.append(job)
        counts[status.value] = counts.get(status.value, 0) + 1
        if status == TaskStatus.COMPLETED and curve[-1] < best_value and ended is not None:
            best_value = curve[-1]
            best.append(BestPoint(ended, jid, i, [curve[-1]]))
        if i % 500 == 499:
            pipe.execute()
            repo.save_rows(opt_id, batch)
            batch = []
    done = {k: v for k, v in counts.items() if k != TaskStatus.IN_PROGRESS.value}
    pipe.hset(keys.task(opt_id), mapping={"status": TaskStatus.IN_PROGRESS.value})
    pipe.execute()
    state = SavedState(saved_at=time.time(),
                       scheduler=SchedulerState(done, jobs * iterations),
                       timing=Timing(session_started=t0),
                       resources=Resources(running, 0, time.time()))
    repo.save_pass(opt_id, state, jobs=batch, best=best)
    return opt_id


def _timed(func: Any, repeat: int, before: Any = None) -> dict[str, float]:
    """Wall seconds (median, max) and this process's CPU seconds (median: the server runs in
    it; the figure that does not depend on what else the machine runs)."""
    times, cpu = [], []
    for _ in range(repeat):
        if before is not None:
            before()
        t, c = time.perf_counter(), time.process_time()
        func()
        times.append(time.perf_counter() - t)
        cpu.append(time.process_time() - c)
    return {"median_s": statistics.median(times), "max_s": max(times),
            "cpu_s": statistics.median(cpu)}


def measure_api(url: str, opt_id: str, job_id: str, expire: Any, repeat: int
                ) -> dict[str, dict[str, float]]:
    """Seconds per API call (each after the snapshot cache has expired)."""
    import httpx2

    client = httpx2.Client(base_url=url, timeout=60)

    def get(path: str) -> Any:
        r = client.get(path)
        r.raise_for_status()
        return r.content

    def page_together() -> None:
        paths = [f"/api/opt/{opt_id}", f"/api/opt/{opt_id}/jobs?sort=rank",
                 f"/api/opt/{opt_id}/curves"]
        with ThreadPoolExecutor(3) as pool:
            list(pool.map(get, paths))

    calls = {
        "page HTML /opt/ID": lambda: get(f"/opt/{opt_id}"),
        "overview + charts /api/opt/ID": lambda: get(f"/api/opt/{opt_id}"),
        "jobs page (50, by rank)": lambda: get(f"/api/opt/{opt_id}/jobs?sort=rank"),
        "jobs page (50, by a parameter, desc)":
            lambda: get(f"/api/opt/{opt_id}/jobs?sort=param:General/lr&order=desc"),
        "learning curves (300 jobs)": lambda: get(f"/api/opt/{opt_id}/curves"),
        "the page's three calls together": page_together,
        "list of optimizations": lambda: get("/api/optimizations"),
        "one job": lambda: get(f"/api/job/{job_id}"),
    }
    out = {name: _timed(call, repeat, expire) for name, call in calls.items()}
    out["payload KB"] = {name: len(get(p)) / 1024 for name, p in (
        ("overview + charts", f"/api/opt/{opt_id}"),
        ("jobs page", f"/api/opt/{opt_id}/jobs"), ("curves", f"/api/opt/{opt_id}/curves"))}
    client.close()
    return out


def measure_browser(url: str, opt_id: str, repeat: int) -> dict[str, float] | None:
    """Seconds from navigation to the optimization page with its table and charts drawn."""
    if not CHROMIUM.exists():
        return None
    from playwright.sync_api import sync_playwright

    times = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1600, "height": 1000})
        for _ in range(repeat):
            t = time.perf_counter()
            page.goto(f"{url}/opt/{opt_id}")
            page.wait_for_selector("#jobs-table tbody tr", timeout=60_000)
            page.wait_for_selector("#curves[data-points]", timeout=60_000)
            page.wait_for_selector("#parallel[data-lines]", timeout=60_000)
            page.wait_for_selector("#objective-time[data-points]", timeout=60_000)
            times.append(time.perf_counter() - t)
        browser.close()
    return {"median_s": statistics.median(times), "max_s": max(times)}


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--jobs", type=int, default=10_000)
    parser.add_argument("--iterations", type=int, default=20)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args(argv)
    from controller.dashboard import DashboardServer
    from workers.config import Settings

    load = os.getloadavg()
    with tempfile.TemporaryDirectory() as tmp:
        server = RedisServer(Path(tmp))
        try:
            settings = Settings(redis_url=server.url, namespace="benchdash",
                                home=Path(tmp) / "home", artifacts_dir=Path(tmp) / "art")
            store = Store.connect(server.url, settings)
            t = time.perf_counter()
            opt_id = fill(store, args.jobs, args.iterations)
            fill_s = time.perf_counter() - t
            job_id = store.find(parent=opt_id)[args.jobs // 2]
            dash = DashboardServer(store).start()
            cache = dash.app.state.cache

            def expire() -> None:
                cache.invalidate(opt_id)

            try:
                api = measure_api(dash.url, opt_id, job_id, expire, args.repeat)
                browser = measure_browser(dash.url, opt_id, args.repeat)
            finally:
                dash.stop()
        finally:
            server.stop()
    result = {"jobs": args.jobs, "iterations": args.iterations, "repeat": args.repeat,
              "load_average": load[0],
              "redis": server.version, "fill_s": fill_s, "api": api, "browser": browser}
    print(f"dashboard, one optimization of {args.jobs} jobs x {args.iterations} points "
          f"(redis-server {server.version}; filled in {fill_s:.1f} s)\n")
    print(f"load average before: {load[0]:.1f} (1 min) on {os.cpu_count()} cores\n")
    print("| load | median (s) | max (s) | server CPU (s) |\n|---|---|---|---|")
    for name, t in api.items():
        if name != "payload KB":
            print(f"| {name} | {t['median_s']:.3f} | {t['max_s']:.3f} | {t['cpu_s']:.3f} |")
    if browser is not None:
        print(f"| whole page in headless Chromium (table + charts drawn) | "
              f"{browser['median_s']:.3f} | {browser['max_s']:.3f} | - |")
    else:
        print("(no /usr/bin/chromium: the browser load was not measured)")
    print("\npayload: " + ", ".join(f"{k} {v:.0f} KB" for k, v in api["payload KB"].items()))
    if args.json:
        args.json.write_text(json.dumps(result, indent=2))
    return result


if __name__ == "__main__":
    main()
