"""A controller script imports only what it uses: its start-up is the time to its first trial."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

import controller
import controller.strategies

#: What ``from controller import HyperParameterOptimizer, RandomSearch`` must not import.
NOT_AT_START = ("controller.polyaxon", "controller.strategies.asha", "controller.strategies.bohb",
                "controller.strategies.pbt_server", "controller.strategies.optuna_search",
                "optuna", "workers.runner")


def test_a_random_search_script_does_not_import_the_other_strategies() -> None:
    code = ("import json, sys\n"
            "from controller import HyperParameterOptimizer, RandomSearch\n"
            "print(json.dumps(sorted(sys.modules)))")
    loaded = set(json.loads(subprocess.run([sys.executable, "-c", code], check=True, text=True,
                                           capture_output=True, timeout=120).stdout))
    assert not loaded & set(NOT_AT_START), sorted(loaded & set(NOT_AT_START))


@pytest.mark.parametrize("package", [controller, controller.strategies])
def test_every_exported_name_resolves(package: object) -> None:
    for name in package.__all__:  # type: ignore[attr-defined]
        assert getattr(package, name) is not None, name
    with pytest.raises(AttributeError, match="no attribute 'Nope'"):
        package.Nope  # type: ignore[attr-defined]  # noqa: B018
