"""ClearML's Task API on fakeredis, in this process: Task.init (by hand and as a trial), reuse,
get_task by name, clone/enqueue forms, connect of every kind, configuration objects, parameters
as a dict, status marks, the logger, and the argparse capture.

Scripts run by hand in their own process (exit status, execute_remotely, clones run by workers)
are in tests/integration/test_clearml_workflow.py.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from workers import Logger, Store, Task, TaskNotFoundError, TaskStatus, clearml_task
from workers.errors import InvalidTaskError, NoMatchingTaskError, StatusConflictError
from workers.task import bind_current

ENTRY = "tests.unit.sample_entry:train"


@pytest.fixture(autouse=True)
def _no_session() -> Iterator[None]:
    """Each test starts and ends without a Task.init task in this process."""
    clearml_task.forget_session()
    bind_current(None)
    yield
    clearml_task.forget_session()
    bind_current(None)


def trial_of(store: Store, parameters: dict[str, object]) -> Task:
    """A clone bound as this process's trial (what a worker does before running it)."""
    base = Task.create("p", "base", entry_point=ENTRY, parameters=parameters)
    clone = Task.clone(base)
    trial = Task(clone.id, store=store)
    bind_current(trial)
    return trial


# ====================================================================== Task.init
def test_init_by_hand_records_the_script_and_runs(store: Store) -> None:
    task = Task.init(project_name="examples", task_name="train", tags=["a"],
                     output_uri="s3://ignored", auto_connect_frameworks=False)
    assert task.status is TaskStatus.IN_PROGRESS and task.started is not None
    rec = task.record
    assert (task.project, task.name, task.task_type, task.tags) == ("examples", "train",
                                                                  "training", ["a"])
    command = json.loads(rec["command"])
    assert command[0] == sys.executable and command[len(command) - len(sys.argv) + 1:] == sys.argv[1:]
    assert rec["interpreter"] == sys.executable and rec["working_dir"]
    assert rec["script"] == str(Path(sys.modules["__main__"].__file__).resolve())
    assert Task.current_task() == task and Task.init() is task  # twice: the same task
    assert task.is_main_task()
    task.close()
    assert task.status is TaskStatus.COMPLETED and Task.current_task() is None
    assert not task.is_main_task()


def test_init_logs_ignored_options_once(store: Store, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level("DEBUG", logger="hpqueue.task")
    Task.init("p", "n", auto_resource_monitoring=False, deferred_init=False, whatever=1)
    lines = [r.message for r in caplog.records if "ignoring ClearML option" in r.message]
    expected = ("Task.init: ignoring ClearML option(s) auto_resource_monitoring, "
                "deferred_init, whatever")
    assert lines == [expected]


def test_init_task_types(store: Store) -> None:
    task = Task.init("p", "opt", task_type=Task.TaskTypes.optimizer)
    assert task.task_type == "optimizer" and str(Task.TaskTypes.optimizer) == "optimizer"
    task.close()
    assert Task.init("p", "q", task_type="data_processing").task_type == "data_processing"
    clearml_task.forget_session()
    bind_current(None)
    with pytest.raises(ValueError, match="'trainer' is not one of training, testing"):
        Task.init("p", "bad", task_type="trainer")


def test_init_twice_with_other_names_warns_and_returns_the_same(
        store: Store, caplog: pytest.LogCaptureFixture) -> None:
    first = Task.init("p", "one")
    assert Task.init("p", "two") is first
    assert "already called in this process" in caplog.text


def test_reuse_last_task_resets_it(store: Store) -> None:
    first = Task.init("p", "reused")
    first.connect({"a": 1})
    first.get_logger().report_scalar("t", "s", 1.0, 0)
    first.close()
    again = Task.init("p", "reused")
    assert again.id == first.id and again.status is TaskStatus.IN_PROGRESS
    assert again.get_parameters() == {} and again.get_last_scalar_metrics() == {}
    again.get_logger().report_scalar("t", "s", 2.0, 0)  # iteration 0 again: not a duplicate
    assert again.get_last_scalar_metrics()["t"]["s"]["last"] == 2.0
    again.close()
    fresh = Task.init("p", "reused", reuse_last_task_id=False)
    assert fresh.id != first.id


@pytest.mark.parametrize("spoil", ["artifact", "archived", "child", "other type"])
def test_a_task_with_outputs_is_not_reused(store: Store, spoil: str) -> None:
    first = Task.init("p", "kept")
    if spoil == "artifact":
        first.upload_artifact("result", {"x": 1})
    elif spoil == "archived":
        first.archive()
    elif spoil == "child":
        Task.clone(Task.create("p", "other", entry_point=ENTRY), parent=first.id)
    first.close()
    again = Task.init("p", "kept", task_type="testing" if spoil == "other type" else "training")
    assert again.id != first.id


def test_continue_last_task_keeps_outputs_and_continues_iterations(store: Store) -> None:
    first = Task.init("p", "cont")
    first.connect({"a": 1})
    for i in range(3):
        first.get_logger().report_scalar("t", "s", float(i), i)
    first.close()
    again = Task.init("p", "cont", continue_last_task=True)
    assert again.id == first.id and again.get_parameters() == {"General/a": 1}
    again.get_logger().report_scalar("t", "s", 9.0, 0)
    assert again.get_reported_scalars()["t"]["s"] == {"x": [0, 1, 2, 3],
                                                      "y": [0.0, 1.0, 2.0, 9.0]}
    again.close()
    by_id = Task.init("p", "other name", continue_last_task=first.id)
    assert by_id.id == first.id


def test_reuse_of_an_unknown_id_is_an_error(store: Store) -> None:
    with pytest.raises(TaskNotFoundError):
        Task.init("p", "n", reuse_last_task_id="0" * 32)


def test_init_in_a_trial_returns_the_trial(store: Store) -> None:
    trial = trial_of(store, {"General/lr": 0.5})
    task = Task.init("anything", "whatever")
    assert task is trial and Task.init() is trial
    # the trial's values win; defaults it lacks are recorded
    assert task.connect({"lr": 0.1, "epochs": 3}) == {"lr": 0.5, "epochs": 3}
    assert task.get_parameters() == {"General/lr": 0.5, "General/epochs": 3}
    assert task.execute_remotely(queue_name="services") is None  # a no-op in a trial
    task.close()
    assert Task.current_task() is trial  # the worker's binding stays


def test_the_trials_session_ends_when_the_worker_unbinds_it(store: Store) -> None:
    trial = trial_of(store, {"General/lr": 0.5})
    assert Task.init() is trial and clearml_task.main_task() is trial
    bind_current(None)  # the worker is done with the trial
    assert clearml_task.main_task() is None
    make_parser().parse_args([])  # no longer recorded on the finished trial
    assert "Args/lr" not in trial.get_parameters()


def test_current_logger(store: Store) -> None:
    assert Logger.current_logger() is None
    task = Task.init("p", "log")
    logger = Logger.current_logger()
    assert logger is task.get_logger()
    logger.report_scalar("loss", "train", 0.5, iteration=1)
    logger.report_single_value("best", 0.25)
    logger.report_text("hello", level=20, print_console=False)
    metrics = task.get_last_scalar_metrics()
    assert metrics["loss"]["train"]["last"] == 0.5 and metrics["Summary"]["best"]["last"] == 0.25


# ================================================================ finding tasks
def test_get_task_by_project_and_name_is_the_latest(store: Store) -> None:
    older = Task.create("examples", "base", entry_point=ENTRY)
    Task.create("examples", "base (clone)", entry_point=ENTRY)
    Task.create("elsewhere", "base", entry_point=ENTRY)
    newer = Task.create("examples", "base", entry_point=ENTRY)
    assert Task.get_task(project_name="examples", task_name="base") == newer
    newer.archive()  # a non-archived one is preferred
    assert Task.get_task(project_name="examples", task_name="base") == older
    assert Task.get_task(older.id) == older
    assert Task.get_task(task_name="base (clone)").name == "base (clone)"
    with pytest.raises(NoMatchingTaskError,
                       match="no task named 'basis' in project 'examples'") as info:
        Task.get_task(project_name="examples", task_name="basis")
    assert isinstance(info.value, ValueError) and isinstance(info.value, TaskNotFoundError)
    with pytest.raises(ValueError, match="needs task_id, or project_name"):
        Task.get_task()


def test_get_tasks_by_project_name_and_name_pattern(store: Store) -> None:
    a = Task.create("proj", "train a", entry_point=ENTRY)
    b = Task.create("proj", "train b", entry_point=ENTRY)
    Task.create("proj", "eval", entry_point=ENTRY)
    Task.create("other", "train c", entry_point=ENTRY)
    assert Task.get_tasks(project_name="proj", task_name="train") == [a, b]
    assert Task.get_tasks(project_name="proj", task_name="^train a$") == [a]
    assert [t.name for t in Task.get_tasks(task_name="^train")] == ["train a", "train b",
                                                                   "train c"]
    assert Task.get_tasks(task_ids=[b.id, a.id]) == [b, a]


def test_clone_takes_clearmls_argument_order_and_parent_rule(store: Store) -> None:
    base = Task.create("p", "base", entry_point=ENTRY, parameters={"General/lr": 0.1})
    clone = Task.clone(source_task=base, name="c", comment="why", parent=None, project="q")
    assert (clone.name, clone.comment, clone.parent, clone.project) == ("c", "why", base.id, "q")
    assert clone.record["source"] == base.id
    grandchild = Task.clone(clone.id)  # the source's parent, not the source (ClearML)
    assert grandchild.parent == base.id
    positional = Task.clone(base, "n", "comment", "some-parent")
    assert positional.comment == "comment" and positional.parent == "some-parent"


def test_enqueue_needs_something_to_run(store: Store) -> None:
    task = Task.init("p", "interactive")
    task.close()
    bare = Task(task.id, store=store)
    bare.reload()
    store.set_fields(task.id, {"command": "", "status": "created"})
    with pytest.raises(InvalidTaskError, match="nothing to run"):
        Task.enqueue(bare.reload(), queue_name="q")
    with pytest.raises(ValueError, match="needs queue_name"):
        Task.enqueue(bare)


# ======================================================================== connect
def test_connect_by_hand_records_the_codes_values(store: Store) -> None:
    task = Task.init("p", "c")
    task.update_parameters({"General/lr": 0.9})  # left from before: the code wins by hand
    got = task.connect({"lr": 0.1, "net": {"depth": 3}})
    assert got == {"lr": 0.1, "net": {"depth": 3}}
    assert task.get_parameters() == {"General/lr": 0.1, "General/net/depth": 3}
    task.connect({"lr": 0.2}, name="Other")
    assert task.get_parameter("Other/lr") == 0.2


def test_connect_namespace_class_and_object(store: Store) -> None:
    trial = trial_of(store, {"General/lr": 0.5, "General/name": "resnet", "Model/depth": 50})
    task = Task.init()
    ns = argparse.Namespace(lr=0.1, epochs=2)
    assert task.connect(ns) is ns and (ns.lr, ns.epochs) == (0.5, 2)

    class Config:
        name = "vgg"
        _private = "kept out"
        callback = print  # not a basic type: kept out

    assert task.connect(Config) is Config and Config.name == "resnet"

    class Model:
        def __init__(self) -> None:
            self.depth = 18
            self.width = 64

    model = task.connect(Model(), name="Model")
    assert (model.depth, model.width) == (50, 64)
    params = trial.get_parameters()
    assert params["General/epochs"] == 2 and params["Model/width"] == 64
    assert "General/_private" not in params and "General/callback" not in params
    with pytest.raises(InvalidTaskError, match="connect\\(\\) takes a dict, an argparse"):
        task.connect([1, 2])


def test_connect_an_argparse_parser(store: Store) -> None:
    task = Task.init("p", "parser", auto_connect_arg_parser=False)
    parser = argparse.ArgumentParser()
    parser.add_argument("--lr", type=float, default=0.1)
    assert task.connect(parser) is parser
    assert task.get_parameters() == {"Args/lr": 0.1}


def test_connect_configuration_dict_and_file(store: Store, tmp_path: Path) -> None:
    task = Task.init("p", "conf")
    config = {"layers": [1, 2], "opt": {"name": "sgd"}}
    assert task.connect_configuration(config) is config
    path = tmp_path / "model.yaml"
    path.write_text("depth: 3\n")
    assert task.connect_configuration(path, name="model file", description="yaml") == path
    objects = task.get_configuration_objects()
    assert objects["General"]["value"] == config and objects["model file"]["type"] == "file"
    assert task.get_configuration_object_as_dict("General") == config
    with pytest.raises(FileNotFoundError, match="nope.yaml does not exist"):
        task.connect_configuration(str(tmp_path / "nope.yaml"))
    with pytest.raises(InvalidTaskError, match="takes a dict, a list or a file path"):
        task.connect_configuration(3)
    task.close()
    # a clone carries them; in its trial the stored objects win
    base = Task.get_task(task.id)
    store.set_fields(base.id, {"status": "created"})
    clone = Task.clone(base)
    clone._set_configuration_object("General", {"type": "dictionary",
                                                "value": {"opt": {"name": "adam"}}})
    bind_current(Task(clone.id, store=store))
    trial = Task.init()
    mine = {"opt": {"name": "sgd"}, "extra": 1}
    assert trial.connect_configuration(mine) is mine and mine == {"opt": {"name": "adam"}}
    copy = trial.connect_configuration(path, name="model file")
    assert isinstance(copy, Path) and copy != path and copy.read_text() == "depth: 3\n"
    assert isinstance(trial.connect_configuration(str(path), name="model file"), str)


# ===================================================================== parameters
def test_parameters_as_dict_and_set_parameter(store: Store) -> None:
    task = Task.init("p", "d")
    task.connect({"lr": 0.1, "flag": True, "none": None})
    task.set_parameter("Args/path", Path("/tmp/x"))  # not JSON: stored as text
    task.set_parameter("batch", 32)
    assert task.get_parameters_as_dict() == {
        "General": {"lr": "0.1", "flag": "True", "none": "", "batch": "32"},
        "Args": {"path": "/tmp/x"}}
    assert task.get_parameters_as_dict(cast=True)["General"] == {
        "lr": 0.1, "flag": True, "none": None, "batch": 32}


# =================================================================== status marks
def test_marks_on_other_tasks(store: Store) -> None:
    base = Task.create("p", "b", entry_point=ENTRY)
    a, b, c = Task.clone(base), Task.clone(base), Task.clone(base)
    a.mark_failed(status_reason="diverged")
    assert a.status is TaskStatus.FAILED and a.error == "diverged"
    b.mark_completed()
    assert b.status is TaskStatus.COMPLETED
    b.mark_failed()  # final: ignored by default
    assert b.status is TaskStatus.COMPLETED
    with pytest.raises(StatusConflictError, match="use force=True"):
        b.mark_failed(ignore_errors=False)
    b.mark_failed(force=True)
    assert b.status is TaskStatus.FAILED
    assert c.mark_stopped(True, status_message="by ClearML's signature") == "stopped"
    assert c.status_reason == "by ClearML's signature"


def test_mark_stopped_and_failed_of_the_task_run_by_hand(store: Store) -> None:
    task = Task.init("p", "stop me")
    assert task.mark_stopped() == "stopped"
    assert task.status is TaskStatus.STOPPED and Task.current_task() is None
    other = Task.init("p", "fail me", reuse_last_task_id=False)
    other.mark_failed(status_reason="bad data")
    assert other.status is TaskStatus.FAILED
    other.close()  # already final: close keeps it
    assert other.status is TaskStatus.FAILED


# ======================================================================== argparse
def make_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser()
    parser.add_argument("--lr", type=float, default=0.1)
    parser.add_argument("--layers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--out", type=Path, default=Path("/tmp/out"))
    parser.add_argument("--fast", action="store_true")
    parser.add_argument("--skip-me", default="x")
    sub = parser.add_subparsers(dest="command")
    fit = sub.add_parser("fit")
    fit.add_argument("--epochs", type=int, default=3)
    return parser


def test_argparse_capture_by_hand(store: Store) -> None:
    task = Task.init("p", "args", auto_connect_arg_parser={"skip_me": False})
    opts = make_parser().parse_args(["--layers", "3", "4", "--lr", "0.5", "fit"])
    assert (opts.lr, opts.layers, opts.epochs) == (0.5, [3, 4], 3)
    assert task.get_parameters() == {"Args/lr": 0.5, "Args/layers": [3, 4],
                                     "Args/out": "/tmp/out", "Args/fast": False,
                                     "Args/command": "fit", "Args/epochs": 3}
    _, rest = make_parser().parse_known_args(["--lr", "0.25", "--unknown"])
    assert rest == ["--unknown"] and task.get_parameter("Args/lr") == 0.25


def test_arguments_parsed_before_init_are_connected_at_init(store: Store) -> None:
    make_parser().parse_args(["--lr", "0.3"])
    task = Task.init("p", "late init")
    assert task.get_parameter("Args/lr") == 0.3


def test_argparse_capture_off(store: Store) -> None:
    task = Task.init("p", "off", auto_connect_arg_parser=False)
    make_parser().parse_args([])
    assert task.get_parameters() == {}
    task.close()
    only = Task.init("p", "only", auto_connect_arg_parser={"lr": True, "*": False})
    make_parser().parse_args([])
    assert only.get_parameters() == {"Args/lr": 0.1}


def test_argparse_in_a_trial_returns_the_trials_values(store: Store) -> None:
    trial = trial_of(store, {"Args/lr": 0.05, "Args/layers": ["7", "8"], "Args/out": "/data",
                             "Args/fast": True, "Args/epochs": "9"})
    Task.init()
    opts = make_parser().parse_args(["--lr", "0.5", "fit"])
    assert (opts.lr, opts.layers, opts.out, opts.fast, opts.epochs) == (
        0.05, [7, 8], Path("/data"), True, 9)
    # arguments the trial lacks are recorded with their parsed values
    assert trial.get_parameter("Args/command") == "fit"
    assert trial.get_parameter("Args/skip_me") == "x"


def test_a_record_that_cannot_be_written_does_not_break_parsing(
        store: Store, caplog: pytest.LogCaptureFixture) -> None:
    task = Task.init("p", "final")
    store.set_fields(task.id, {"status": "completed"})  # parameters are frozen now
    opts = make_parser().parse_args(["--lr", "0.7"])
    assert opts.lr == 0.7 and "arguments not recorded" in caplog.text


# ================================================================= the worker side
def test_script_command_names_a_missing_script(tmp_path: Path) -> None:
    script = tmp_path / "train.py"
    record = {"id": "t1", "script": str(script), "interpreter": "/no/such/python",
              "working_dir": str(tmp_path)}
    with pytest.raises(FileNotFoundError, match=f"script {script} of task t1 not found"):
        clearml_task.script_command(record, ["/no/such/python", str(script)])
    script.write_text("print(1)\n")
    assert clearml_task.script_command(record, ["/no/such/python", str(script), "--a"]) == [
        sys.executable, str(script), "--a"]
    assert clearml_task.script_command({}, ["x"]) == ["x"]
