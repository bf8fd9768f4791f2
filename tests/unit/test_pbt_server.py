"""PBTServer, the PBT server for in-trial clients: the seed's documented rules (truncation over
each member's most recent checkpoint, minimum population 5, perturb x0.8/x1.2), the paper's
options (ready interval, resample, clipping, t-test), the CSV search space, the state round
trip (the contract suite runs in test_strategy_contract.py)."""

from __future__ import annotations

import json
import math
import statistics
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from controller.objective import Objective
from controller.parameters import (
    DiscreteParameterRange,
    LogUniformParameterRange,
    UniformParameterRange,
)
from controller.strategies.base import Suggestion, Trial
from controller.strategies.pbt_server import PBTServer, parameters_from_csv, welch_p_value

LR = UniformParameterRange("General/lr", 0.001, 1.0)
WD = LogUniformParameterRange("General/wd", -5, -3)


def server(n: int, sign: str = "max", **kw: Any) -> PBTServer:
    args: dict[str, Any] = {"hyper_parameters": [LR, WD], "population_size": n, "seed": 3,
                            "objective_metric": Objective("val", "acc", sign)}
    args.update(kw)
    return PBTServer(**args)


def launch(s: PBTServer) -> list[tuple[str, Suggestion]]:
    out = []
    while (sug := s.suggest()) is not None:
        job = f"job{sug.meta['member']}"
        s.on_trial_start(job, sug)
        out.append((job, sug))
    return out


def save(s: PBTServer, job: str, value: float, step: int = 1,
         hp: dict[str, Any] | None = None) -> None:
    hp = hp if hp is not None else {"General/lr": 0.1, "General/wd": 1e-4}
    assert s.on_trial_message(job, "pbt.save", {"step": step, "value": value,
                                                "hyperparameters": hp,
                                                "path": f"/ckpt/{job}/{step}"}) is None


def should(s: PBTServer, job: str) -> bool:
    return s.on_trial_message(job, "pbt.should_exploit", {})


def test_population_is_launched_then_nothing_more() -> None:
    s = server(8)
    members = launch(s)
    assert [sug.meta["member"] for _, sug in members] == list(range(8))
    assert all(s.space.contains(sug.parameters) for _, sug in members)
    assert s.suggest() is None
    hello = s.on_trial_message("job3", "pbt.hello", {})
    assert hello == {"member": 3, "names": ["General/lr", "General/wd"],
                     "objective": {"title": "val", "series": "acc", "sign": "max"},
                     "latest": None}


def test_four_saved_never_exploit_five_saved_only_the_worst() -> None:
    s = server(6)
    launch(s)
    for i in range(4):
        save(s, f"job{i}", float(i))
    assert not any(should(s, f"job{i}") for i in range(4))
    save(s, "job4", 10.0)
    assert [i for i in range(5) if should(s, f"job{i}")] == [0]  # max: 0.0 is the worst


@pytest.mark.parametrize("sign, bottom, top", [("max", {0, 1}, {8, 9}), ("min", {8, 9}, {0, 1})])
def test_ten_members_bottom_two_exploit_a_top_two_donor(sign: str, bottom: set[int],
                                                        top: set[int]) -> None:
    s = server(10, sign=sign)
    launch(s)
    for i in range(10):
        save(s, f"job{i}", float(i), hp={"General/lr": 0.01 * (i + 1), "General/wd": 1e-4})
    assert {i for i in range(10) if should(s, f"job{i}")} == bottom
    donors = Counter()
    for _ in range(200):
        donor = s.on_trial_message(f"job{min(bottom)}", "pbt.exploit", {})
        assert donor["member"] in top
        assert donor["path"] == f"/ckpt/job{donor['member']}/1"
        assert donor["hyperparameters"]["General/lr"] == pytest.approx(
            0.01 * (donor["member"] + 1))
        assert donor["job_id"] == f"job{donor['member']}" and donor["step"] == 1
        donors[donor["member"]] += 1
    assert set(donors) == top and min(donors.values()) > 60  # uniform over the top k


def test_k_follows_the_seed_table() -> None:
    for n, k in ((5, 1), (9, 1), (10, 2), (14, 2), (20, 4)):
        s = server(n, sign="max")
        launch(s)
        for i in range(n):
            save(s, f"job{i}", float(i))
        assert sum(should(s, f"job{i}") for i in range(n)) == k, n


def test_only_the_most_recent_checkpoint_counts() -> None:
    s = server(5)
    launch(s)
    for i in range(5):
        save(s, f"job{i}", float(i))
    assert should(s, "job0")
    save(s, "job0", 100.0, step=2)  # improves: now the best
    assert not should(s, "job0")
    assert should(s, "job1")
    assert s.on_trial_message("job1", "pbt.exploit", {})["member"] == 0


def test_explore_perturbs_each_value_by_point8_or_1point2_unclipped() -> None:
    s = server(5)
    launch(s)
    start = {"General/lr": 0.9, "General/wd": 1e-4, "extra": 2.0}
    factors: set[float] = set()
    for _ in range(100):
        out = s.on_trial_message("job0", "pbt.explore", {"hyperparameters": start})
        for name, value in start.items():
            factor = out[name] / value
            assert factor == pytest.approx(0.8) or factor == pytest.approx(1.2)
            factors.add(round(factor, 6))
    assert factors == {0.8, 1.2}
    out = server(5, clip=True)
    launch(out)
    clipped = [out.on_trial_message("job0", "pbt.explore", {"hyperparameters": start})
               for _ in range(50)]
    assert max(c["General/lr"] for c in clipped) == 1.0  # 0.9 * 1.2 clipped to the range


def test_finite_parameters_stay_on_their_points_and_resample_draws_from_the_range() -> None:
    bs = DiscreteParameterRange("General/bs", [16, 32, 64])
    s = server(5, hyper_parameters=[LR, bs], resample_probability=1.0)
    launch(s)
    out = [s.on_trial_message("job0", "pbt.explore",
                              {"hyperparameters": {"General/lr": 0.5, "General/bs": 32}})
           for _ in range(100)]
    assert {o["General/bs"] for o in out} == {16, 32, 64}
    assert all(LR.contains(o) for o in out) and len({o["General/lr"] for o in out}) == 100
    s = server(5, hyper_parameters=[LR, bs])
    launch(s)
    out = [s.on_trial_message("job0", "pbt.explore",
                              {"hyperparameters": {"General/lr": 0.5, "General/bs": 32}})
           for _ in range(100)]
    assert {o["General/bs"] for o in out} <= {16, 32, 64}


def test_ready_interval_counts_saves_since_start_or_exploit() -> None:
    s = server(5, ready_interval=3)
    launch(s)
    for step in (1, 2):
        for i in range(5):
            save(s, f"job{i}", float(i), step=step)
        assert not should(s, "job0")
    for i in range(5):
        save(s, f"job{i}", float(i), step=3)
    assert should(s, "job0")
    s.on_trial_message("job0", "pbt.exploit", {})
    save(s, "job0", -1.0, step=4)
    assert not should(s, "job0")  # one save since its exploit


def test_ttest_selection_copies_a_significantly_better_member() -> None:
    s = server(5, selection="ttest", ttest_window=4, min_population=2)
    launch(s)
    for step in range(1, 5):
        for i in range(5):
            save(s, f"job{i}", 10.0 * i + 0.1 * step, step=step)  # member 0 is far worse
    assert should(s, "job0")
    donor = s.on_trial_message("job0", "pbt.exploit", {})
    assert donor["member"] in {1, 2, 3, 4}
    assert not should(s, "job4")  # the best never has a better member
    flat = server(5, selection="ttest", ttest_window=4, min_population=2)
    launch(flat)
    noise = [0.0, 5.0, -5.0, 1.0]
    for step, e in enumerate(noise, 1):
        for i in range(5):
            save(flat, f"job{i}", e + 0.01 * i, step=step)  # no significant difference
    assert not any(should(flat, f"job{i}") for i in range(5))


def test_welch_p_value_matches_scipy() -> None:
    scipy_stats = pytest.importorskip("scipy.stats")
    rng = np.random.default_rng(0)
    for _ in range(20):
        a = list(rng.normal(0, 1, int(rng.integers(2, 12))))
        b = list(rng.normal(rng.normal(0, 1), rng.uniform(0.1, 3), int(rng.integers(2, 12))))
        expected = scipy_stats.ttest_ind(a, b, equal_var=False).pvalue
        assert welch_p_value(a, b) == pytest.approx(expected, rel=1e-7, abs=1e-12)


def test_requests_it_cannot_serve_are_value_errors() -> None:
    s = server(5)
    launch(s)
    with pytest.raises(ValueError, match="not a member"):
        s.on_trial_message("stranger", "pbt.hello", {})
    with pytest.raises(ValueError, match="pbt.bogus"):
        s.on_trial_message("job0", "pbt.bogus", {})
    with pytest.raises(ValueError, match="no other member"):
        s.on_trial_message("job0", "pbt.exploit", {})
    with pytest.raises(TypeError, match="metric must be a number"):
        s.on_trial_message("job0", "pbt.save", {"value": "high", "hyperparameters": {}})
    for kwargs, match in (({"population_size": 1}, "population_size"),
                          ({"quantile_fraction": 0.7}, "quantile_fraction"),
                          ({"selection": "tournament"}, "selection"),
                          ({"perturbation_factors": ()}, "perturbation_factors"),
                          ({"ready_interval": 0}, "ready_interval")):
        with pytest.raises(ValueError, match=match):
            server(5, **kwargs)


def test_state_round_trip_answers_identically() -> None:
    a = server(6, resample_probability=0.3)
    members = launch(a)
    trials = [Trial(job, sug.parameters, sug.meta, "in_progress") for job, sug in members]
    for i in range(6):
        save(a, f"job{i}", float(i) * 0.7 % 3)
    a.on_trial_message("job1", "pbt.exploit", {})
    b = server(6, resample_probability=0.3)
    b.load_state_dict(json.loads(json.dumps(a.state_dict())), trials)
    hp = {"General/lr": 0.2, "General/wd": 1e-4}
    for step in range(2, 6):
        for i in range(6):
            for s in (a, b):
                save(s, f"job{i}", (i * step) % 5, step=step)
            assert should(a, f"job{i}") == should(b, f"job{i}")
        for verb, data in (("pbt.exploit", {}), ("pbt.explore", {"hyperparameters": hp})):
            assert a.on_trial_message("job0", verb, data) == b.on_trial_message("job0", verb,
                                                                                data)
    assert b.on_trial_message("job2", "pbt.hello", {})["latest"]["step"] == 5


def test_csv_search_space_like_the_seed(tmp_path: Path) -> None:
    path = tmp_path / "hyperparameters.csv"
    path.write_text("name,min,max,scale\nregular_lr,0.0001,0.1,log\n"
                    "weight_decay,0.00001,0.001,log\ndropout,0.1,0.9,linear\n")
    lr, wd, dropout = parameters_from_csv(path)
    assert (lr.name, wd.name, dropout.name) == ("General/regular_lr", "General/weight_decay",
                                                "General/dropout")
    rng = np.random.default_rng(1)
    lrs = [lr.get_value(rng)["General/regular_lr"] for _ in range(4000)]
    assert min(lrs) >= 0.0001 and max(lrs) <= 0.1
    assert statistics.median(lrs) == pytest.approx(math.sqrt(0.0001 * 0.1), rel=0.1)
    drops = [dropout.get_value(rng)["General/dropout"] for _ in range(4000)]
    assert statistics.median(drops) == pytest.approx(0.5, abs=0.03)


@pytest.mark.parametrize("rows, match", [
    ("dropout,0.1,0.9,exp\n", ('line 2 \\(dropout\\): expected "log" or "linear" search '
                               'scale, got "exp"')),
    ("lr,abc,0.1,log\n", "line 2 \\(lr\\): min 'abc'"),
    ("lr,0.1,0.01,log\n", "line 2 \\(lr\\): min 0.1 is greater than max"),
    ("lr,0,0.1,log\n", "line 2 \\(lr\\): a log scale needs min > 0"),
    ("lr,0.1,0.2,log\nlr,0.1,0.2,log\n", "line 3: 'lr' is defined twice"),
])
def test_csv_errors_name_the_row(tmp_path: Path, rows: str, match: str) -> None:
    path = tmp_path / "hp.csv"
    path.write_text("name,min,max,scale\n" + rows)
    with pytest.raises(ValueError, match=match):
        parameters_from_csv(path)
    path.write_text("name,low,high\n")
    with pytest.raises(ValueError, match="lacks column"):
        parameters_from_csv(path)

