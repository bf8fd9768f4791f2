"""The Task API's validation and its pure-Python parts, on fakeredis (the store operations
under it are tested on both engines in ``tests/store``)."""

from __future__ import annotations

import pytest

from tests.helpers import SAMPLE_ENTRY as ENTRY
from tests.helpers import make_base
from workers import (
    EntryPointError,
    InvalidTaskError,
    PlaceholderError,
    Store,
    Task,
)


def test_numpy_values_become_python_numbers(store: Store) -> None:
    np = pytest.importorskip("numpy")
    base = make_base(parameters={"General/lr": np.float64(0.5), "General/n": np.int64(3)})
    assert base.get_parameters() == {"General/lr": 0.5, "General/n": 3}


def test_bad_parameters_write_nothing(store: Store) -> None:
    with pytest.raises(InvalidTaskError, match="not JSON-serialisable"):
        make_base(parameters={"General/lr": object()})
    with pytest.raises(InvalidTaskError, match="Section/name"):
        make_base(parameters={"/lr": 1})
    assert Task.get_tasks() == []


def test_entry_point_errors(store: Store) -> None:
    with pytest.raises(EntryPointError, match="does not import"):
        make_base(entry_point="no_such_module_xyz:main")
    with pytest.raises(EntryPointError, match="has no attribute"):
        make_base(entry_point="tests.unit.sample_entry:nope")
    with pytest.raises(EntryPointError, match="not callable"):
        make_base(entry_point="tests.unit.sample_entry:NOT_CALLABLE")
    with pytest.raises(EntryPointError, match="must look like"):
        make_base(entry_point="just_a_module")
    with pytest.raises(InvalidTaskError, match="exactly one"):
        Task.create(project="p", name="n")
    assert Task.get_tasks() == []


def test_command_placeholders(store: Store) -> None:
    t = Task.create(project="p", name="cmd", command=["python", "x.py", "--lr={{ General/lr }}"],
                    parameters={"General/lr": 0.1})
    assert t.command == ["python", "x.py", "--lr={{ General/lr }}"]
    with pytest.raises(PlaceholderError, match="General/momentum"):
        Task.create(project="p", name="cmd", command=["x", "{{ General/momentum }}"],
                    parameters={"General/lr": 0.1})


def test_connect_defaults_and_overrides(store: Store) -> None:
    base = Task.create(project="p", name="t", entry_point=ENTRY, parameters={"General/lr": 0.5})
    defaults = {"lr": 0.1, "dropout": 0.25, "sched": {"gamma": 0.9}}
    got = base.connect(defaults)
    assert got is defaults
    assert defaults == {"lr": 0.5, "dropout": 0.25, "sched": {"gamma": 0.9}}
    assert base.get_parameters() == {"General/lr": 0.5, "General/dropout": 0.25,
                                     "General/sched/gamma": 0.9}


def test_unreachable_redis_names_the_url() -> None:
    from workers import RedisUnavailableError
    from workers.config import Settings
    from workers.procs import free_port

    port = free_port()  # nobody listens on it
    url = f"redis://127.0.0.1:{port}/0"
    with pytest.raises(RedisUnavailableError, match=f"127.0.0.1:{port}"):
        Store.connect(url, Settings(redis_url=url))


def test_artifact_values_must_be_small_json(store: Store) -> None:
    t = make_base()
    with pytest.raises(InvalidTaskError, match="JSON"):
        t.upload_artifact("bad", object())
    with pytest.raises(InvalidTaskError, match="1 MiB"):
        t.upload_artifact("big", "x" * (1 << 20))
    with pytest.raises(InvalidTaskError, match="artifact name"):
        t.upload_artifact("", 1)
    assert t.artifacts == {}
