"""The in-trial client of population-based training (chrischute/pbt's ``PBTClient``).

A member of the population is one long-running trial of an optimizer whose strategy is
:class:`controller.strategies.pbt_server.PBTServer`. Its training loop keeps the seed's calls::

    pbt = task.pbt()                          # or PBTClient(task); the seed's constructor took
    for epoch in range(num_epochs):           # the server's address and the CSV file instead
        apply(pbt.hyperparameters())
        ...train one epoch, evaluate, write a checkpoint file...
        pbt.save(checkpoint_path, metric)
        if pbt.should_exploit():
            pbt.exploit()
            load(pbt.parameters_path())       # weights and optimizer state of the donor
            pbt.explore()

Each call is a request to the optimizer through Redis (:mod:`workers.messages`): ``save`` is
sent without waiting; ``should_exploit``, ``exploit`` and ``explore`` wait for the answer
(milliseconds, or as long as a restarting controller takes). The weights never pass through the
server: checkpoint paths must be on storage every member can read (``HPQ_ARTIFACTS_DIR``).

Hyper-parameters are the trial's parameters that the optimizer searches, keyed by their name
without the default ``General/`` section (``lr`` for ``General/lr``), as the seed keys them by
the CSV's names. A member's own progress is its ``step``: the number of checkpoints it saved.

What the client records on the member's task (the HTML report and the dashboard read it there):

* the metric: the optimizer's objective scalar (its title and series) at iteration ``step``;
* each numeric hyper-parameter: the scalar ``pbt`` / name at iteration ``step``;
* the JSON artifact ``pbt``: ``{"member": i, "schedule": [{"step", "hyperparameters"}, ...],
  "lineage": [{"step", "donor", "donor_task", "donor_step", "donor_value", "path",
  "hyperparameters"}, ...]}`` -- the hyper-parameters in effect from each step on where they
  changed (the first save included), and each exploit: at which own step the member copied
  which member (its task and step) and the hyper-parameters explore gave it.
"""

from __future__ import annotations

import logging
from typing import Any

from .errors import InvalidScalarError
from .messages import TrialChannel
from .task import Task, full_name, short_name

log = logging.getLogger("hpqueue.pbt")

#: Scalar title of the hyper-parameter schedule; the artifact name of the record.
PBT_TITLE = "pbt"


class PBTClient:
    """A member's connection to the PBT server (the optimizer); see the module docstring.

    Args:
        task: the running trial (default: ``Task.current_task()``).
        timeout: seconds to wait for an answer (None: as long as it takes). When it runs out,
            ``should_exploit`` answers False (the member trains on) and the other requests raise
            TimeoutError.
        wait_slice: seconds between the checks of the stop flag while waiting.

    Raises:
        ValueError: not inside a trial launched by an optimizer.
        TrialRequestError: the optimizer's strategy does not serve PBT (not a ``PBTServer``).
    """

    def __init__(self, task: Task | None = None, *, timeout: float | None = None,
                 wait_slice: float = 1.0) -> None:
        task = task if task is not None else Task.current_task()
        if task is None:
            raise ValueError("PBTClient runs inside a trial: pass the trial's task")
        self._task = task
        self._timeout = timeout
        self._channel = TrialChannel(task, wait_slice=wait_slice)
        hello = self._channel.request("pbt.hello", {}, timeout)
        self.member: int = hello["member"]
        objective = hello["objective"]
        self._objective = (objective["title"], objective["series"])
        latest = hello["latest"]
        if latest is not None:  # a retried attempt carries on where the member was
            self._hyperparameters = dict(latest["hyperparameters"])
            self._step, self._path = int(latest["step"]), latest["path"]
        else:
            params = task.get_parameters()
            missing = [n for n in hello["names"] if n not in params]
            if missing:
                raise ValueError(f"task {task.id} lacks the hyper-parameter(s) {missing}")
            self._hyperparameters = {n: params[n] for n in hello["names"]}
            self._step, self._path = 0, None
        saved = task.artifacts.get(PBT_TITLE)
        self._record: dict[str, Any] = (saved.value if saved is not None and saved.type == "json"
                                        else {"member": self.member, "schedule": [],
                                              "lineage": []})

    # ------------------------------------------------------------------ the seed's API
    def save(self, parameters_path: str | None, metric_value: float) -> None:
        """Tell the server this member saved a checkpoint at ``parameters_path`` (already on
        shared storage) with ``metric_value``; records the step (see the module docstring).

        Raises:
            InvalidScalarError: ``metric_value`` is not a number.
            TrialStopped: the trial was asked to stop.
        """
        if isinstance(metric_value, bool) or not isinstance(metric_value, (int, float)):
            try:
                metric_value = float(metric_value)  # numpy scalars, 0-d tensors
            except (TypeError, ValueError):
                raise InvalidScalarError(f"PBT metric must be a number, got "
                                         f"{metric_value!r}") from None
        self._step += 1
        self._path = None if parameters_path is None else str(parameters_path)
        logger = self._task.get_logger()
        logger.report_scalar(*self._objective, value=float(metric_value), iteration=self._step)
        for name, value in self._hyperparameters.items():
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                logger.report_scalar(PBT_TITLE, short_name(name), value=value,
                                     iteration=self._step)
        schedule = self._record["schedule"]
        if not schedule or schedule[-1]["hyperparameters"] != self._hyperparameters:
            schedule.append({"step": self._step, "hyperparameters": dict(self._hyperparameters)})
            self._write_record()
        self._channel.post("pbt.save", {"step": self._step, "value": float(metric_value),
                                        "hyperparameters": self._hyperparameters,
                                        "path": self._path})

    def should_exploit(self) -> bool:
        """True if this member should copy a better one now (the server's rule: by default its
        latest checkpoint is in the worst 20% of the members' latest checkpoints)."""
        try:
            return bool(self._channel.request("pbt.should_exploit", {}, self._timeout))
        except TimeoutError as exc:
            log.warning("member %s trains on without a decision: %s", self.member, exc)
            return False

    def exploit(self) -> None:
        """Copy a top member's hyper-parameters and checkpoint path (load it from
        :meth:`parameters_path`)."""
        donor = self._channel.request("pbt.exploit", {}, self._timeout)
        self._hyperparameters = dict(donor["hyperparameters"])
        self._path = donor["path"]
        self._record["lineage"].append({
            "step": self._step, "donor": donor["member"], "donor_task": donor["job_id"],
            "donor_step": donor["step"], "donor_value": donor["value"], "path": donor["path"],
            "hyperparameters": dict(self._hyperparameters)})
        self._write_record()

    def explore(self) -> None:
        """Perturb the hyper-parameters (by default each one times 0.8 or 1.2)."""
        self._hyperparameters = dict(self._channel.request(
            "pbt.explore", {"hyperparameters": self._hyperparameters}, self._timeout))
        lineage = self._record["lineage"]
        if lineage and lineage[-1]["step"] == self._step:
            lineage[-1]["hyperparameters"] = dict(self._hyperparameters)
            self._write_record()

    def parameters_path(self) -> str | None:
        """The checkpoint this member continues from: its own last one, or the donor's after
        :meth:`exploit` (None before the first save)."""
        return self._path

    def hyperparameters(self) -> dict[str, Any]:
        """The current hyper-parameters, ``{name: value}`` (a copy; change one with
        :meth:`set_hyperparameter`)."""
        return {short_name(k): v for k, v in self._hyperparameters.items()}

    def set_hyperparameter(self, name: str, value: Any) -> None:
        """Set one hyper-parameter (``lr`` or ``General/lr``); sent with the next save."""
        self._hyperparameters[full_name(name)] = value

    # ------------------------------------------------------------------ extras
    @property
    def step(self) -> int:
        """Checkpoints this member saved so far (its own progress)."""
        return self._step

    def _write_record(self) -> None:
        self._task.upload_artifact(PBT_TITLE, self._record)

    def __repr__(self) -> str:
        return f"<PBTClient member {self.member} of task {self._task.id} at step {self._step}>"

