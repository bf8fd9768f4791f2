"""hpqueue's optimization layer: the ClearML-compatible HyperParameterOptimizer, parameter
ranges, search strategies and early-stopping policies.

    from controller import HyperParameterOptimizer, RandomSearch, UniformParameterRange
"""

from .clearml_job import ClearmlJob
from .objective import MultiObjective, Objective
from .optimizer import HyperParameterOptimizer, LocalJob
from .parameters import (
    DiscreteParameterRange,
    LogUniformParameterRange,
    NormalParameter,
    Parameter,
    ParameterSet,
    PChoiceParameter,
    QUniformParameter,
    RandomSeed,
    SearchSpace,
    UniformIntegerParameterRange,
    UniformParameterRange,
)
from .polyaxon import matrix_from_polyaxon, optimizer_from_polyaxon, parameters_from_polyaxon
from .stopping import FailureRate, MedianStopping, MetricThreshold, StoppingPolicy
from .strategies import (
    ASHA,
    WAIT,
    BayesianGP,
    ClearMLSearchStrategy,
    Decision,
    GridSearch,
    Hyperband,
    Mapping,
    OptimizerBOHB,
    PBTServer,
    PopulationBasedTraining,
    RandomSearch,
    SearchStrategy,
    Suggestion,
    Trial,
    parameters_from_csv,
)

__all__ = [
    "ASHA",
    "WAIT",
    "BayesianGP",
    "ClearMLSearchStrategy",
    "ClearmlJob",
    "Decision",
    "DiscreteParameterRange",
    "FailureRate",
    "GridSearch",
    "HyperParameterOptimizer",
    "Hyperband",
    "LocalJob",
    "LogUniformParameterRange",
    "Mapping",
    "MedianStopping",
    "MetricThreshold",
    "MultiObjective",
    "NormalParameter",
    "Objective",
    "OptimizerBOHB",
    "OptimizerOptuna",
    "PBTServer",
    "PChoiceParameter",
    "Parameter",
    "ParameterSet",
    "PopulationBasedTraining",
    "QUniformParameter",
    "RandomSearch",
    "RandomSeed",
    "SearchSpace",
    "SearchStrategy",
    "StoppingPolicy",
    "Suggestion",
    "Trial",
    "UniformIntegerParameterRange",
    "UniformParameterRange",
    "matrix_from_polyaxon",
    "optimizer_from_polyaxon",
    "parameters_from_csv",
    "parameters_from_polyaxon",
]


def __getattr__(name: str) -> object:
    if name == "OptimizerOptuna":  # imports optuna on first use
        from .strategies import OptimizerOptuna

        return OptimizerOptuna
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
