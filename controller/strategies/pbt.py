"""Population-based training (Jaderberg et al. 2017), asynchronous, with truncation selection.

A population of ``population_size`` members trains in segments of ``perturbation_interval``
units of the resource (epochs, steps). Each segment is one job that continues the member's
previous job from its checkpoint (``Suggestion.continue_from``; the trial calls
``task.latest_checkpoint()``). When a member's segment ends, its latest value is ranked against
every member's latest value (chrischute/pbt ranks each member's most recent checkpoint):

* exploit -- a member in the bottom ``quantile_fraction`` (at least one) copies a member drawn
  uniformly from the top ``quantile_fraction``: its next job continues the donor's checkpoint;
* explore -- the copied hyper-parameters are perturbed: each one is resampled from its range with
  probability ``resample_probability``, else multiplied by one of ``perturbation_factors``
  (0.8 or 1.2), clipped to its range and snapped to its points (:meth:`controller.space.Scalar.
  perturb`; a ParameterSet or a parameter without a dimension is always resampled);

otherwise the member continues its own checkpoint with its own hyper-parameters. No member
exploits before ``min_population`` members have a value (5, as chrischute/pbt); any member's
latest value may be copied, also one that finished its training.

Progress is counted per member, as each member of chrischute/pbt runs its own number of epochs:
every member trains ``max_resource`` units itself (``meta["progress"]``: the units it has
trained once the segment ends), in segments of ``perturbation_interval``, and ends there; a
failed segment ends it. The resource parameter of a segment is what its checkpoint must reach:
the checkpoint it continues (its own, or the donor's, which may have trained longer) plus the
segment's units, so a copied checkpoint keeps training and may pass ``max_resource``. The
hyper-parameter schedule of a member is the sequence of its jobs' parameters
(``meta["member"]``, ``meta["generation"]``).

For members that are one long-running trial each and call the seed's ``save`` /
``should_exploit`` / ``exploit`` / ``explore`` in their own loop, use
:class:`~controller.strategies.pbt_server.PBTServer` instead.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..space import Scalar
from .base import WAIT, Suggestion, Trial, Wait
from .clearml_compat import ClearMLSearchStrategy
from .hyperband import Resource


@dataclass
class _Segment:
    job_id: str
    config: dict[str, Any]
    resource: float  # what the segment's checkpoint reaches
    generation: int
    progress: float  # the units the member has trained itself once the segment ends
    status: str = "queued"
    value: float | None = None  # lower is better (loss)


@dataclass
class _Member:
    segments: list[_Segment] = field(default_factory=list)

    @property
    def latest(self) -> _Segment:
        return self.segments[-1]

    @property
    def latest_finished(self) -> bool:
        return self.latest.status in ("completed", "failed", "stopped")

    @property
    def score(self) -> float | None:
        """The loss of the newest segment that ended with a value."""
        for seg in reversed(self.segments):
            if seg.value is not None:
                return seg.value
        return None


class PopulationBasedTraining(ClearMLSearchStrategy):
    """Asynchronous PBT; see the module docstring.

    Args (besides the base ones): ``resource`` (task parameter receiving the total resource a
    segment trains up to, e.g. ``"General/epochs"``), ``perturbation_interval`` (resource units
    per segment), ``max_resource`` (the units each member trains itself), ``population_size=8``,
    ``quantile_fraction=0.2``, ``resample_probability=0.25``,
    ``perturbation_factors=(0.8, 1.2)``, ``min_population=5``.

    Raises:
        ValueError: for an invalid value, naming the argument.
    """

    def __init__(self, *args: Any, resource: str | Mapping[str, Any],
                 perturbation_interval: float, max_resource: float, population_size: int = 8,
                 quantile_fraction: float = 0.2, resample_probability: float = 0.25,
                 perturbation_factors: Sequence[float] = (0.8, 1.2), min_population: int = 5,
                 **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.resource = Resource.parse(resource, "PopulationBasedTraining")
        if self.resource.name in self.space.names:
            raise ValueError(f"resource {self.resource.name!r} is also a searched parameter")
        for name, value in (("perturbation_interval", perturbation_interval),
                            ("max_resource", max_resource)):
            if not isinstance(value, (int, float)) or value <= 0:
                raise ValueError(f"{name} must be > 0, got {value!r}")
        if perturbation_interval > max_resource:
            raise ValueError("perturbation_interval must be <= max_resource")
        if not isinstance(population_size, int) or population_size < 2:
            raise ValueError(f"population_size must be an integer >= 2, got {population_size!r}")
        if not 0 < quantile_fraction <= 0.5:
            raise ValueError(f"quantile_fraction must be in (0, 0.5], got {quantile_fraction!r}")
        if not 0 <= resample_probability <= 1:
            raise ValueError(f"resample_probability must be in [0, 1], got "
                             f"{resample_probability!r}")
        if not perturbation_factors or any(f <= 0 for f in perturbation_factors):
            raise ValueError("perturbation_factors must be positive numbers")
        self.perturbation_interval = perturbation_interval
        self.max_resource = max_resource
        self.population_size = population_size
        self.quantile_fraction = quantile_fraction
        self.resample_probability = resample_probability
        self.perturbation_factors = list(perturbation_factors)
        self.min_population = max(1, int(min_population))
        self._members: dict[int, _Member] = {}
        self._by_job: dict[str, _Segment] = {}

    # ------------------------------------------------------------------ contract
    def suggest(self) -> Suggestion | Wait | None:
        if len(self._members) < self.population_size:
            config = self.space.sample(self.rng)
            step = min(self.perturbation_interval, self.max_resource)
            return self._suggestion(len(self._members), 0, config, step, step, None, None)
        ready = [m for m, member in sorted(self._members.items()) if self._is_ready(member)]
        if ready:
            return self._next_segment(ready[0])
        if any(not member.latest_finished for member in self._members.values()):
            return WAIT
        return None

    def on_trial_start(self, job_id: str, suggestion: Suggestion) -> None:
        meta = suggestion.meta
        seg = _Segment(job_id, dict(suggestion.parameters), meta["resource"], meta["generation"],
                       meta.get("progress", meta["resource"]))
        self._members.setdefault(meta["member"], _Member()).segments.append(seg)
        self._by_job[job_id] = seg

    def on_trial_complete(self, trial: Trial) -> None:
        seg = self._by_job.get(trial.job_id)
        if seg is None:
            return
        seg.status = trial.status
        value = trial.value
        if trial.status in ("completed", "stopped") and value is not None and not (
                isinstance(value, float) and math.isnan(value)):
            seg.value = self.loss(value)

    def load_state_dict(self, state: dict[str, Any], trials: Sequence[Trial] = ()) -> None:
        super().load_state_dict(state, trials)
        self._members, self._by_job = {}, {}
        for trial in trials:
            suggestion = Suggestion(trial.parameters, trial.meta)
            self.on_trial_start(trial.job_id, suggestion)
            if trial.finished:
                self.on_trial_complete(trial)

    # ------------------------------------------------------------------ helpers
    def _is_ready(self, member: _Member) -> bool:
        seg = member.latest
        return (seg.status in ("completed", "stopped") and seg.value is not None
                and seg.progress < self.max_resource)

    def _next_segment(self, member_id: int) -> Suggestion:
        member = self._members[member_id]
        own = member.latest
        step = min(self.perturbation_interval, self.max_resource - own.progress)
        progress = own.progress + step
        donor_id = self._donor_for(member_id)
        if donor_id is None:
            return self._suggestion(member_id, own.generation + 1, own.config,
                                    own.resource + step, progress, own.job_id, None)
        donor_seg = self._donor_segment(donor_id)
        # the donor's checkpoint trains on by this member's next segment
        return self._suggestion(member_id, own.generation + 1, self._explore(donor_seg.config),
                                donor_seg.resource + step, progress, donor_seg.job_id, donor_id)

    def _donor_for(self, member_id: int) -> int | None:
        """A member to copy if ``member_id`` is in the bottom quantile, drawn from the top
        quantile (of every member's latest value, as chrischute/pbt ranks)."""
        scored = sorted((score, m) for m, member in self._members.items()
                        if (score := member.score) is not None)
        if len(scored) < self.min_population:
            return None
        k = max(1, int(self.quantile_fraction * len(scored)))
        if member_id not in {m for _, m in scored[-k:]}:
            return None
        top = [m for _, m in scored if m != member_id][:k]
        return top[int(self.rng.integers(len(top)))] if top else None

    def _donor_segment(self, member_id: int) -> _Segment:
        return next(s for s in reversed(self._members[member_id].segments) if s.value is not None)

    def _explore(self, config: dict[str, Any]) -> dict[str, Any]:
        out = dict(config)
        for param in self.space.parameters:
            dimension = param.dimension()
            if self.rng.random() < self.resample_probability or not isinstance(dimension, Scalar):
                out.update(param.get_value(self.rng))
            else:
                factor = self.perturbation_factors[
                    int(self.rng.integers(len(self.perturbation_factors)))]
                out[dimension.name] = dimension.perturb(out[dimension.name], factor)
        return out

    def _suggestion(self, member: int, generation: int, config: dict[str, Any],
                    resource: float, progress: float, continue_from: str | None,
                    donor: int | None) -> Suggestion:
        meta: dict[str, Any] = {"member": member, "generation": generation, "resource": resource,
                                "progress": progress}
        if donor is not None:
            meta["exploited"] = donor
        return Suggestion({**config, self.resource.name: self.resource.cast(resource)}, meta,
                          continue_from)

