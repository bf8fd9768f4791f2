"""Search strategies: one small module per algorithm behind :class:`SearchStrategy` (the core
contract, :mod:`.base`), each with ClearML's constructor and queries
(:class:`ClearMLSearchStrategy`, :mod:`.clearml_compat`).

Strategies whose module needs a heavier library (Optuna) are imported on first use.
"""

from __future__ import annotations

import importlib
from typing import Any

from .asha import ASHA
from .base import WAIT, Decision, OptimizerContext, SearchStrategy, Suggestion, Trial, Wait
from .bayes_gp import BayesianGP
from .bohb import OptimizerBOHB
from .clearml_compat import ClearMLSearchStrategy
from .grid_random import GridSearch, RandomSearch
from .hyperband import Hyperband, HyperbandMath
from .mapping import Mapping
from .parameter_sets import ParameterSets
from .pbt import PopulationBasedTraining
from .pbt_server import PBTServer, parameters_from_csv

_LAZY = {
    "OptimizerOptuna": "optuna_search",
    "redis_journal_storage": "optuna_search",
}

__all__ = ["ASHA", "WAIT", "BayesianGP", "ClearMLSearchStrategy", "Decision", "GridSearch",
           "Hyperband", "HyperbandMath", "Mapping", "OptimizerBOHB", "OptimizerContext",
           "OptimizerOptuna", "PBTServer", "ParameterSets", "PopulationBasedTraining", "RandomSearch",
           "SearchStrategy", "Suggestion", "Trial", "Wait", "parameters_from_csv",
           "redis_journal_storage"]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
