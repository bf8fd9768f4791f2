"""Task records on fakeredis: create, find, clone, parameters, artifacts, checkpoints."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from workers import (
    EntryPointError,
    InvalidTaskError,
    PlaceholderError,
    Store,
    Task,
    TaskNotFoundError,
    TaskStatus,
)

ENTRY = "tests.unit.sample_entry:train"


def make_base(**kw: object) -> Task:
    args = dict(project="p", name="train", entry_point=ENTRY,
                parameters={"General/lr": 0.1, "General/epochs": 3, "Args/opt": "adam"})
    args.update(kw)
    return Task.create(**args)  # type: ignore[arg-type]


def test_create_and_get(store: Store) -> None:
    base = make_base(tags=["x"], comment="hello")
    again = Task.get_task(base.id)
    assert again.name == "train" and again.project == "p" and again.parent is None
    assert again.status is TaskStatus.CREATED
    assert again.tags == ["x"] and again.comment == "hello"
    assert again.entry_point == ENTRY
    assert again.started is None and again.completed is None


def test_parameters_keep_json_types(store: Store) -> None:
    base = make_base()
    params = Task.get_task(base.id).get_parameters()
    assert params == {"General/lr": 0.1, "General/epochs": 3, "Args/opt": "adam"}
    assert isinstance(params["General/lr"], float) and isinstance(params["General/epochs"], int)
    base.set_parameters({"lr": 1.0, "General/flag": True})
    params = base.get_parameters()
    assert params["General/lr"] == 1.0 and isinstance(params["General/lr"], float)
    assert params["General/flag"] is True and params["Args/opt"] == "adam"


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


def test_unknown_task(store: Store) -> None:
    with pytest.raises(TaskNotFoundError, match="nope"):
        Task.get_task("nope")
    with pytest.raises(TaskNotFoundError):
        Task.clone("nope")
    assert Task.get_tasks() == []


def test_clone(store: Store) -> None:
    base = make_base(tags=["base"])
    clone = Task.clone(base, name="lr=0.05")
    clone.set_parameters({"General/lr": 0.05})
    assert clone.parent == base.id and clone.project == "p" and clone.name == "lr=0.05"
    assert clone.get_parameters()["General/lr"] == 0.05
    assert clone.get_parameters()["General/epochs"] == 3
    assert base.get_parameters()["General/lr"] == 0.1
    assert clone.tags == ["base"] and clone.entry_point == ENTRY
    other = Task.clone(base.id, parent="opt1", project="q", parameters={"lr": 0.2})
    assert other.parent == "opt1" and other.project == "q"
    assert other.get_parameters()["General/lr"] == 0.2


def test_get_tasks_filters(store: Store) -> None:
    base = make_base()
    a = Task.clone(base, tags=["a"])
    b = Task.clone(base, tags=["a", "b"], project="other")
    b.mark_stopped()
    assert [t.id for t in Task.get_tasks(parent=base.id)] == [a.id, b.id]
    assert [t.id for t in Task.get_tasks(project="other")] == [b.id]
    assert [t.id for t in Task.get_tasks(tags=["a", "b"])] == [b.id]
    assert [t.id for t in Task.get_tasks(parent=base.id, status="stopped")] == [b.id]
    assert [t.id for t in Task.get_tasks(project="p")] == [base.id, a.id]


def test_connect_defaults_and_overrides(store: Store) -> None:
    base = Task.create(project="p", name="t", entry_point=ENTRY, parameters={"General/lr": 0.5})
    defaults = {"lr": 0.1, "dropout": 0.25, "sched": {"gamma": 0.9}}
    got = base.connect(defaults)
    assert got is defaults
    assert defaults == {"lr": 0.5, "dropout": 0.25, "sched": {"gamma": 0.9}}
    assert base.get_parameters() == {"General/lr": 0.5, "General/dropout": 0.25,
                                     "General/sched/gamma": 0.9}


def test_archive_and_tags(store: Store) -> None:
    t = make_base()
    t.archive()
    assert t.archived
    t.unarchive()
    assert not t.archived
    t.add_tags(["x", "y"])
    t.add_tags(["y", "z"])
    assert t.tags == ["x", "y", "z"]


def test_artifacts(store: Store, tmp_path: Path) -> None:
    t = make_base()
    f = tmp_path / "model.txt"
    f.write_text("weights")
    art = t.upload_artifact("model", f)
    assert art.type == "file" and Path(art.path).read_text() == "weights"
    t.upload_artifact("summary", {"acc": 0.9, "nan": math.nan})
    arts = t.artifacts
    assert arts["summary"].get()["acc"] == 0.9 and math.isnan(arts["summary"].get()["nan"])
    assert Path(arts["model"].get_local_copy()).read_text() == "weights"
    with pytest.raises(FileNotFoundError):
        t.upload_artifact("missing", tmp_path / "nope.bin")
    with pytest.raises(InvalidTaskError, match="JSON"):
        t.upload_artifact("bad", object())


def test_checkpoints_follow_continue_from(store: Store, tmp_path: Path) -> None:
    first = make_base()
    assert first.latest_checkpoint() is None
    ck = tmp_path / "ck"
    ck.mkdir()
    (ck / "w.bin").write_text("1")
    first.save_checkpoint(ck, iteration=1)
    (ck / "w.bin").write_text("2")
    stored = first.save_checkpoint(ck, iteration=2)
    assert (first.latest_checkpoint() / "w.bin").read_text() == "2"
    assert stored == first.latest_checkpoint()
    second = Task.clone(first)
    store.set_fields(second.id, {"continue_from": first.id})
    assert second.latest_checkpoint() == stored


def test_unreachable_redis_names_the_url() -> None:
    import socket

    from workers import RedisUnavailableError
    from workers.config import Settings

    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    url = f"redis://127.0.0.1:{port}/0"
    with pytest.raises(RedisUnavailableError, match=f"127.0.0.1:{port}"):
        Store.connect(url, Settings(redis_url=url))
