"""An optimizer's saved state behind one repository.

* :mod:`.state`: the typed saved state (:class:`SavedState` with its :class:`SchedulerState`,
  :class:`Timing`, :class:`Resources`; the job rows are :class:`controller.jobs.Job`), best
  points, :class:`Progress`, and :func:`restore_scheduler` (a scheduler rebuilt from them);
* :mod:`.repository`: :class:`OptimizerRepository`, the only reader and writer of the keys in
  :mod:`.keys` (save a pass, load, progress, list, the lease).
"""

from .keys import OptimizerKeys
from .repository import OptimizerRepository, RowMemo, SavedPass
from .state import (
    BestPoint,
    Progress,
    Resources,
    SavedOptimizer,
    SavedState,
    SchedulerState,
    TimeLimit,
    Timing,
    restore_scheduler,
)

__all__ = [
    "BestPoint",
    "OptimizerKeys",
    "OptimizerRepository",
    "Progress",
    "Resources",
    "RowMemo",
    "SavedOptimizer",
    "SavedPass",
    "SavedState",
    "SchedulerState",
    "TimeLimit",
    "Timing",
    "restore_scheduler",
]
