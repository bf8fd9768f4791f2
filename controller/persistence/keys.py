"""The Redis keys of an optimizer's saved state: the controller's own keys, under the same
namespace prefix as the execution layer's (:mod:`workers.keys`).

=====================================  ==================  ================================================
key                                    type                content
=====================================  ==================  ================================================
``{ns}:opt:{id}:jobs``                 hash                job table: job id -> JSON row (:meth:`Job.to_row`)
``{ns}:opt:{id}:state``                hash                :class:`SavedState`: cursor, strategy, scheduler, timing, ...
``{ns}:opt:{id}:best``                 list                JSON :class:`BestPoint` of the best objective over time
``{ns}:opt:{id}:lease``                string (TTL)        the controller that currently drives the optimizer
=====================================  ==================  ================================================
"""

from __future__ import annotations


class OptimizerKeys:
    """Key names of the optimizers of one namespace."""

    def __init__(self, namespace: str) -> None:
        self.ns = namespace

    def jobs(self, opt_id: str) -> str:
        return f"{self.ns}:opt:{opt_id}:jobs"

    def state(self, opt_id: str) -> str:
        return f"{self.ns}:opt:{opt_id}:state"

    def best(self, opt_id: str) -> str:
        return f"{self.ns}:opt:{opt_id}:best"

    def lease(self, opt_id: str) -> str:
        return f"{self.ns}:opt:{opt_id}:lease"

    @property
    def every_state(self) -> str:
        """A SCAN pattern that matches the state key of every optimizer."""
        return self.state("*")

    def id_of_state(self, key: str) -> str:
        """The optimizer id in a key that :attr:`every_state` matched."""
        prefix, suffix = self.every_state.split("*")
        return key[len(prefix):-len(suffix)]
