"""The dashboard's aggregates (pure functions over job rows)."""

from __future__ import annotations

import random

import numpy as np
import pytest

from controller.dashboard import aggregate
from controller.jobs import Job, SeriesStats
from controller.objective import Objective
from controller.parameters import LogUniformParameterRange
from controller.summary import JobSummary
from workers.status import TaskStatus


def pair(index: int, params: dict, value: float | None, status: str = "completed",
         rank: int | None = None, meta: dict | None = None, started: float | None = 0.0,
         ended: float | None = 1.0, continue_from: str | None = None, reason: str = ""
         ) -> aggregate.Pair:
    jid = f"job{index}"
    summary = JobSummary(jid, index, status, None if value is None else [value], [3], params,
                         reason=reason, rank=rank)
    row = Job(jid, index, params, meta or {}, continue_from, TaskStatus(status),
              started_at=started, ended_at=ended, reason=reason,
              stats=[SeriesStats(value, 3, value, value)])
    return summary, row


def ranked(pairs: list[aggregate.Pair]) -> list[aggregate.Pair]:
    """Rank the completed pairs by value (min)."""
    order = sorted((p for p in pairs if p[0].values is not None and p[0].status == "completed"),
                   key=lambda p: p[0].values[0])
    for r, p in enumerate(order):
        p[0].rank = r
    return pairs


def test_importance_finds_the_parameter_that_decides_the_objective() -> None:
    rng = random.Random(1)
    pairs = ranked([pair(i, {"lr": rng.random(), "noise": rng.random(),
                             "opt": rng.choice(["a", "b"])}, 0.0) for i in range(200)])
    for j, row in pairs:  # the objective is lr alone
        j.values = [j.parameters["lr"] ** 2]
    ranked(pairs)
    out = aggregate.importance(pairs, ["lr", "noise", "opt"])
    scores = {p["name"]: p["score"] for p in out["parameters"]}
    assert out["parameters"][0]["name"] == "lr"
    assert scores["lr"] > 0.9 and scores["noise"] < 0.1 and scores["opt"] < 0.05
    assert out["jobs"] == 200


def test_importance_needs_ten_ranked_jobs() -> None:
    pairs = ranked([pair(i, {"lr": i / 10}, float(i)) for i in range(9)])
    assert aggregate.importance(pairs, ["lr"])["parameters"] == []


def test_eta_squared_of_known_groups() -> None:
    groups = np.array([0, 0, 1, 1])
    assert aggregate._eta_squared(groups, np.array([1.0, 1.0, 3.0, 3.0])) == pytest.approx(1.0)
    assert aggregate._eta_squared(groups, np.array([1.0, 3.0, 1.0, 3.0])) == pytest.approx(0.0)
    assert aggregate._eta_squared(groups, np.array([2.0, 2.0, 2.0, 2.0])) == 0.0


def test_sort_jobs_puts_missing_values_last_in_both_directions() -> None:
    pairs = ranked([pair(0, {"x": 2}, 0.5), pair(1, {"x": 1}, 0.1), pair(2, {}, None, "failed"),
                    pair(3, {"x": "a"}, 0.3)])
    by = lambda key, desc: [p[0].index for p in aggregate.sort_jobs(pairs, key, desc, ["x"],
                                                                    10.0)]
    assert by("rank", False) == [1, 3, 0, 2]
    assert by("rank", True) == [0, 3, 1, 2]
    assert by("param:x", False) == [1, 0, 3, 2]  # numbers before strings, missing last
    assert by("index", True) == [3, 2, 1, 0]
    with pytest.raises(ValueError, match="unknown sort key 'bogus'"):
        by("bogus", False)
    with pytest.raises(ValueError, match="unknown parameter 'y'"):
        by("param:y", False)


def test_parallel_axes_and_a_capped_sample_keeping_the_best() -> None:
    pairs = ranked([pair(i, {"lr": 10 ** -(i % 4), "opt": "ab"[i % 2]}, float(i))
                    for i in range(aggregate.PARALLEL_CAP + 500)])
    config = {"hyper_parameters": [LogUniformParameterRange("lr", -3, 0).to_dict()]}
    out = aggregate.parallel(pairs, ["lr", "opt"], config, Objective("v", "loss", "min"))
    assert [d["name"] for d in out["dims"]] == ["lr", "opt", "objective"]
    assert out["dims"][0]["log"] and out["dims"][1]["categories"] == ["a", "b"]
    assert not out["dims"][0]["integer"]
    layers = ranked([pair(i, {"layers": i % 3 + 1}, float(i)) for i in range(6)])
    dim = aggregate.parallel(layers, ["layers"], {}, Objective("v", "loss", "min"))["dims"][0]
    assert dim["integer"] and (dim["min"], dim["max"]) == (1, 3)
    assert out["shown"] == aggregate.PARALLEL_CAP and out["total"] == aggregate.PARALLEL_CAP + 500
    assert out["indices"][:3] == [0, 1, 2]  # the best first
    assert out["lines"][1] == [0.1, 1.0, 1.0]  # job 1: lr 0.1, opt "b" (position 1), value 1


def test_rungs_table_and_points() -> None:
    pairs = ranked([pair(i, {}, float(10 - i), "completed" if i < 5 else "in_progress",
                         meta={"rung": i // 3, "config": i, "resource": 3 ** (i // 3)})
                    for i in range(7)])
    out = aggregate.rungs(pairs)
    assert out is not None
    assert [(r["rung"], r["jobs"], r.get("completed", 0), r["best"]) for r in out["table"]] == \
        [(0, 3, 3, 8.0), (1, 3, 2, 6.0), (2, 1, 0, None)]
    assert len(out["points"]) == 7
    assert aggregate.rungs([pair(0, {}, 1.0)]) is None


def test_lineage_links_each_job_to_the_one_it_continued() -> None:
    pairs = [pair(0, {}, 1.0, meta={"member": 0, "generation": 0}),
             pair(1, {}, 2.0, meta={"member": 1, "generation": 0}),
             pair(2, {}, 0.5, meta={"member": 1, "generation": 1, "exploited": 0},
                  continue_from="job0")]
    out = aggregate.lineage(pairs)
    assert out is not None and out["members"] == 2
    assert out["nodes"][2]["parent"] == "job0" and out["nodes"][2]["exploited"] == 0
    assert aggregate.lineage([pair(0, {}, 1.0)]) is None


def test_learning_curve_jobs_best_half_and_most_recent() -> None:
    pairs = ranked([pair(i, {}, float(i), started=float(i)) for i in range(10)])
    chosen = aggregate.curve_jobs(pairs, 4)
    assert [p[0].index for p in chosen] == [0, 1, 9, 8]
    curves = [(pairs[0][0], {"x": [0, 2], "y": [1.0, 2.0]}), (pairs[1][0], {"x": [1], "y": [5.0]})]
    out = aggregate.align(curves)
    assert out["x"] == [0, 1, 2]
    assert out["ys"] == [[1.0, None, 2.0], [None, 5.0, None]]


def test_timeline_lanes_per_worker() -> None:
    rows = [pair(i, {}, 1.0, started=float(i), ended=None if i == 2 else i + 0.5)[1]
            for i in range(3)]
    out = aggregate.timeline(rows, {"job0": "h:1", "job1": "h:2", "job2": "h:1"}, now=9.0)
    assert out["lanes"] == ["h:1", "h:2"]
    assert [(j["lane"], j["end"]) for j in out["jobs"]] == [(0, 0.5), (1, 1.5), (0, 9.0)]
