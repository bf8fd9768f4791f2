"""phs's ``ExperimentDefinition``: a new experiment folder holding the target function and the
parameter definitions (same arguments as phs)::

    ExperimentDefinition(experiment_dir="/runs/griewank", target_module_root_dir="/code",
                         target_module_name="functions", target_function_name="test_griewank",
                         parameter_definitions=pardef.get_parameter_definitions())

It creates ``experiment_dir`` (an error if it exists, as phs) with ``results/``,
``parameter_definitions/`` and ``source_code_target/`` (a copy of the target module, which the
trials run), and ``experiment.json`` (the target and, once started, the optimizer's id).
``parameter_definitions_root_dir_in`` reads definitions exported by
``ParameterDefinition.export_parameter_definitions``; ``config_json_path`` reads the four
settings from a JSON file.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

from workers.entrypoints import check_entry_point

from .parameter_definition import (
    ParameterDefinition,
    ParameterSets,
    load_parameter_definitions,
)
from .search import as_definitions

EXPERIMENT_FILE = "experiment.json"
_SETTINGS = ("experiment_dir", "target_module_root_dir", "target_module_name",
             "target_function_name")


class ExperimentDefinition:
    """A new phs experiment (see the module docstring).

    Raises:
        ValueError: no parameter definitions, a missing setting, an existing ``experiment_dir``,
            or a target module or function that cannot be found.
    """

    def __init__(self, parameter_definitions: ParameterDefinition | ParameterSets | None = None,
                 parameter_definitions_root_dir_in: str | Path | bool = False,
                 **kwargs: Any) -> None:
        config = (json.loads(Path(kwargs["config_json_path"]).read_text(encoding="utf-8"))
                  if "config_json_path" in kwargs else kwargs)
        missing = [k for k in _SETTINGS if k not in config]
        unknown = sorted(set(config) - set(_SETTINGS))
        if missing or unknown:
            raise ValueError(f"ExperimentDefinition needs {list(_SETTINGS)}; missing {missing}"
                             + (f", unknown {unknown}" if unknown else ""))
        if parameter_definitions is not None:
            self.definitions = as_definitions(parameter_definitions)
        elif isinstance(parameter_definitions_root_dir_in, (str, Path)):
            self.definitions = load_parameter_definitions(parameter_definitions_root_dir_in)
        else:
            raise ValueError("no parameter definitions provided.")
        self.experiment_dir = Path(config["experiment_dir"])
        source = Path(config["target_module_root_dir"]) / f"{config['target_module_name']}.py"
        if not source.is_file():
            raise ValueError(f"target module {source} does not exist")
        if self.experiment_dir.exists():
            raise ValueError(f"directory {self.experiment_dir} already exists. Please choose a "
                             "different experiment directory.")
        for sub in ("results", "parameter_definitions", "source_code_target"):
            (self.experiment_dir / sub).mkdir(parents=True)
        copy = self.experiment_dir / "source_code_target" / source.name
        shutil.copy2(source, copy)
        self.target = f"{copy.resolve()}:{config['target_function_name']}"
        try:
            check_entry_point(self.target)
        except ValueError:
            shutil.rmtree(self.experiment_dir)
            raise
        (self.experiment_dir / "parameter_definitions" / "parameter_definitions.json") \
            .write_text(self.definitions.to_json(), encoding="utf-8")
        write_experiment(self.experiment_dir, {"target": self.target, "optimizer_id": None})


def read_experiment(experiment_dir: str | Path) -> dict[str, Any]:
    """``experiment.json`` of an experiment; ValueError if ``experiment_dir`` is none."""
    path = Path(experiment_dir) / EXPERIMENT_FILE
    if not path.is_file():
        raise ValueError(f"{experiment_dir} is not an experiment (no {EXPERIMENT_FILE}): create "
                         "it with ExperimentDefinition")
    return json.loads(path.read_text(encoding="utf-8"))


def write_experiment(experiment_dir: str | Path, data: dict[str, Any]) -> None:
    path = Path(experiment_dir) / EXPERIMENT_FILE
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(data, indent=1), encoding="utf-8")
    tmp.replace(path)
