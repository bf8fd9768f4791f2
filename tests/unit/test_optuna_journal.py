"""RedisJournalBackend: Optuna's journal on Redis, one round trip per storage operation, readable
and writable by Optuna's own JournalRedisBackend (what optuna-dashboard opens)."""

from __future__ import annotations

import pickle
import warnings
from collections.abc import Iterator
from typing import Any

import fakeredis
import optuna
import pytest
import redis
from optuna.storages import JournalStorage
from optuna.storages.journal import JournalRedisBackend
from optuna.trial import TrialState

from controller.strategies import optuna_journal
from controller.strategies.optuna_journal import RedisJournalBackend, redis_journal_storage

optuna.logging.set_verbosity(optuna.logging.WARNING)
URL = "redis://127.0.0.1:6399/0"


@pytest.fixture
def server(monkeypatch: pytest.MonkeyPatch) -> fakeredis.FakeServer:
    """Every redis.Redis.from_url(...) client talks to one fake server."""
    fake = fakeredis.FakeServer()
    monkeypatch.setattr(redis.Redis, "from_url", classmethod(
        lambda cls, url, **kw: fakeredis.FakeStrictRedis(server=fake)))
    return fake


def optunas_own(prefix: str = "") -> JournalStorage:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        return JournalStorage(JournalRedisBackend(URL, prefix=prefix))


class Counted:
    """Counts the commands (round trips) the backend's client sends."""

    def __init__(self, backend: RedisJournalBackend, monkeypatch: pytest.MonkeyPatch) -> None:
        self.count = 0
        client = backend._redis
        real = client.execute_command

        def counted(*args: Any, **kwargs: Any) -> Any:
            self.count += 1
            return real(*args, **kwargs)

        monkeypatch.setattr(client, "execute_command", counted)

    def __call__(self, fn: Any, *args: Any) -> tuple[Any, int]:
        before = self.count
        out = fn(*args)
        return out, self.count - before


def objective(trial: optuna.Trial) -> float:
    x = trial.suggest_float("x", -1, 1)
    trial.report(x * 2, 0)
    return x * x


def test_one_round_trip_per_storage_operation(server: Any,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    storage = redis_journal_storage(URL)
    backend = storage._backend
    assert isinstance(backend, RedisJournalBackend)
    counted = Counted(backend, monkeypatch)
    study = optuna.create_study(storage=storage, study_name="s",
                                sampler=optuna.samplers.RandomSampler(seed=0))
    study.optimize(objective, n_trials=3)
    study_id = storage.get_study_id_from_name("s")
    trial_id = storage.create_new_trial(study_id)  # warm: the scripts are loaded by now
    _, writes = counted(storage.set_trial_user_attr, trial_id, "k", "v")
    _, reads = counted(storage.get_all_trials, study_id)
    _, tells = counted(storage.set_trial_state_values, trial_id, TrialState.COMPLETE, [1.0])
    assert (writes, reads, tells) == (1, 1, 1)
    assert storage.get_trial(trial_id).user_attrs == {"k": "v"}


def test_optunas_backend_and_this_one_share_the_journal(server: Any) -> None:
    ours = optuna.create_study(storage=redis_journal_storage(URL), study_name="s",
                               sampler=optuna.samplers.RandomSampler(seed=1))
    ours.optimize(objective, n_trials=4)
    theirs = optuna.load_study(study_name="s", storage=optunas_own())  # optuna-dashboard's way
    assert [t.params for t in theirs.trials] == [t.params for t in ours.trials]
    assert [t.intermediate_values for t in theirs.trials] == \
        [t.intermediate_values for t in ours.trials]
    theirs.optimize(objective, n_trials=2)  # Optuna's backend writes, ours reads
    assert [t.state for t in ours.trials] == [TrialState.COMPLETE] * 6
    assert ours.trials[5].params == theirs.trials[5].params
    again = optuna.load_study(study_name="s", storage=redis_journal_storage(URL))
    assert [t.value for t in again.trials] == [t.value for t in theirs.trials]


def test_prefix_keeps_journals_apart(server: Any) -> None:
    a = optuna.create_study(storage=redis_journal_storage(URL, prefix="a"), study_name="s")
    a.optimize(objective, n_trials=2)
    b = optuna.create_study(storage=redis_journal_storage(URL, prefix="b"), study_name="s")
    assert b.trials == []
    assert len(optuna.load_study(study_name="s", storage=optunas_own("a")).trials) == 2


def test_long_journal_is_read_in_chunks(server: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    study = optuna.create_study(storage=redis_journal_storage(URL), study_name="s")
    study.optimize(objective, n_trials=10)  # about 60 lines
    monkeypatch.setattr(optuna_journal, "READ_CHUNK", 7)
    fresh = redis_journal_storage(URL)  # replays the whole journal, 7 lines per round trip
    loaded = optuna.load_study(study_name="s", storage=fresh)
    assert [t.value for t in loaded.trials] == [t.value for t in study.trials]
    loaded.optimize(objective, n_trials=3)  # appends read back more than a chunk at times
    assert len(optuna.load_study(study_name="s", storage=optunas_own()).trials) == 13


def test_an_append_brings_back_what_others_wrote(server: Any) -> None:
    mine = redis_journal_storage(URL)
    study = optuna.create_study(storage=mine, study_name="s")
    other = optuna.load_study(study_name="s", storage=optunas_own())
    other.optimize(objective, n_trials=2)
    trial = study.ask()  # its append returns the other writer's lines, then its own
    assert trial.number == 2
    assert [t.state for t in study.trials] == [TrialState.COMPLETE] * 2 + [TrialState.RUNNING]


def test_a_line_not_written_yet_is_read_at_the_next_sync(server: Any) -> None:
    storage = redis_journal_storage(URL)
    optuna.create_study(storage=storage, study_name="s")
    client = redis.Redis.from_url(URL)
    number = client.incr(":log_number")  # a writer between INCR and SET (Optuna's cluster mode)
    backend = storage._backend
    read: Iterator[dict[str, Any]] = backend.read_logs(number)
    assert list(read) == []
    client.set(f":log:{number}", b'{"op_code": 0, "worker_id": "w", "study_name": "t", '
                                 b'"directions": [1]}')
    assert [log["study_name"] for log in backend.read_logs(number)] == ["t"]
    assert {s.study_name for s in storage.get_all_studies()} == {"s", "t"}


def test_pickled_storage_works(server: Any) -> None:
    storage = redis_journal_storage(URL)
    optuna.create_study(storage=storage, study_name="s").optimize(objective, n_trials=2)
    copy = pickle.loads(pickle.dumps(storage))
    study = optuna.load_study(study_name="s", storage=copy)
    study.optimize(objective, n_trials=1)
    assert len(study.trials) == 3
