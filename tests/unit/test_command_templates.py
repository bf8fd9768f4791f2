"""Command templates: hpqueue's ``{{ Section/name }}`` and Polyaxon's ``{{ name }}`` forms,
``params.*``, ``globals.*`` context values and flags; dates in parameters; the Polyaxon tracking
API on a trial's task."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime
from pathlib import Path

import pytest

from workers import PlaceholderError, Store, tracking
from workers.codec import dumps
from workers.entrypoints import placeholders, render_command
from workers.task import Task, bind_current

PARAMS = {"General/lr": 0.001, "General/act": "relu", "General/flag": True,
          "General/off": False, "General/sizes": [1, 2], "General/opt": {"a": "b"},
          "General/none": None, "Model/depth": 3}
CONTEXT = {"globals.uuid": "abc", "globals.run_outputs_path": "/x/abc/outputs"}


@pytest.mark.parametrize("template, rendered", [
    # hpqueue's form: a string as it is, anything else as JSON
    ("--lr={{ General/lr }}", "--lr=0.001"),
    ("{{ General/flag }}", "true"),
    ("{{General/sizes}}", "[1, 2]"),
    ("{{ Model/depth }}", "3"),
    # Polyaxon's form: the value as Jinja prints it
    ("--lr={{ lr }}", "--lr=0.001"),
    ("--act={{ act }}", "--act=relu"),
    ("{{ flag }}", "True"),
    ("{{ sizes }}", "[1, 2]"),
    ("{{ opt }}", "{'a': 'b'}"),
    ("{{ none }}", "None"),
    ("{{ params.lr.value }}/{{ params.act.as_str }}", "0.001/relu"),
    ("{{ params.lr.as_arg }}", "--lr=0.001"),
    ("{{ lr | as_arg }}", "--lr=0.001"),
    ("{{ flag | flag }}", "--flag"),
    # context values
    ("--out={{ globals.run_outputs_path }}/{{ globals.uuid }}", "--out=/x/abc/outputs/abc"),
])
def test_forms(template: str, rendered: str) -> None:
    assert render_command(["x", template], PARAMS, CONTEXT) == ["x", rendered]


def test_an_argument_rendering_to_nothing_is_left_out() -> None:
    command = ["train", "{{ off | flag }}", "{{ none | as_arg }}", "{{ flag | flag }}", ""]
    assert render_command(command, PARAMS) == ["train", "--flag", ""]


def test_placeholders_are_parameter_keys() -> None:
    command = ["{{ lr }}", "{{ Model/depth }}", "{{ params.act.as_arg }}",
               "{{ globals.uuid }}", "{{ flag | flag }}"]
    assert placeholders(command) == {"General/lr", "Model/depth", "General/act",
                                     "General/flag"}


@pytest.mark.parametrize("template, match", [
    ("{{ momentum }}", "match no parameter or context value"),
    ("{{ globals.nope }}", r"\{\{ globals.nope \}\}"),
    ("{{ lr | upper }}", "unknown filter 'upper'"),
    ("{{ params.lr.default }}", "params.NAME.value"),
])
def test_errors_name_the_placeholder(template: str, match: str) -> None:
    with pytest.raises(PlaceholderError, match=match):
        render_command([template], PARAMS, CONTEXT)


def test_task_create_checks_names_and_context_keys(store: Store) -> None:
    task = Task.create("p", "t", command=["x", "{{ lr }}", "{{ globals.run_uuid }}"],
                       parameters={"lr": 0.1})
    assert task.command == ["x", "{{ lr }}", "{{ globals.run_uuid }}"]
    with pytest.raises(PlaceholderError, match="General/momentum"):
        Task.create("p", "t", command=["x", "{{ momentum }}"], parameters={"lr": 0.1})
    with pytest.raises(PlaceholderError, match=r"globals.job.*no context value.*globals.uuid"):
        Task.create("p", "t", command=["x", "{{ globals.job }}"])


def test_template_context(store: Store, tmp_path: Path) -> None:
    task = Task.create("proj", "train", command=["x"])
    context = task.template_context()
    root = store.settings.artifacts_root / task.id
    assert context == {"globals.uuid": task.id, "globals.run_uuid": task.id,
                       "globals.name": "train", "globals.project_name": "proj",
                       "globals.run_artifacts_path": str(root),
                       "globals.run_outputs_path": str(root / "outputs")}
    assert (root / "outputs").is_dir()


def test_dates_are_stored_as_their_text_and_connect_reads_them_back(store: Store) -> None:
    assert dumps({"d": date(2019, 6, 22), "t": datetime(2019, 6, 22, 21)}) == (
        '{"d":"2019-06-22","t":"2019-06-22 21:00:00"}')
    base = Task.create("p", "t", command=["x"], parameters={"day": "2019-06-23",
                                                            "at": "2019-06-22 22:30:00"})
    got = base.connect({"day": date(2019, 1, 1), "at": datetime(2019, 1, 1),
                        "since": date(2018, 1, 1)})
    assert got == {"day": date(2019, 6, 23), "at": datetime(2019, 6, 22, 22, 30),
                   "since": date(2018, 1, 1)}
    assert base.get_parameter("since") == "2018-01-01"  # the default, written as text
    with pytest.raises(ValueError, match="not a date"):
        Task.create("p", "u", command=["x"], parameters={"day": "soon"}).connect(
            {"day": date(2019, 1, 1)})


# ---------------------------------------------------------------------- tracking
@pytest.fixture
def trial(store: Store) -> Iterator[Task]:
    task = Task.clone(Task.create("p", "train", command=["x"], parameters={"lr": 0.1}))
    bind_current(task)
    yield task
    bind_current(None)


def test_tracking_writes_to_the_trials_task(trial: Task) -> None:
    assert tracking.init(project="ignored") == trial
    for step in range(3):
        tracking.log_metrics(step=step, loss=1.0 / (step + 1), accuracy=0.5 + step / 10)
    tracking.log_metric("lr", 0.5)  # no step: the metric's next iteration
    tracking.log_metric("lr", 0.25)
    metrics = trial.get_last_scalar_metrics()
    assert metrics["loss"]["loss"]["last"] == pytest.approx(1 / 3)
    assert metrics["loss"]["loss"]["iteration"] == 2
    assert metrics["accuracy"]["accuracy"]["max"] == pytest.approx(0.7)
    assert trial.get_reported_scalars()["lr"]["lr"] == {"x": [0, 1], "y": [0.5, 0.25]}
    tracking.log_outputs(loss=0.2, model="cnn")
    tracking.log_outputs(best_epoch=2)
    assert trial.artifacts["outputs"].get() == {"loss": 0.2, "model": "cnn", "best_epoch": 2}
    assert trial.get_last_scalar_metrics()["loss"]["loss"]["last"] == 0.2  # at iteration 3
    tracking.log_inputs(batch_size=64)
    assert trial.get_parameter("batch_size") == 64
    tracking.log_tags(["a", "b"])
    assert {"a", "b"} <= set(trial.reload().tags)
    assert Path(tracking.get_outputs_path()).is_dir()
    assert tracking.get_artifacts_path() == str(trial.artifacts_path)
    tracking.end()


def test_tracking_outside_a_trial_says_so(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("HPQ_TASK_ID", raising=False)
    bind_current(None)
    with pytest.raises(tracking.TrackingError, match="not an hpqueue trial"):
        tracking.init()
