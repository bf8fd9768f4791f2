"""The workload of ``bench/realwork.py``, shared by every system it runs.

scikit-learn's bundled digits (1,797 8x8 images), a fixed 75/25 stratified split (seed 0),
features divided by 16; an ``MLPClassifier`` trained one epoch per ``partial_fit`` call, its
validation error reported after each epoch. The search space: ``lr`` (``learning_rate_init``) and
``alpha`` log-uniform in [1e-4, 1e-1] and [1e-6, 1e-1], ``hidden`` one of (32,), (64,), (128,),
(64, 64) (written ``"32"``, ``"64"``, ``"128"``, ``"64-64"``), ``batch_size`` one of 16, 32, 64,
128; up to :data:`EPOCHS` epochs.

Only the adapter differs between systems: :func:`hpq_main` is hpqueue's entry point
(``bench.realwork_trial:hpq_main``; with ``checkpoint`` it continues ``task.latest_checkpoint()``
and saves one at its last epoch, for ASHA), :func:`optuna_objective` standalone Optuna's
objective. scikit-learn is imported inside the trial, in the worker, never where the trial is
defined. The process is expected to run with one BLAS thread (the benchmark sets
``OMP_NUM_THREADS`` and friends in the environment of every process it starts).

Each trial appends one JSON line to ``$REALWORK_LOG_DIR/<pid>.jsonl`` when it ends, however it
ends (:func:`trial_log`); the benchmark computes every figure from these lines.
"""

from __future__ import annotations

import contextlib
import json
import os
import pickle
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

EPOCHS = 27
LR_RANGE = (1e-4, 1e-1)
ALPHA_RANGE = (1e-6, 1e-1)
HIDDEN = {"32": (32,), "64": (64,), "128": (128,), "64-64": (64, 64)}
BATCH_SIZES = (16, 32, 64, 128)
#: The directory trial logs go to (one file per process).
LOG_DIR_ENV = "REALWORK_LOG_DIR"
#: Exception names a trial ends with when its framework stops it, and what the log calls them.
_STOPPED = {"TrialStopped": "stopped", "TrialPruned": "pruned"}

_data: tuple[Any, Any, Any, Any] | None = None


def dataset() -> tuple[Any, Any, Any, Any]:
    """``(x_train, y_train, x_valid, y_valid)``, loaded once per process."""
    global _data
    if _data is None:
        from sklearn.datasets import load_digits
        from sklearn.model_selection import train_test_split

        x, y = load_digits(return_X_y=True)
        x_train, x_valid, y_train, y_valid = train_test_split(
            x / 16.0, y, test_size=0.25, stratify=y, random_state=0)
        _data = (x_train, y_train, x_valid, y_valid)
    return _data


def new_model(params: dict[str, Any], seed: int) -> Any:
    """An untrained ``MLPClassifier`` for the configuration ``params``."""
    from sklearn.neural_network import MLPClassifier

    return MLPClassifier(hidden_layer_sizes=HIDDEN[params["hidden"]],
                         batch_size=int(params["batch_size"]),
                         learning_rate_init=float(params["lr"]), alpha=float(params["alpha"]),
                         random_state=seed)


def train_epoch(model: Any, data: tuple[Any, Any, Any, Any]) -> float:
    """One pass over the training set; returns the validation error (1 - accuracy)."""
    import numpy as np

    x_train, y_train, x_valid, y_valid = data
    model.partial_fit(x_train, y_train, classes=np.arange(10))
    return float(np.mean(model.predict(x_valid) != y_valid))


@contextlib.contextmanager
def trial_log() -> Iterator[dict[str, Any]]:
    """The record of one trial, written as a JSON line when the ``with`` block ends.

    Fields: ``pid``, ``start`` and ``end`` (wall clock, the trial function's entry and exit),
    ``epochs`` (per epoch ``[begin, end, error, report_seconds]``: the training interval, its
    validation error, and how long the report call that followed took), ``first_epoch`` (epochs
    already trained by the checkpoint it continued), ``checkpoint_load``/``checkpoint_save``
    (seconds, or None), ``params`` and ``outcome`` (``completed``, ``stopped``, ``pruned`` or
    ``failed: <exception>``).
    """
    record: dict[str, Any] = {
        "pid": os.getpid(), "start": time.time(), "end": None, "epochs": [], "first_epoch": 0,
        "checkpoint_load": None, "checkpoint_save": None, "params": None, "outcome": None}
    try:
        yield record
        record["outcome"] = "completed"
    except BaseException as exc:
        name = type(exc).__name__
        record["outcome"] = _STOPPED.get(name, f"failed: {name}: {exc}")
        raise
    finally:
        record["end"] = time.time()
        directory = os.environ.get(LOG_DIR_ENV)
        if directory:
            with open(Path(directory) / f"{os.getpid()}.jsonl", "a") as f:
                f.write(json.dumps(record) + "\n")


def run_epochs(record: dict[str, Any], model: Any, first: int, last: int,
               report: Callable[[int, float], None]) -> float:
    """Train epochs ``first+1 .. last``, calling ``report(epoch, error)`` after each (which may
    raise to end the trial), each noted in ``record``; returns the last validation error."""
    data = dataset()
    error = float("nan")
    for epoch in range(first, last):
        begin = time.time()
        error = train_epoch(model, data)
        end = time.time()
        try:
            report(epoch + 1, error)
        finally:
            record["epochs"].append([begin, end, error, time.time() - end])
    return error


def base_parameters(seed: int, checkpoint: bool) -> dict[str, Any]:
    """The base task's parameters (a clone's searched values replace the first four)."""
    return {"General/lr": 1e-3, "General/alpha": 1e-4, "General/hidden": "64",
            "General/batch_size": 32, "General/epochs": EPOCHS, "General/seed": seed,
            "General/checkpoint": checkpoint}


def hpq_main(task: Any) -> float:
    """hpqueue's entry point: train to ``epochs`` epochs, reporting ``validation/error``.

    With ``checkpoint`` the trial continues the latest checkpoint (its own or the one of the
    trial it continues: ASHA's promotions) and saves one after its last epoch.
    """
    with trial_log() as log:
        p = task.connect({name.split("/")[1]: value
                          for name, value in base_parameters(0, False).items()})
        log["params"] = {k: p[k] for k in ("lr", "alpha", "hidden", "batch_size")}
        model, first = None, 0
        if p["checkpoint"]:
            begin = time.time()
            path = task.latest_checkpoint()
            if path is not None:
                first, model = pickle.loads(Path(path).read_bytes())
                log["checkpoint_load"] = time.time() - begin
        if model is None:
            model = new_model(p, int(p["seed"]))
        log["first_epoch"] = first
        logger = task.get_logger()
        last = int(p["epochs"])
        error = run_epochs(
            log, model, first, last,
            lambda epoch, value: logger.report_scalar("validation", "error", value, epoch))
        if p["checkpoint"]:
            begin = time.time()
            with tempfile.TemporaryDirectory() as tmp:
                path = Path(tmp) / "model.pkl"
                path.write_bytes(pickle.dumps((last, model)))
                task.save_checkpoint(path, iteration=last)
            log["checkpoint_save"] = time.time() - begin
        return error


def optuna_objective(trial: Any, *, prune: bool, seed: int) -> float:
    """Standalone Optuna's objective: the same training, ``trial.report`` after each epoch and,
    with ``prune``, ``trial.should_prune()`` (raising ``TrialPruned``)."""
    import optuna

    with trial_log() as log:
        p = {"lr": trial.suggest_float("lr", *LR_RANGE, log=True),
             "alpha": trial.suggest_float("alpha", *ALPHA_RANGE, log=True),
             "hidden": trial.suggest_categorical("hidden", list(HIDDEN)),
             "batch_size": trial.suggest_categorical("batch_size", list(BATCH_SIZES))}
        log["params"] = p

        def report(epoch: int, value: float) -> None:
            trial.report(value, epoch)
            if prune and trial.should_prune():
                raise optuna.TrialPruned(f"pruned at epoch {epoch}")

        return run_epochs(log, new_model(p, seed), 0, EPOCHS, report)
