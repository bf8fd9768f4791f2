"""The median, diff and truncation policies (Polyaxon's early-stopping policies): when they
evaluate, what they compare, which metric and direction they watch, and their dict forms."""

from __future__ import annotations

from typing import Any

import pytest

from controller.objective import Objective
from controller.stopping import (
    DiffStopping,
    MedianStopping,
    StopJob,
    StoppingPolicy,
    TruncationStopping,
    build_policies,
)

LOSS = Objective("val", "loss", "min")


def feed(policy: StoppingPolicy, reports: list[tuple[str, int, float]],
         title: str = "val", series: str = "loss") -> list[str]:
    """Report each ``(job, iteration, value)``; the jobs the policy stops, in order."""
    stopped = []
    for job, iteration, value in reports:
        action = policy.on_scalar(job, title, series, iteration, value, LOSS)
        if isinstance(action, StopJob):
            stopped.append(job)
    return stopped


def three_jobs(last: float) -> list[tuple[str, int, float]]:
    """a, b and c report 1, 2, 3 at iterations 0..3; d then reports ``last`` at each."""
    out = [(job, it, value) for it in range(4) for job, value in (("a", 1.0), ("b", 2.0),
                                                                   ("c", 3.0))]
    return out + [("d", it, last) for it in range(4)]


def test_median_stops_a_job_worse_than_the_median() -> None:
    assert feed(MedianStopping(min_samples=3), three_jobs(2.5)) == ["d"] * 4
    assert feed(MedianStopping(min_samples=3), three_jobs(1.5)) == []
    # the others' median is 2 at d's first evaluation; one sample too few: no evaluation
    assert feed(MedianStopping(min_samples=4), three_jobs(2.5)) == []


def test_evaluation_interval_and_min_interval() -> None:
    policy = MedianStopping(min_samples=3, evaluation_interval=2, grace_iterations=1)
    assert feed(policy, three_jobs(2.5)) == ["d"]  # iterations 2 only (0 is before the grace)
    policy = MedianStopping(min_samples=3, evaluation_interval=3)
    assert feed(policy, three_jobs(2.5)) == ["d", "d"]  # iterations 0 and 3


def test_diff_stops_a_job_worse_than_the_best_by_more_than_percent() -> None:
    # the best of the others is 1.0: 1.09 is within 10 %, 1.11 is not
    assert feed(DiffStopping(percent=10, min_samples=3), three_jobs(1.09)) == []
    assert feed(DiffStopping(percent=10, min_samples=3), three_jobs(1.11)) == ["d"] * 4
    assert feed(DiffStopping(percent=0, min_samples=3), three_jobs(1.0)) == []


def test_truncation_stops_the_worst_percent_of_the_running_jobs() -> None:
    # 4 jobs at an evaluation: 25 % is the worst one
    assert feed(TruncationStopping(percent=25, min_samples=3), three_jobs(3.5)) == ["d"] * 4
    assert feed(TruncationStopping(percent=25, min_samples=3), three_jobs(2.5)) == []
    # 50 % of 4 is the worst two: d (2.5) is one of them
    assert feed(TruncationStopping(percent=50, min_samples=3), three_jobs(2.5)) == ["d"] * 4
    # 20 % of 4 rounds down to none
    assert feed(TruncationStopping(percent=20, min_samples=3), three_jobs(9.0)) == []


def test_truncation_counts_finished_jobs_only_with_include_succeeded() -> None:
    for include, expected in ((False, []), (True, ["d"])):
        policy = TruncationStopping(percent=50, min_samples=3, include_succeeded=include)
        feed(policy, [("a", 0, 1.0), ("b", 0, 2.0), ("c", 0, 3.0)])
        policy.on_job_end("c", "completed", {})
        # without c only two other jobs are running (fewer than min_samples): no evaluation;
        # with c, d (2.5) is in the worst half of a, b, c and d
        assert feed(policy, [("d", 0, 2.5)]) == expected


def test_a_policy_watches_its_own_metric_and_direction() -> None:
    policy = DiffStopping(percent=5, min_samples=1, metric="acc/acc", optimization="maximize")
    assert feed(policy, [("a", 0, 0.9)], "acc", "acc") == []
    assert feed(policy, [("b", 0, 0.5)], "val", "loss") == []  # not its metric
    assert feed(policy, [("b", 0, 0.8)], "acc", "acc") == ["b"]  # 0.8 < 0.9 - 5 %
    assert feed(policy, [("c", 0, 0.89)], "acc", "acc") == []


@pytest.mark.parametrize("cls, kwargs", [
    (MedianStopping, {"grace_iterations": 2, "min_samples": 4, "evaluation_interval": 3}),
    (DiffStopping, {"percent": 12.5, "metric": "a/b", "optimization": "max"}),
    (TruncationStopping, {"percent": 30, "include_succeeded": True}),
])
def test_dict_round_trip(cls: type[StoppingPolicy], kwargs: dict[str, Any]) -> None:
    policy = cls(**kwargs)
    rebuilt = build_policies([policy.to_dict()])[0]
    assert type(rebuilt) is cls and rebuilt.to_dict() == policy.to_dict()


@pytest.mark.parametrize("spec, match", [
    ({"kind": "truncation", "percent": 0}, "percent"),
    ({"kind": "truncation", "percent": 120}, "percent"),
    ({"kind": "diff", "percent": -1}, "percent"),
    ({"kind": "diff", "percent": 5, "evaluation_interval": 0}, "evaluation_interval"),
    ({"kind": "median", "metric": "loss"}, "title/series"),
    ({"kind": "diff"}, "percent"),
])
def test_invalid_policies(spec: dict[str, Any], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        build_policies([spec])
