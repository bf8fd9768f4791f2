"""Search strategies: one small module per algorithm behind :class:`SearchStrategy` (the core
contract, :mod:`.base`), each with ClearML's constructor and queries
(:class:`ClearMLSearchStrategy`, :mod:`.clearml_compat`).

Every strategy but the random and grid searches is imported on first use (Optuna's with Optuna).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..lazy import lazy_attributes
from .base import WAIT, Decision, OptimizerContext, SearchStrategy, Suggestion, Trial, Wait
from .clearml_compat import ClearMLSearchStrategy
from .grid_random import GridSearch, RandomSearch

if TYPE_CHECKING:
    from .asha import ASHA
    from .bayes_gp import BayesianGP
    from .bohb import OptimizerBOHB
    from .hyperband import Hyperband, HyperbandMath
    from .mapping import Mapping
    from .optuna_search import OptimizerOptuna, redis_journal_storage
    from .parameter_sets import ParameterSets
    from .pbt import PopulationBasedTraining
    from .pbt_server import PBTServer, parameters_from_csv

__getattr__ = lazy_attributes(__name__, {
    "ASHA": ".asha", "BayesianGP": ".bayes_gp", "OptimizerBOHB": ".bohb",
    "Hyperband": ".hyperband", "HyperbandMath": ".hyperband", "Mapping": ".mapping",
    "OptimizerOptuna": ".optuna_search", "redis_journal_storage": ".optuna_search",
    "ParameterSets": ".parameter_sets", "PopulationBasedTraining": ".pbt",
    "PBTServer": ".pbt_server", "parameters_from_csv": ".pbt_server",
})

__all__ = ["ASHA", "WAIT", "BayesianGP", "ClearMLSearchStrategy", "Decision", "GridSearch",
           "Hyperband", "HyperbandMath", "Mapping", "OptimizerBOHB", "OptimizerContext",
           "OptimizerOptuna", "PBTServer", "ParameterSets", "PopulationBasedTraining", "RandomSearch",
           "SearchStrategy", "Suggestion", "Trial", "Wait", "parameters_from_csv",
           "redis_journal_storage"]

