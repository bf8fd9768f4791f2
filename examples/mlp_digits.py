"""A real model for the strategy examples: scikit-learn's ``MLPClassifier`` on the digits data
that ships with scikit-learn (8x8 images of handwritten digits, 1797 of them; no download).

The network is trained epoch by epoch with ``partial_fit``. After every epoch the trial reports
``validation/loss`` (log loss on a fixed held-out fifth) and ``validation/accuracy``, and pickles
the model with the epoch reached through ``task.save_checkpoint``. ``epochs`` is the resource of
the multi-fidelity strategies: a trial that continues another (ASHA/Hyperband with
``resume=True``, every member after its first segment in population-based training) loads that
trial's pickled model from ``task.latest_checkpoint()`` and trains it further, up to ``epochs``
in total; it reports the epoch it started from (``Summary/start_epoch``) and the number of
epochs the model object has been trained for (``Summary/model_epochs``: the training samples
scikit-learn counts in ``t_`` across ``partial_fit`` calls, divided by the training set's size).

A continued model takes the trial's ``lr`` and ``alpha`` (population-based training perturbs
them); its hidden layer cannot change size.

Requires the ``examples`` extra (``pip install -e '.[examples]'``).
"""

from __future__ import annotations

import pickle
import tempfile
import warnings
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

#: The fraction of the data held out for validation (always the same rows).
VALIDATION = 0.2


@lru_cache(maxsize=1)
def digits() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Standardized train and validation splits: ``x_train, y_train, x_val, y_val``."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split
    from sklearn.preprocessing import StandardScaler

    x, y = load_digits(return_X_y=True)
    x_train, x_val, y_train, y_val = train_test_split(x, y, test_size=VALIDATION,
                                                      random_state=0, stratify=y)
    scaler = StandardScaler().fit(x_train)
    return scaler.transform(x_train), y_train, scaler.transform(x_val), y_val


def new_model(params: dict[str, Any]) -> Any:
    from sklearn.neural_network import MLPClassifier

    return MLPClassifier(hidden_layer_sizes=(int(params["hidden"]),), solver="adam",
                         learning_rate_init=float(params["lr"]), alpha=float(params["alpha"]),
                         batch_size=int(params["batch_size"]), random_state=int(params["seed"]))


def load_model(path: Path, params: dict[str, Any]) -> tuple[Any, int]:
    """The pickled model and epoch of a checkpoint, with the trial's ``lr`` and ``alpha``."""
    with open(path, "rb") as f:
        saved = pickle.load(f)
    model = saved["model"]
    if model.hidden_layer_sizes != (int(params["hidden"]),):
        raise ValueError(f"checkpoint {path} has a hidden layer of {model.hidden_layer_sizes}, "
                         f"the trial asks for {params['hidden']}: it cannot be continued")
    model.set_params(learning_rate_init=float(params["lr"]), alpha=float(params["alpha"]))
    model._optimizer.learning_rate_init = float(params["lr"])  # Adam's state keeps its own
    return model, int(saved["epoch"])


def main(task: Any) -> float:  # a worker calls this with the trial's Task
    params = task.connect({"lr": 1e-3, "alpha": 1e-4, "hidden": 64, "batch_size": 64,
                           "epochs": 9, "seed": 0})
    log = task.get_logger()
    x_train, y_train, x_val, y_val = digits()
    classes = np.unique(y_train)
    checkpoint = task.latest_checkpoint()  # ours (a retried attempt), or the continued trial's
    model, start = load_model(checkpoint, params) if checkpoint else (new_model(params), 0)
    log.report_single_value("start_epoch", start)
    loss = float("nan")
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "model.pkl"
        for epoch in range(start, int(params["epochs"])):
            with warnings.catch_warnings():  # one epoch per call is what is asked for
                warnings.simplefilter("ignore")
                model.partial_fit(x_train, y_train, classes=classes)
            loss = _log_loss(y_val, model.predict_proba(x_val), classes)
            log.report_scalar("validation", "loss", value=loss, iteration=epoch)
            log.report_scalar("validation", "accuracy", value=model.score(x_val, y_val),
                              iteration=epoch)
            with open(path, "wb") as f:
                pickle.dump({"epoch": epoch + 1, "model": model}, f)
            task.save_checkpoint(path, iteration=epoch)
    log.report_single_value("model_epochs", model_epochs(model))
    return loss


def model_epochs(model: Any) -> int:
    """How many epochs ``model`` was trained for, by its own count of training samples seen."""
    return int(model.t_) // len(digits()[1])


def _log_loss(y: np.ndarray, proba: np.ndarray, classes: np.ndarray) -> float:
    from sklearn.metrics import log_loss

    return float(log_loss(y, proba, labels=classes))
