"""Polyaxonfiles: an operation (``kind: operation``, or a ``kind: component`` file) as an hpqueue
base task and optimizer. ``hpq run -f FILE [-f OVERRIDE ...]`` runs them.

The file (YAML or JSON) holds ``version``, ``kind``, ``name``, ``matrix``, ``params``, ``queue``,
``termination.timeout`` and the component: inline (``component``) or in a file (``pathRef``,
relative to the polyaxonfile). More files are presets merged over the first one, as Polyaxon's
``-f`` does (``patchStrategy``: ``post_merge``, the default, merges dicts and the preset wins;
``pre_merge`` merges and the file wins; ``replace`` and ``isnull`` work on top-level keys).
What cannot be fetched or run here is refused with a message saying so: ``urlRef``, ``hubRef``,
``dagRef``, ``joins``, schedules, hooks, DAG dependencies, builds, init containers.

The component:

* its ``inputs`` (``name``, ``type``, ``value``, ``isOptional``, ``isFlag``, ``isList``,
  ``options``) become the base task's parameters in section ``General`` (``General/lr``), with
  their defaults; a value of the operation's ``params`` (``{name: {value: ...}}``) replaces a
  default. Values are checked against the types as Polyaxon parses them (``int``, ``float``,
  ``bool``, ``str``, ``dict``, ``list``, ``date``, ``datetime``; other types are kept as given).
  A required input must get a value from ``params``, the matrix or the mapping ("Input X is
  required, no param was passed.");
* the matrix's params, its resource (hyperband) and the mapping's keys are parameters too (the
  inputs they feed are checked as Polyaxon checks them: numeric kinds need an ``int``/``float``
  input, the date kinds a ``date``/``datetime`` one; a name that is no input still reaches the
  command's templates, as Polyaxon's context-only params); generated values are cast to an
  ``int`` input's type when they are integral (``linspace`` gives floats);
* ``run.container.command`` + ``args`` is the base task's command (a string is one argument, as
  in Kubernetes), run in ``workingDir`` (default: the polyaxonfile's directory). Its templates are
  rendered per trial (:func:`workers.entrypoints.render_command`): ``{{ lr }}``,
  ``{{ params.lr.as_arg }}``, an ``isFlag`` input as ``--name`` or nothing, and
  ``{{ globals.uuid }}``/``run_uuid``, ``name``, ``project_name``, ``run_artifacts_path``,
  ``run_outputs_path``. ``image`` and ``resources`` are accepted and not used: a trial runs in
  its worker's environment. (The documentation's hyperband example puts ``container`` straight
  under ``component``; that is accepted as ``run: {kind: job, container: ...}``.)

The objective is the matrix's ``metric``: a trial reports it as the scalar of title and series
``metric.name`` (:mod:`workers.tracking`'s ``log_metrics(loss=...)``), in the metric's direction.
A matrix without a metric (mapping, grid, random) takes its first metric early-stopping entry's
metric, else ``loss`` minimized. An operation without a matrix runs once.
"""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Mapping, Sequence
from datetime import date, datetime
from pathlib import Path
from typing import Any

from workers.entrypoints import DEFAULT_SECTION
from workers.store import Store
from workers.task import Task, full_name

from ..objective import Objective
from ..optimizer import HyperParameterOptimizer
from ..parameters import DiscreteParameterRange, Parameter
from .early_stopping import V1MetricEarlyStopping
from .matrix import V1Hyperband, V1Mapping, _Matrix, read_matrix
from .schema import Schema, ValidationError, snake_keys

#: Keys an operation may have; what each refused one would need.
_OPERATION_KEYS = frozenset({"version", "kind", "name", "description", "tags", "matrix",
                             "component", "path_ref", "params", "queue", "termination",
                             "namespace", "is_approved", "cache", "plugins", "cost", "template",
                             "run_patch"})
_COMPONENT_KEYS = frozenset({"version", "kind", "name", "description", "tags", "inputs",
                             "outputs", "run", "container", "queue", "termination", "namespace",
                             "cache", "plugins", "cost", "template", "is_approved"})
_REFUSED = {
    "url_ref": "urlRef cannot be fetched here: download the component and use pathRef",
    "hub_ref": "hubRef cannot be fetched here: put the component in a file and use pathRef",
    "dag_ref": "dagRef (a DAG) is not supported",
    "joins": "joins are not supported (they query Polyaxon's runs)",
    "schedule": "schedules are not supported", "events": "events are not supported",
    "hooks": "hooks are not supported", "dependencies": "DAG dependencies are not supported",
    "trigger": "DAG triggers are not supported", "conditions": "conditions are not supported",
    "skip_on_upstream_skip": "DAG options are not supported",
    "build": "builds are not supported: trials run in the worker's environment",
    "presets": "named presets are not supported: give the preset files with -f",
    "contexts": "contexts are not supported",
}
_CONTAINER_IGNORED = frozenset({"image", "image_pull_policy", "name", "resources"})
_PRESET_KEYS = frozenset({"version", "kind", "is_preset", "patch_strategy"})
_IO_NAME_BLACKLIST = ("globals", "params", "connections")
_BOOLS = {"true": True, "yes": True, "1": True, "false": False, "no": False, "0": False}
_JINJA_STATEMENT = re.compile(r"\{%|\{#")


# ====================================================================== files
def _load(path: Path) -> dict[str, Any]:
    """One polyaxonfile (YAML, or JSON by its ``.json`` suffix) as a dict."""
    import yaml  # type: ignore[import-untyped]

    try:
        text = path.read_text()
    except OSError as exc:
        raise ValidationError(f"{path}: {exc.strerror or exc}") from None
    try:
        data = json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)
    except ValueError as exc:
        raise ValidationError(f"{path} is not valid JSON: {exc}") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise ValidationError(f"{path} is not valid YAML: {where}{problem}") from None
    if not isinstance(data, Mapping):
        raise ValidationError(f"{path}: expected a polyaxonfile (a mapping), got {data!r}")
    return dict(data)


def merge(base: Mapping[str, Any], over: Mapping[str, Any],
          strategy: str = "post_merge") -> dict[str, Any]:
    """``over`` patched onto ``base`` with Polyaxon's patch strategy (see the module docstring).

    Raises:
        ValidationError: for an unknown strategy.
    """
    if strategy == "replace":
        return {**base, **over}
    if strategy == "isnull":
        return {**base, **{k: v for k, v in over.items() if base.get(k) is None}}
    if strategy not in ("post_merge", "pre_merge"):
        raise ValidationError(f"patchStrategy must be post_merge, pre_merge, replace or isnull, "
                              f"got {strategy!r}")
    out = dict(base)
    for key, value in over.items():
        mine = out.get(key)
        if isinstance(mine, Mapping) and isinstance(value, Mapping):
            out[key] = merge(mine, value, strategy)
        elif strategy == "post_merge" or mine is None:
            out[key] = value
    return out


def _check_keys(section: Mapping[str, Any], known: frozenset[str], where: str) -> None:
    for key in section:
        if key in _REFUSED:
            raise ValidationError(f"{where}: {_REFUSED[key]}")
    unknown = sorted(set(section) - known)
    if unknown:
        raise ValidationError(f"{where}: unknown or unsupported key(s) {', '.join(unknown)}")


# ====================================================================== inputs
@dataclasses.dataclass(kw_only=True)
class V1IO(Schema):
    """A component input: ``name``, ``type``, default ``value``, ``isOptional``, ``isFlag``,
    ``isList``, ``options``, ``description``, ``delayValidation``."""

    name: str
    type: str | None = None
    value: Any = None
    is_optional: bool | None = None
    is_flag: bool | None = None
    is_list: bool | None = None
    options: list[Any] | None = None
    description: str | None = None
    delay_validation: bool | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name or "/" in self.name:
            raise ValidationError(f"input name must be a name without '/', got {self.name!r}")
        if self.name in _IO_NAME_BLACKLIST:
            raise ValidationError(f"input {self.name!r}: the names {list(_IO_NAME_BLACKLIST)} "
                                  f"are taken by the context")
        if self.is_flag and self.type not in ("bool", None):
            raise ValidationError(f"input {self.name!r}: type {self.type} cannot be a flag, it "
                                  f"must be bool")
        if self.value is not None:
            if not self.is_optional:
                raise ValidationError(
                    f"IO `{self.name}` is not optional and has default value `{self.value}`. "
                    f"Please either make it optional or remove the default value.")
            self.value = self.parse(self.value)

    @property
    def key(self) -> str:
        """The task parameter: ``General/<name>``."""
        return f"{DEFAULT_SECTION}/{self.name}"

    def parse(self, value: Any, where: str = "") -> Any:
        """``value`` read as this input's type (and checked against ``options``).

        Raises:
            ValidationError: naming the input.
        """
        what = f"input {self.name!r}{where}"
        if value is None:
            return None
        if self.is_list:
            if not isinstance(value, list):
                raise ValidationError(f"{what} expects a list, got {value!r}")
            return [_parse_type(self.type, v, what) for v in value]
        parsed = _parse_type(self.type, value, what)
        if self.options is not None and parsed not in self.options:
            raise ValidationError(f"{what}: {value!r} is not one of {self.options}")
        return parsed


def _parse_type(kind: str | None, value: Any, what: str) -> Any:
    """Polyaxon's parsing of one value of type ``kind`` (JSON form for dates)."""
    number = isinstance(value, (int, float)) and not isinstance(value, bool)
    try:
        if kind == "int":
            parsed = float(value) if isinstance(value, str) else value
            if not isinstance(parsed, (int, float)) or isinstance(parsed, bool) \
                    or parsed != int(parsed):
                raise ValueError
            return int(parsed)
        if kind == "float":
            if not (number or isinstance(value, str)):
                raise ValueError
            return float(value)
        if kind == "bool":
            if isinstance(value, str) and value.lower() in _BOOLS:
                return _BOOLS[value.lower()]
            if not isinstance(value, bool):
                raise ValueError
            return value
        if kind == "str":
            if isinstance(value, (dict, list)):
                raise ValueError
            return value if isinstance(value, str) else str(value)
        if kind in ("dict", "list"):
            if isinstance(value, str):
                value = json.loads(value)
            if not isinstance(value, dict if kind == "dict" else list):
                raise ValueError
            return value
        if kind in ("date", "datetime"):
            parse = date.fromisoformat if kind == "date" else datetime.fromisoformat
            return str(value if isinstance(value, date) else parse(str(value)))
    except (TypeError, ValueError, OverflowError):
        raise ValidationError(f"{what}: {value!r} is not a valid {kind}") from None
    return value


# ====================================================================== the operation
@dataclasses.dataclass
class PolyaxonOperation:
    """A read polyaxonfile: what :meth:`create_base_task` and :meth:`optimizer` need."""

    name: str
    matrix: _Matrix
    inputs: list[V1IO]
    command: list[str]
    working_dir: Path
    parameters: dict[str, Any]
    tags: list[str]
    queue: str | None = None
    timeout: float | None = None

    @property
    def objective(self) -> tuple[str, str, str]:
        """``(title, series, sign)`` of the objective (see the module docstring)."""
        metric = self.matrix.metric_section()
        if metric is not None:
            return metric.name, metric.name, metric.sign
        for entry in self.matrix.early_stopping or ():
            if isinstance(entry, V1MetricEarlyStopping):
                title, _, series = entry.metric.partition("/")
                return title, series or title, entry.optimization.sign
        return "loss", "loss", "min"

    @property
    def concurrency(self) -> int | None:
        """The matrix's clamped concurrency (None: the optimizer's default)."""
        return self.matrix.convert().max_number_of_concurrent_tasks

    def create_base_task(self, project: str, store: Store | None = None) -> Task:
        """The base task every trial clones (status ``created``)."""
        return Task.create(project, self.name, command=self.command,
                           parameters=self.parameters, tags=self.tags,
                           working_dir=str(self.working_dir), store=store)

    def optimizer(self, base_task_id: str, **kwargs: Any) -> HyperParameterOptimizer:
        """The optimizer of the matrix over ``base_task_id``; ``kwargs`` are further optimizer
        arguments (``store``, ``spawn_project``, ...)."""
        objective = Objective(*self.objective)
        if self.queue is not None:
            kwargs.setdefault("execution_queue", self.queue)
        if self.timeout is not None:
            kwargs.setdefault("time_limit_per_job", self.timeout / 60.0)
        converted = self.matrix.convert(objective)
        converted.hyper_parameters = cast_to_inputs(converted.hyper_parameters, self.inputs)
        return converted.optimizer(base_task_id, objective, **kwargs)


def read_polyaxonfiles(paths: Sequence[str | Path]) -> PolyaxonOperation:
    """The operation of ``paths``: a polyaxonfile and the presets merged over it.

    Raises:
        ValidationError: naming the file, section, input or param that is wrong.
    """
    if not paths:
        raise ValidationError("give a polyaxonfile")
    first = Path(paths[0])
    data = _load(first)
    for preset_path in paths[1:]:
        preset = _load(Path(preset_path))
        strategy = preset.get("patchStrategy", preset.get("patch_strategy", "post_merge"))
        data = merge(data, {k: v for k, v in preset.items()
                            if str(k) not in ("version", "kind", "isPreset", "is_preset",
                                              "patchStrategy", "patch_strategy")}, strategy)
    try:
        return _operation(data, first.parent.resolve(), first.stem)
    except ValidationError as exc:
        raise ValidationError(f"{first}: {exc}") from None


def _operation(data: dict[str, Any], root: Path, stem: str) -> PolyaxonOperation:
    op = snake_keys(data, "operation")
    kind = op.get("kind", "operation")
    if kind == "component":
        op = {"kind": "operation", "component": data}
    elif kind != "operation":
        raise ValidationError(f"kind must be operation or component, got {kind!r}")
    _check_keys(op, _OPERATION_KEYS, "operation")
    component = _component(op, root)
    if op.get("run_patch") is not None:
        component["run"] = merge(component.get("run") or {}, op["run_patch"])
    inputs = [V1IO.from_dict(io) for io in component.get("inputs") or []]
    names = [io.name for io in inputs]
    if len(set(names)) != len(names):
        raise ValidationError(f"inputs: a name is given twice in {names}")
    matrix = read_matrix(op["matrix"]) if op.get("matrix") is not None else V1Mapping(
        values=[{}])
    parameters = _parameters(inputs, matrix, op.get("params"))
    command, working_dir = _command(component.get("run") or {}, inputs, root)
    termination = {**snake_keys(component.get("termination") or {}, "termination"),
                   **snake_keys(op.get("termination") or {}, "termination")}
    return PolyaxonOperation(
        name=str(op.get("name") or component.get("name") or stem), matrix=matrix,
        inputs=inputs, command=command, working_dir=working_dir, parameters=parameters,
        tags=[str(t) for t in [*(component.get("tags") or []), *(op.get("tags") or [])]],
        queue=op.get("queue") or component.get("queue"), timeout=termination.get("timeout"))


def _component(op: Mapping[str, Any], root: Path) -> dict[str, Any]:
    if (op.get("component") is None) == (op.get("path_ref") is None):
        raise ValidationError("give the component: inline (component) or in a file (pathRef)")
    if op.get("path_ref") is not None:
        path = (root / str(op["path_ref"])).resolve()
        try:
            data = _load(path)
        except ValidationError as exc:
            raise ValidationError(f"pathRef: {exc}") from None
    else:
        data = op["component"]
    component = snake_keys(data, "component")
    if component.get("kind", "component") != "component":
        raise ValidationError(f"component kind must be component, got {component['kind']!r}")
    _check_keys(component, _COMPONENT_KEYS, "component")
    if component.get("container") is not None:
        if component.get("run") is not None:
            raise ValidationError("component: give run.container or container, not both")
        component["run"] = {"kind": "job", "container": component.pop("container")}
    return component


def _parameters(inputs: list[V1IO], matrix: _Matrix, params: Any) -> dict[str, Any]:
    """The base task's parameters: the inputs' values, then the matrix's names."""
    by_name = {io.name: io for io in inputs}
    given = _param_values(params, by_name)
    out: dict[str, Any] = {io.key: given.get(io.name, io.value) for io in inputs}
    fed = set(given)
    for name, hp in matrix.hp().items():
        if name in by_name:
            hp.validate_io(name, by_name[name].type)
        out.setdefault(full_name(name), None)
        fed.add(name)
    if isinstance(matrix, V1Hyperband) and matrix.resource is not None:
        out.setdefault(full_name(matrix.resource.name), None)
        fed.add(matrix.resource.name)
    if isinstance(matrix, V1Mapping):
        for i, entry in enumerate(matrix.values):
            for name, value in entry.items():
                if name in by_name:
                    entry[name] = by_name[name].parse(value, f" (mapping values[{i}])")
                out.setdefault(full_name(name), None)
        fed |= set(matrix.values[0]) if matrix.values else set()
    for io in inputs:
        if io.name not in fed and io.value is None and not (io.is_optional
                                                            or io.delay_validation):
            raise ValidationError(f"Input {io.name} is required, no param was passed.")
    return out


def _param_values(params: Any, inputs: Mapping[str, V1IO]) -> dict[str, Any]:
    """The operation's ``params`` (``{name: {value: ...}}``), checked against the inputs."""
    if params is None:
        return {}
    if not isinstance(params, Mapping):
        raise ValidationError(f"params must be a dict of {{name: {{value: ...}}}}, got "
                              f"{params!r}")
    unexpected = sorted(set(params) - set(inputs))
    if unexpected:
        raise ValidationError(f"Received unexpected params `{unexpected}`")
    out = {}
    for name, param in params.items():
        spec = snake_keys(param, f"params.{name}")
        unknown = sorted(set(spec) - {"value", "context_only"})
        if unknown or "value" not in spec:
            raise ValidationError(f"params.{name}: only {{value: ...}} is supported (refs and "
                                  f"connections are not), got {dict(param)!r}")
        value = spec["value"]
        if isinstance(value, str) and "{{" in value:
            raise ValidationError(f"params.{name}: references ({value}) are not supported")
        out[name] = inputs[name].parse(value, " (params)")
    return out


def _command(run: Mapping[str, Any], inputs: list[V1IO], root: Path) -> tuple[list[str], Path]:
    """The base task's command (flags rewritten) and working directory."""
    run = snake_keys(run, "run")
    if run.get("kind", "job") != "job":
        raise ValidationError(f"run kind {run.get('kind')!r} is not supported (only job)")
    for key in ("init", "sidecars", "connections", "volumes"):
        if run.get(key):
            raise ValidationError(f"run.{key} is not supported: trials run in the worker's "
                                  f"environment")
    unknown = sorted(set(run) - {"kind", "container", "environment"})
    if unknown:
        raise ValidationError(f"run: unknown or unsupported key(s) {', '.join(unknown)}")
    container = snake_keys(run.get("container") or {}, "container")
    unknown = sorted(set(container) - _CONTAINER_IGNORED - {"command", "args", "working_dir"})
    if unknown:
        raise ValidationError(f"container: unsupported key(s) {', '.join(unknown)} (a trial "
                              f"runs in its worker's environment)")
    argv = [*_arguments(container.get("command"), "command"),
            *_arguments(container.get("args"), "args")]
    if not argv:
        raise ValidationError("container: give a command (and args)")
    for arg in argv:
        if _JINJA_STATEMENT.search(arg):
            raise ValidationError(f"container: Jinja statements are not supported: {arg!r}")
    for io in inputs:
        if io.is_flag:
            pattern = re.compile(r"\{\{\s*(?:params\.)?" + re.escape(io.name)
                                 + r"(?:\.(?:value|as_str|as_arg))?\s*\}\}")
            argv = [pattern.sub("{{ " + io.name + " | flag }}", arg) for arg in argv]
    working_dir = container.get("working_dir")
    if working_dir is not None and "{{" in str(working_dir):
        raise ValidationError(f"container.workingDir: templates are not supported "
                              f"({working_dir})")
    return argv, (root / str(working_dir)).resolve() if working_dir else root


def _arguments(value: Any, what: str) -> list[str]:
    """``command`` or ``args``: a list, or a string as one argument."""
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    if isinstance(value, list) and all(isinstance(a, (str, int, float)) for a in value):
        return [str(a) for a in value]
    raise ValidationError(f"container.{what} must be a string or a list of strings, got "
                          f"{value!r}")


def cast_to_inputs(parameters: Sequence[Parameter],
                   inputs: Sequence[V1IO]) -> list[Parameter]:
    """``parameters`` with generated values cast to their ``int``/``float`` input's type
    (integral floats to ints, ints to floats); other parameters as they are."""
    by_key = {io.key: io for io in inputs if io.type in ("int", "float") and not io.is_list}
    out = []
    for p in parameters:
        io = by_key.get(p.name or "")
        if io is None or not isinstance(p, DiscreteParameterRange):
            out.append(p)
            continue
        values = [io.parse(v) if io.type == "float" or float(v) == int(v) else v
                  for v in p.values]
        out.append(Parameter.from_dict({**p.to_dict(), "values": values}))
    return out
