"""hpqueue's optimization layer: the ClearML-compatible HyperParameterOptimizer, parameter
ranges, search strategies and early-stopping policies.

    from controller import HyperParameterOptimizer, RandomSearch, UniformParameterRange
"""

from .objective import MultiObjective, Objective
from .optimizer import HyperParameterOptimizer, LocalJob
from .parameters import (
    DiscreteParameterRange,
    LogUniformParameterRange,
    Parameter,
    ParameterSet,
    SearchSpace,
    UniformIntegerParameterRange,
    UniformParameterRange,
)
from .stopping import FailureRate, MedianStopping, MetricThreshold, StoppingPolicy
from .strategies import (
    WAIT,
    Decision,
    GridSearch,
    RandomSearch,
    SearchStrategy,
    Suggestion,
    Trial,
)

__all__ = [
    "WAIT",
    "Decision",
    "DiscreteParameterRange",
    "FailureRate",
    "GridSearch",
    "HyperParameterOptimizer",
    "LocalJob",
    "LogUniformParameterRange",
    "MedianStopping",
    "MetricThreshold",
    "MultiObjective",
    "Objective",
    "Parameter",
    "ParameterSet",
    "RandomSearch",
    "SearchSpace",
    "SearchStrategy",
    "StoppingPolicy",
    "Suggestion",
    "Trial",
    "UniformIntegerParameterRange",
    "UniformParameterRange",
]
