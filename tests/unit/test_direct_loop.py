"""The strategy-level driver of controller.testing (DirectLoop): asking, orders, durations,
snapshot and restore, bad arguments. (The strategy tests drive every strategy with it.)"""

from __future__ import annotations

import json
from typing import Any

import pytest

from controller.parameters import UniformParameterRange
from controller.strategies.base import WAIT, SearchStrategy, Suggestion, Trial, Wait
from controller.strategies.grid_random import RandomSearch
from controller.testing import DirectLoop, Outcomes, Record, first_to_finish, shuffled

SPACE = [UniformParameterRange("General/x", 0.0, 1.0)]


def square(job: Record, rng: Any) -> tuple[str, Any]:
    return "completed", job.parameters["General/x"] ** 2


class Batches(SearchStrategy):
    """Suggests ``size`` points, WAITs until they all ended, then another batch; None after
    ``batches`` batches. Counts its ``suggest`` calls."""

    def __init__(self, size: int = 2, batches: int = 2) -> None:
        super().__init__(SPACE, seed=0)
        self.size, self.batches, self.asked, self.active, self.given = size, batches, 0, 0, 0

    def suggest(self) -> Suggestion | Wait | None:
        self.asked += 1
        if self.given == self.size * self.batches:
            return None
        if self.given % self.size == 0 and self.active:
            return WAIT
        self.given += 1
        self.active += 1
        return Suggestion({"General/x": self.given / 10}, meta={"batch": self.given // 3})

    def on_trial_complete(self, trial: Trial) -> None:
        self.active -= 1


def test_wait_and_none_are_logged_and_none_is_final() -> None:
    strategy = Batches()
    loop = DirectLoop(strategy, Outcomes(square), slots=3).run()
    kinds = [entry[0] for entry in loop.log]
    assert kinds == ["start", "start", "wait", "complete", "wait", "complete",
                     "start", "start", "none", "complete", "complete"]
    assert loop.log[2] == ("wait", 2) and loop.log[-3] == ("none", 2)
    assert loop.exhausted and loop.done and strategy.asked == 7  # never asked after None
    assert [s.meta for s in loop.starts()] == [{"batch": 0}, {"batch": 0}, {"batch": 1},
                                               {"batch": 1}]
    assert loop.log[6] == ("start", "j2", loop.starts()[2], ())
    assert loop.max_running == 2 and not loop.step()


def test_max_jobs_stops_asking() -> None:
    strategy = Batches(size=4, batches=5)
    loop = DirectLoop(strategy, Outcomes(square, iteration=1), slots=2, max_jobs=3).run()
    assert len(loop.records) == 3 and strategy.asked == 3 and not loop.exhausted
    assert [t.iteration for t in loop.trials()] == [1, 1, 1]


def test_jobs_end_in_simulated_time_order() -> None:
    durations = {0: 5.0, 1: 1.0, 2: 3.0, 3: 0.5}
    loop = DirectLoop(RandomSearch(hyper_parameters=SPACE, seed=1), Outcomes(square), slots=3,
                      order=first_to_finish, duration=lambda job, rng: durations[job.index],
                      max_jobs=4)
    loop.fill()  # jobs 0, 1, 2 start at time 0
    ended = [loop.end_next().index]
    loop.fill()  # job 3 starts at time 1, ends at 1.5
    ended += [loop.end_next().index for _ in range(3)]
    assert ended == [1, 3, 2, 0] and loop.now == 5.0


def test_a_restored_loop_goes_on_identically() -> None:
    def make() -> RandomSearch:
        return RandomSearch(hyper_parameters=SPACE, seed=4)

    def outcome(job: Record, rng: Any) -> tuple[str, Any]:
        return ("failed", None) if rng.random() < 0.3 else square(job, rng)

    loop = DirectLoop(make(), Outcomes(outcome), slots=4, order=shuffled, max_jobs=30, seed=2,
                      duration=lambda job, rng: rng.uniform(1, 2))
    loop.run(11)
    snapshot = loop.snapshot()
    assert json.loads(json.dumps(snapshot)) == snapshot
    twin = loop.fresh(make()).restore(snapshot)
    assert twin.log == loop.log and twin.running == loop.running and twin.now == loop.now
    assert twin.run().log == loop.run().log and len(loop.records) == 30
    with pytest.raises(ValueError, match="restore needs a new loop"):
        twin.restore(snapshot)


def test_bad_use_is_named() -> None:
    with pytest.raises(ValueError, match="slots must be at least 1"):
        DirectLoop(RandomSearch(hyper_parameters=SPACE), Outcomes(square), slots=0)
    loop = DirectLoop(RandomSearch(hyper_parameters=SPACE), Outcomes(square), order=first_to_finish)
    loop.fill()
    with pytest.raises(ValueError, match="first_to_finish needs DirectLoop\\(duration=...\\)"):
        loop.end_next()
    with pytest.raises(RuntimeError, match="no job is running"):
        DirectLoop(RandomSearch(hyper_parameters=SPACE), Outcomes(square)).end_next()

    class Broken(RandomSearch):
        def suggest(self) -> Any:
            return {"General/x": 0.5}

    with pytest.raises(AssertionError, match="Broken: suggest\\(\\) returned"):
        DirectLoop(Broken(hyper_parameters=SPACE), Outcomes(square)).run(1)
