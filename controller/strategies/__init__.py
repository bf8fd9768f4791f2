"""Search strategies: one small module per algorithm behind :class:`SearchStrategy`."""

from .base import WAIT, Decision, SearchStrategy, Suggestion, Trial, Wait
from .grid_random import GridSearch, RandomSearch

__all__ = ["WAIT", "Decision", "GridSearch", "RandomSearch", "SearchStrategy", "Suggestion",
           "Trial", "Wait"]
