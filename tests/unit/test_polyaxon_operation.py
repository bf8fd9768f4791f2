"""Polyaxonfiles: reading an operation and its component, presets, refusals, the inputs'
types and the matrix's check against them (as Polyaxon's typing tests), the base task and
optimizer, and ``hpq run`` on in-process workers."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from controller.cli import main
from controller.polyaxon import V1Hyperband, V1Mapping, ValidationError
from controller.polyaxon.operation import merge, read_polyaxonfiles
from workers import Store
from workers.task import Task

from .test_report import inline_workers  # noqa: F401 - a fixture

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "polyaxon"

COMPONENT: dict[str, Any] = {
    "inputs": [{"name": "lr", "type": "float", "value": 0.1, "isOptional": True},
               {"name": "epochs", "type": "int"},
               {"name": "act", "type": "str", "value": "relu", "isOptional": True},
               {"name": "debug", "type": "bool", "isFlag": True, "value": False,
                "isOptional": True}],
    "run": {"kind": "job", "container": {
        "image": "foo:latest", "command": ["python3", "train.py"],
        "args": ["--lr={{ lr }}", "--epochs={{ params.epochs.value }}", "{{ debug }}",
                 "--out={{ globals.run_outputs_path }}"]}}}


def write(tmp_path: Path, name: str, data: Any) -> Path:
    path = tmp_path / name
    path.write_text(data if isinstance(data, str) else yaml.safe_dump(data))
    return path


def operation(tmp_path: Path, **fields: Any) -> Path:
    return write(tmp_path, "polyaxonfile.yaml",
                 {"version": 1.1, "kind": "operation", "component": COMPONENT, **fields})


# ====================================================================== reading
def test_inputs_become_general_parameters_and_the_container_the_command(tmp_path: Path) -> None:
    op = read_polyaxonfiles([operation(tmp_path, name="train", params={"epochs": {"value": 3}})])
    assert op.name == "train"
    assert op.parameters == {"General/lr": 0.1, "General/epochs": 3, "General/act": "relu",
                             "General/debug": False}
    assert op.command == ["python3", "train.py", "--lr={{ lr }}",
                          "--epochs={{ params.epochs.value }}", "{{ debug | flag }}",
                          "--out={{ globals.run_outputs_path }}"]
    assert op.working_dir == tmp_path.resolve()
    assert isinstance(op.matrix, V1Mapping) and op.matrix.values == [{}]  # runs once
    assert op.objective == ("loss", "loss", "min")


def test_path_ref_presets_and_a_component_file(tmp_path: Path) -> None:
    write(tmp_path, "component.yaml", {"version": 1.1, "kind": "component", "name": "comp",
                                       **COMPONENT})
    path = write(tmp_path, "op.yaml", {"version": 1.1, "kind": "operation",
                                       "pathRef": "component.yaml",
                                       "matrix": {"kind": "grid", "concurrency": 8, "params": {
                                           "epochs": {"kind": "choice", "value": [1, 2]}}}})
    preset = write(tmp_path, "preset.yaml", {"isPreset": True, "queue": "gpu",
                                             "matrix": {"concurrency": 1},
                                             "termination": {"timeout": 90}})
    op = read_polyaxonfiles([path, preset])
    assert op.name == "comp" and op.queue == "gpu" and op.timeout == 90
    assert op.matrix.concurrency == 1 and op.concurrency == 1
    assert op.parameters["General/epochs"] is None  # fed by the matrix
    assert read_polyaxonfiles([path]).concurrency == 2  # clamped to the 2 possible runs
    # a component file runs once
    single = write(tmp_path, "single.yaml", {"version": 1.1, "kind": "component", **COMPONENT,
                                             "inputs": COMPONENT["inputs"][:1]})
    assert read_polyaxonfiles([single]).parameters == {"General/lr": 0.1}


def test_merge_strategies() -> None:
    base = {"a": 1, "m": {"x": 1, "y": 2}, "n": None}
    over = {"a": 2, "m": {"y": 3, "z": 4}, "n": 5}
    assert merge(base, over) == {"a": 2, "m": {"x": 1, "y": 3, "z": 4}, "n": 5}
    assert merge(base, over, "pre_merge") == {"a": 1, "m": {"x": 1, "y": 2, "z": 4}, "n": 5}
    assert merge(base, over, "replace") == {"a": 2, "m": {"y": 3, "z": 4}, "n": 5}
    assert merge(base, over, "isnull") == {"a": 1, "m": {"x": 1, "y": 2}, "n": 5}
    with pytest.raises(ValidationError, match="patchStrategy"):
        merge(base, over, "sideways")


@pytest.mark.parametrize("fields, match", [
    ({"urlRef": "https://x/typed.yaml"}, "urlRef cannot be fetched here"),
    ({"hubRef": "acme/typed"}, "hubRef cannot be fetched here"),
    ({"joins": [{"query": "status: succeeded"}]}, "joins are not supported"),
    ({"schedule": {"kind": "cron"}}, "schedules are not supported"),
    ({"fooBar": 1}, "unknown or unsupported key.*foo_bar"),
    ({"kind": "dag"}, "kind must be operation or component"),
    ({"params": {"epochs": {"value": "many"}}},
     r"input 'epochs' \(params\): 'many' is not a valid int"),
    ({"params": {"epochs": {"value": 3}, "batch": {"value": 1}}},
     r"Received unexpected params `\['batch'\]`"),
    ({"params": {"epochs": {"ref": "ops.train", "value": "outputs.x"}}}, "only {value: ...}"),
    ({}, "Input epochs is required, no param was passed."),
    ({"params": {"epochs": {"value": 3}}, "matrix": {"kind": "grid", "params": {
        "act": {"kind": "linspace", "value": [1, 2, 3]}}}},
     ("Param `act` has a an input type `str` and it does not correspond to hyper-param type "
      "`int or float`")),
    ({"params": {"epochs": {"value": 3}}, "matrix": {"kind": "grid", "params": {
        "lr": {"kind": "daterange", "value": ["2019-06-22", "2019-06-25", 1]}}}},
     "hyper-param type `date`"),
    ({"params": {"epochs": {"value": 3}}, "matrix": {"kind": "grid", "params": {
        "lr": {"kind": "activation", "value": [1]}}}}, "unknown param kind 'activation'"),
])
def test_refusals_name_what_is_wrong(tmp_path: Path, fields: dict[str, Any], match: str) -> None:
    with pytest.raises(ValidationError, match=match) as info:
        read_polyaxonfiles([operation(tmp_path, **fields)])
    assert str(info.value).startswith(str(tmp_path / "polyaxonfile.yaml"))


@pytest.mark.parametrize("inputs, match", [
    ([{"name": "x", "type": "int", "value": 1}], "IO `x` is not optional and has default value"),
    ([{"name": "x", "type": "str", "isFlag": True}], "cannot be a flag"),
    ([{"name": "params", "type": "str"}], "taken by the context"),
    ([{"name": "x", "type": "int", "value": 1.5, "isOptional": True}], "not a valid int"),
    ([{"name": "x", "type": "str", "value": "c", "options": ["a", "b"], "isOptional": True}],
     "not one of"),
    ([{"name": "x", "type": "int"}, {"name": "x", "type": "int"}], "given twice"),
    ([{"name": "x", "kind": "int"}], "unknown field"),
])
def test_input_validation(tmp_path: Path, inputs: list[dict[str, Any]], match: str) -> None:
    with pytest.raises(ValidationError, match=match):
        read_polyaxonfiles([write(tmp_path, "c.yaml", {"kind": "component", "inputs": inputs,
                                                        "run": COMPONENT["run"]})])


@pytest.mark.parametrize("run, match", [
    ({"kind": "service", "container": {"command": ["x"]}}, "run kind 'service'"),
    ({"kind": "job", "init": [{"git": {"url": "u"}}], "container": {"command": ["x"]}},
     "run.init is not supported"),
    ({"kind": "job", "container": {"command": ["x"], "env": [{"name": "A"}]}},
     "unsupported key.*env"),
    ({"kind": "job", "container": {"image": "x"}}, "give a command"),
    ({"kind": "job", "container": {"command": ["{% if x %}a{% endif %}"]}}, "Jinja statements"),
])
def test_container_refusals(tmp_path: Path, run: dict[str, Any], match: str) -> None:
    with pytest.raises(ValidationError, match=match):
        read_polyaxonfiles([write(tmp_path, "c.yaml", {"kind": "component", "run": run})])


def test_yaml_errors_name_the_file_and_line(tmp_path: Path) -> None:
    # the documentation's hyperband example indents early_stopping by 3 spaces
    broken = (EXAMPLES / "hyperband.yaml").read_text().replace("  early_stopping:",
                                                              "   early_stopping:")
    path = write(tmp_path, "doc.yaml", broken)
    with pytest.raises(ValidationError, match=r"doc.yaml is not valid YAML: line 38, column 4: "
                                              r"expected <block end>"):
        read_polyaxonfiles([path])
    with pytest.raises(ValidationError, match="No such file"):
        read_polyaxonfiles([tmp_path / "none.yaml"])


# ====================================================================== the examples
def test_the_documented_hyperband_file() -> None:
    op = read_polyaxonfiles([EXAMPLES / "hyperband.yaml"])
    assert isinstance(op.matrix, V1Hyperband)
    assert (op.matrix.max_iterations, op.matrix.eta, op.matrix.s_max) == (81, 3, 4)
    assert op.parameters == {"General/batch_size": 128, "General/logspace": 0.01,
                             "General/dropout": None, "General/lr": None,
                             "General/activation": None, "General/num_steps": None}
    assert op.objective == ("loss", "loss", "min") and op.concurrency == 5
    converted = op.matrix.convert()
    assert [p["kind"] for p in converted.early_stopping] == ["metric_early_stopping"] * 2
    assert converted.early_stopping[0]["metric"] == "accuracy/accuracy"
    assert sum(n for *_, n, _ in op.matrix.schedule()) == 207


def test_the_documented_mapping_file() -> None:
    op = read_polyaxonfiles([EXAMPLES / "mapping.yaml"])
    assert op.name == "typed-experiment"
    assert isinstance(op.matrix, V1Mapping)
    assert op.matrix.values == [
        {"learning_rate": 0.001, "dropout": 0.25, "conv_activation": "relu", "epochs": 5},
        {"learning_rate": 0.01, "dropout": 0.5, "conv_activation": "sigmoid", "epochs": 5}]
    assert op.parameters["General/epochs"] is None and op.parameters["General/conv1_size"] == 32
    assert op.command[:2] == ["python3", "train.py"] and op.working_dir == EXAMPLES


def test_generated_values_take_the_inputs_types(tmp_path: Path, store: Store) -> None:
    path = operation(tmp_path, matrix={"kind": "grid", "params": {
        "epochs": {"kind": "linspace", "value": [1, 4, 4]},
        "lr": {"kind": "choice", "value": [1, 2]}}})
    op = read_polyaxonfiles([path])
    base = op.create_base_task("p", store)
    opt = op.optimizer(base.id, store=store)
    values = {p.name: p.to_list() for p in opt.get_optimizer().space.parameters}
    assert [v["General/epochs"] for v in values["General/epochs"]] == [1, 2, 3, 4]
    assert all(type(v["General/epochs"]) is int for v in values["General/epochs"])
    assert [v["General/lr"] for v in values["General/lr"]] == [1.0, 2.0]
    assert all(type(v["General/lr"]) is float for v in values["General/lr"])


# ====================================================================== hpq run
@pytest.mark.timeout(30)
def test_hpq_run_renders_each_trials_command(tmp_path: Path, store: Store, inline_workers,  # noqa: F811
                                             capsys: pytest.CaptureFixture[str]) -> None:
    component = {"inputs": [{"name": "lr", "type": "float"},
                            {"name": "fast", "type": "bool", "isFlag": True,
                             "isOptional": True, "value": False}],
                 "run": {"kind": "job", "container": {"command": [
                     sys.executable, "-c", "import sys; print(sys.argv[1:])",
                     "{{ lr }}", "{{ fast }}", "{{ globals.uuid }}"]}}}
    path = write(tmp_path, "op.yaml", {"version": 1.1, "kind": "operation", "name": "argv",
                                       "component": component, "matrix": {
                                           "kind": "mapping", "concurrency": 1,
                                           "values": [{"lr": 0.5}, {"lr": 1, "fast": True}]}})
    assert main(["run", "-f", str(path), "-p", "polyaxon-tests"]) == 0
    captured = capsys.readouterr()
    assert "hpq: argv: base task" in captured.err
    opt_id = captured.out.split("\noptimizer ")[1].split(":")[0]
    trials = sorted(Task.get_tasks(parent=opt_id), key=lambda t: t.created)
    assert [t.status.value for t in trials] == ["completed", "completed"]
    assert [t.get_parameter("lr") for t in trials] == [0.5, 1.0]  # cast to the float input
    assert f"['0.5', '{trials[0].id}']" in trials[0].output  # a false flag leaves nothing
    assert f"['1.0', '--fast', '{trials[1].id}']" in trials[1].output
    config = json.loads(store.record(opt_id).configuration or "{}")
    assert config["objectives"] == [{"title": "loss", "series": "loss", "sign": "min"}]


@pytest.mark.timeout(10)
def test_hpq_run_refuses_bad_files_with_exit_2(tmp_path: Path, store: Store,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    path = operation(tmp_path, urlRef="https://example.com/typed.yaml")
    assert main(["run", "-f", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("hpq run: ") and "urlRef cannot be fetched here" in err
    assert err.count("\n") == 1
    assert main(["run"]) == 2
    assert "Missing option '-f'" in capsys.readouterr().err
