"""Population-based training: truncation selection, explore, checkpoints, state round trip."""

from __future__ import annotations

import json

import pytest

from controller.objective import MultiObjective, Objective
from controller.parameters import DiscreteParameterRange, UniformParameterRange
from controller.strategies.base import WAIT, Suggestion, Trial
from controller.strategies.pbt import PopulationBasedTraining
from controller.testing import DirectLoop, Outcomes

LR = UniformParameterRange("General/lr", 0.001, 1.0)
BS = DiscreteParameterRange("General/bs", [16, 32, 64])


def make(n: int, sign: str = "max", **kw: object) -> PopulationBasedTraining:
    args = {"hyper_parameters": [LR, BS], "resource": "epochs", "perturbation_interval": 1,
                "max_resource": 10, "population_size": n, "resample_probability": 0.0, "seed": 3,
                "objective_metric": MultiObjective([Objective("val", "acc", sign)])}
    args.update(kw)
    return PopulationBasedTraining(**args)  # type: ignore[arg-type]


def start_population(s: PopulationBasedTraining) -> list[tuple[str, Suggestion]]:
    out = []
    for i in range(s.population_size):
        sug = s.suggest()
        assert isinstance(sug, Suggestion) and sug.meta["generation"] == 0
        s.on_trial_start(f"m{i}", sug)
        out.append((f"m{i}", sug))
    return out


def finish(s: PopulationBasedTraining, job: str, sug: Suggestion, value: float) -> Trial:
    trial = Trial(job, sug.parameters, sug.meta, "completed", value, 0)
    s.on_trial_complete(trial)
    return trial


def test_initial_population_in_range_then_wait() -> None:
    s = make(6)
    for _, sug in start_population(s):
        assert s.space.contains(sug.parameters) and sug.parameters["General/epochs"] == 1
        assert sug.continue_from is None
    assert s.suggest() is WAIT


def test_no_exploit_below_min_population() -> None:
    s = make(4)
    pop = start_population(s)
    for i, (job, sug) in enumerate(pop):
        finish(s, job, sug, float(i))
    nxt = s.suggest()
    assert isinstance(nxt, Suggestion) and "exploited" not in nxt.meta
    assert nxt.continue_from == "m0" and nxt.parameters["General/lr"] == pop[0][1].parameters[
        "General/lr"]


def test_worst_member_exploits_a_top_member_and_perturbs() -> None:
    s = make(10, sign="max")
    pop = start_population(s)
    for i, (job, sug) in enumerate(pop):
        finish(s, job, sug, float(i))  # m0, m1 are the two worst (maximize)
    decisions = {}
    for _ in range(10):
        nxt = s.suggest()
        assert isinstance(nxt, Suggestion)
        member = nxt.meta["member"]
        decisions[member] = nxt
        s.on_trial_start(f"g1-{member}", nxt)
    exploited = {m for m, sug in decisions.items() if "exploited" in sug.meta}
    assert exploited == {0, 1}
    for m in exploited:
        sug = decisions[m]
        donor = sug.meta["exploited"]
        assert donor in (8, 9) and sug.continue_from == f"m{donor}"
        donor_lr = pop[donor][1].parameters["General/lr"]
        assert sug.parameters["General/lr"] in (pytest.approx(donor_lr * 0.8),
                                                pytest.approx(min(donor_lr * 1.2, 1.0)))
        assert s.space.contains({k: v for k, v in sug.parameters.items()
                                 if k != "General/epochs"})
    for m in set(decisions) - exploited:
        assert decisions[m].continue_from == f"m{m}"


def test_minimize_inverts_roles() -> None:
    s = make(5, sign="min")
    pop = start_population(s)
    for i, (job, sug) in enumerate(pop):
        finish(s, job, sug, float(i))  # m4 is the worst when minimizing
    seen = {}
    for _ in range(5):
        nxt = s.suggest()
        seen[nxt.meta["member"]] = nxt
        s.on_trial_start(f"x{nxt.meta['member']}", nxt)
    assert [m for m, sug in seen.items() if "exploited" in sug.meta] == [4]
    assert seen[4].meta["exploited"] == 0


def test_most_recent_value_counts() -> None:
    s = make(5, sign="max")
    pop = start_population(s)
    for i, (job, sug) in enumerate(pop):
        finish(s, job, sug, float(i))
    first = s.suggest()  # member 0 (worst) exploits
    assert first.meta["member"] == 0 and "exploited" in first.meta
    s.on_trial_start("m0b", first)
    finish(s, "m0b", first, 100.0)  # now the best
    nxt = s.suggest()
    assert nxt.meta["member"] == 0 and "exploited" not in nxt.meta


def test_members_end_at_max_resource_and_failures_end_a_member() -> None:
    s = make(2, max_resource=2, min_population=5)
    pop = start_population(s)
    finish(s, *pop[0], 1.0)
    s.on_trial_complete(Trial("m1", pop[1][1].parameters, pop[1][1].meta, "failed", None, None))
    nxt = s.suggest()
    assert nxt.meta["member"] == 0 and nxt.parameters["General/epochs"] == 2
    s.on_trial_start("m0b", nxt)
    finish(s, "m0b", nxt, 2.0)
    assert s.suggest() is None


def test_every_member_trains_max_resource_itself_and_a_copy_trains_on() -> None:
    s = make(5, sign="max", perturbation_interval=2, max_resource=6)
    pop = start_population(s)
    for i, (job, sug) in enumerate(pop):
        finish(s, job, sug, float(i))
    jobs: dict[int, list[Suggestion]] = {m: [sug] for m, (_, sug) in enumerate(pop)}
    step = 0
    while (nxt := s.suggest()) is not None:
        assert isinstance(nxt, Suggestion)
        member = nxt.meta["member"]
        previous = jobs[member][-1]
        assert nxt.meta["progress"] == previous.meta["progress"] + 2  # its own units
        if "exploited" in nxt.meta:
            donor = jobs[nxt.meta["exploited"]][-1]
            # the donor's checkpoint trains on from where the donor got
            assert nxt.parameters["General/epochs"] == donor.meta["resource"] + 2
        else:
            assert nxt.parameters["General/epochs"] == previous.meta["resource"] + 2
        jobs[member].append(nxt)
        step += 1
        s.on_trial_start(f"s{step}", nxt)
        finish(s, f"s{step}", nxt, 10.0 * member + step)
    assert sorted(len(segments) for segments in jobs.values()) == [3] * 5
    assert any("exploited" in sug.meta for segments in jobs.values() for sug in segments)
    assert max(sug.parameters["General/epochs"] for segments in jobs.values()
               for sug in segments) > 6  # a copied checkpoint passed max_resource


def test_validation() -> None:
    with pytest.raises(ValueError, match="perturbation_interval"):
        make(4, perturbation_interval=0)
    with pytest.raises(ValueError, match="population_size"):
        make(1)
    with pytest.raises(ValueError, match="quantile_fraction"):
        make(4, quantile_fraction=0.9)
    with pytest.raises(ValueError, match="resource"):
        make(4, resource=None)


def test_state_round_trip_continues_identically() -> None:
    a = make(6, resample_probability=0.3)
    trials: list[Trial] = []
    for job, sug in start_population(a):
        trials.append(finish(a, job, sug, hash(job) % 97 / 10))
    b = make(6, resample_probability=0.3)
    b.load_state_dict(json.loads(json.dumps(a.state_dict())), trials)
    # six more trials, one after the other, the i-th completed with the value i / 7
    model = Outcomes(lambda job, rng: ("completed", job.index / 7), iteration=1)
    after_a, after_b = (DirectLoop(s, model, slots=1, max_jobs=6, prefix="n").run()
                        for s in (a, b))
    assert len(after_a.starts()) == 6 and after_b.log == after_a.log
