"""Task records, on both engines: create with its indexes, the typed record, find, field
updates guarded by the status, clone, artifacts and checkpoints."""

from __future__ import annotations

import math
from dataclasses import FrozenInstanceError, fields
from pathlib import Path

import pytest

from tests.helpers import SAMPLE_ENTRY as ENTRY
from tests.helpers import make_base, queue_it
from workers import StatusConflictError, Store, Task, TaskNotFoundError, TaskRecord, TaskStatus


def test_create_writes_the_record_and_its_indexes(store: Store) -> None:
    store.create({"id": "a", "name": "n", "project": "p", "status": "created", "created": "2.5",
                  "parent": "opt", "custom": "kept"})
    store.create({"id": "b", "name": "m", "project": "q", "status": "created", "created": "1.5"})
    assert store.get("a")["custom"] == "kept"
    assert store.find() == ["b", "a"]  # oldest first
    assert store.find(project="p") == ["a"] and store.find(parent="opt") == ["a"]
    assert store.find(parent="nobody") == [] and store.find(project="none") == []
    assert [r.id if r else None for r in store.records(["b", "x", "a"])] == ["b", None, "a"]


def test_the_typed_record(store: Store) -> None:
    base = make_base(tags=["x"], comment="hello")
    rec = store.record(base.id)
    assert isinstance(rec, TaskRecord)
    assert (rec.id, rec.name, rec.project, rec.type, rec.status) == (
        base.id, "train", "p", "training", TaskStatus.CREATED)
    assert rec.parameters == {"General/lr": 0.1, "General/epochs": 3, "Args/opt": "adam"}
    assert rec.tags == ("x",) and rec.comment == "hello" and rec.entry_point == ENTRY
    assert rec.parent is None and rec.command is None and rec.archived is False
    assert (rec.attempts, rec.attempt, rec.stop, rec.started, rec.heartbeat) == (0, "", "", None,
                                                                                 None)
    assert isinstance(rec.created, float) and rec.raw["id"] == base.id
    assert set(vars(rec)) == {f.name for f in fields(TaskRecord)}  # decoding sets them all
    with pytest.raises(FrozenInstanceError):
        rec.name = "changed"  # type: ignore[misc]
    store.set_fields(base.id, {"future_field": "v", "archived": "1"})
    rec = store.record(base.id)
    assert rec.raw["future_field"] == "v" and rec.archived is True
    with pytest.raises(TaskNotFoundError, match="nope"):
        store.record("nope")


def test_a_record_that_cannot_be_decoded_names_the_field(store: Store) -> None:
    base = make_base()
    store.set_fields(base.id, {"attempts": "many"})
    with pytest.raises(ValueError, match=f"{base.id}.*many"):
        store.record(base.id)


def test_create_and_get(store: Store) -> None:
    base = make_base(tags=["x"], comment="hello")
    again = Task.get_task(base.id)
    assert again.name == "train" and again.project == "p" and again.parent is None
    assert again.status is TaskStatus.CREATED
    assert again.tags == ["x"] and again.comment == "hello"
    assert again.entry_point == ENTRY and again.task_type == "training"
    assert again.started is None and again.completed is None and again.attempts == 0
    assert again.record["name"] == "train"


def test_command_task(store: Store) -> None:
    t = Task.create(project="p", name="cmd", command=["python", "x.py", "--lr={{ General/lr }}"],
                    parameters={"General/lr": 0.1})
    assert Task.get_task(t.id).command == ["python", "x.py", "--lr={{ General/lr }}"]
    assert store.record(t.id).command == ("python", "x.py", "--lr={{ General/lr }}")


def test_parameters_keep_json_types(store: Store) -> None:
    base = make_base()
    params = Task.get_task(base.id).get_parameters()
    assert params == {"General/lr": 0.1, "General/epochs": 3, "Args/opt": "adam"}
    assert isinstance(params["General/lr"], float) and isinstance(params["General/epochs"], int)
    base.set_parameters({"lr": 1.0, "General/flag": True})
    params = base.get_parameters()
    assert params["General/lr"] == 1.0 and isinstance(params["General/lr"], float)
    assert params["General/flag"] is True and params["Args/opt"] == "adam"


def test_set_fields_guarded_by_the_status(store: Store) -> None:
    base = make_base()
    store.set_fields(base.id, {"comment": "a"}, allowed=[TaskStatus.CREATED])
    queue_it(store, base)
    with pytest.raises(StatusConflictError, match="queued"):
        store.set_fields(base.id, {"comment": "b"}, allowed=[TaskStatus.CREATED])
    assert store.record(base.id).comment == "a"
    with pytest.raises(TaskNotFoundError):
        store.set_fields("nope", {"comment": "b"})
    assert store.get_many(["nope"]) == [None]


def test_get_fields_and_status(store: Store) -> None:
    base = make_base()
    assert store.get_fields(base.id, "name", "nothing") == ["train", None]
    assert store.status(base.id) is TaskStatus.CREATED
    with pytest.raises(TaskNotFoundError):
        store.get_fields("nope", "name")
    with pytest.raises(TaskNotFoundError):
        store.status("nope")


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
    assert store.record(clone.id).source == base.id
    other = Task.clone(base.id, parent="opt1", project="q", parameters={"lr": 0.2})
    assert other.parent == "opt1" and other.project == "q"
    assert other.get_parameters()["General/lr"] == 0.2
    assert store.find(parent="opt1") == [other.id]


def test_get_tasks_filters(store: Store) -> None:
    base = make_base()
    a = Task.clone(base, tags=["a"])
    b = Task.clone(base, tags=["a", "b"], project="other")
    b.mark_stopped()
    a.archive()
    assert [t.id for t in Task.get_tasks(parent=base.id)] == [a.id, b.id]
    assert [t.id for t in Task.get_tasks(project="other")] == [b.id]
    assert [t.id for t in Task.get_tasks(tags=["a", "b"])] == [b.id]
    assert [t.id for t in Task.get_tasks(parent=base.id, status="stopped")] == [b.id]
    assert [t.id for t in Task.get_tasks(project="p")] == [base.id, a.id]
    assert store.find(parent=base.id, include_archived=False) == [b.id]
    assert store.find(status=["created", "stopped"]) == [base.id, a.id, b.id]


def test_archive_tags_comment_name(store: Store) -> None:
    t = make_base()
    t.archive()
    assert t.archived
    t.unarchive()
    assert not t.archived
    t.add_tags(["x", "y"])
    t.add_tags(["y", "z"])
    assert t.tags == ["x", "y", "z"]
    t.set_comment("c")
    t.set_name("renamed")
    assert t.comment == "c" and t.name == "renamed" and Task.get_task(t.id).name == "renamed"


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
    assert [c["iteration"] for c in store.checkpoints(first.id)] == [1, 2]
    second = Task.clone(first)
    store.set_fields(second.id, {"continue_from": first.id})
    assert store.record(second.id).continue_from == first.id
    assert second.latest_checkpoint() == stored
