"""Retention: delete an optimization for good, collect old ended ones, trim ended streams.

An optimizer owns its record and saved state (:mod:`controller.persistence`), its jobs (task
records with their scalars, artifacts, checkpoints and reply lists, and their index entries), its
event stream, its Optuna study (the journal's study named after the optimizer id) and the files
of its tasks under ``HPQ_ARTIFACTS_DIR``. :func:`delete_optimizer` removes all of it in an order
that keeps every step readable: the job table first (readers see an optimizer without jobs), then
the jobs' files and records, the study, and the optimizer's record with its state last. An
interrupted delete leaves an optimizer ``hpq status`` still shows, and deleting it again finishes.
"""

from __future__ import annotations

import logging
import re
import shutil
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from workers.errors import HpqError, TaskNotFoundError
from workers.store import Store

from .persistence import OptimizerRepository

log = logging.getLogger(__name__)

#: Tasks deleted per transaction.
_BATCH = 500
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw]?)\s*$")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400, "": 86400}


class OptimizerBusyError(HpqError):
    """A live controller drives the optimizer (its lease is held)."""


@dataclass(frozen=True)
class Deleted:
    """What :func:`delete_optimizer` removed."""

    opt_id: str
    jobs: int
    keys: int
    directories: int
    study: bool


@dataclass(frozen=True)
class Expired:
    """An ended optimization :func:`expired` found: its id, name, status and end time."""

    opt_id: str
    name: str
    status: str
    ended: float


def parse_age(text: str) -> float:
    """Seconds in an age such as ``7d``, ``12h``, ``30m``, ``90s``, ``2w`` (a bare number is
    days); ValueError naming the text otherwise."""
    match = _DURATION.match(text)
    if match is None or float(match.group(1)) <= 0:
        raise ValueError(f"age {text!r} is not a positive number with an optional unit "
                         "s, m, h, d or w (e.g. 7d)")
    return float(match.group(1)) * _UNIT_SECONDS[match.group(2)]


def delete_optimizer(store: Store, opt_id: str, *, force: bool = False) -> Deleted:
    """Delete optimizer ``opt_id`` with everything it owns (see the module's docstring).

    Raises:
        OptimizerBusyError: a live controller holds its lease (unless ``force``).
        TaskNotFoundError: there is no such optimizer (nor any part of one).
        ValueError: ``opt_id`` is a task that is not an optimizer.
    """
    repo = OptimizerRepository(store)
    holder = repo.lease_holder(opt_id)
    if holder is not None and not force:
        raise OptimizerBusyError(f"optimizer {opt_id} is driven by a live controller ({holder}):"
                                 " stop it first, or force the delete")
    record = store.get_many([opt_id])[0]
    job_ids = repo.job_ids(opt_id)
    if record is None and not job_ids and not repo.load(opt_id).state.saved_at:
        raise TaskNotFoundError(opt_id)
    if record is not None and not record.get("configuration"):
        raise ValueError(f"task {opt_id} is not an hpqueue optimizer")
    repo.forget_jobs(opt_id)
    keys = directories = 0
    for start in range(0, len(job_ids), _BATCH):
        batch = job_ids[start:start + _BATCH]
        directories += _remove_files(store, batch)
        keys += store.delete_tasks(batch)
    study = _delete_study(store, repo, opt_id)
    directories += _remove_files(store, [opt_id])
    keys += repo.delete(opt_id)
    return Deleted(opt_id, len(job_ids), keys, directories, study)


def expired(store: Store, older_than: float, now: float | None = None) -> list[Expired]:
    """Ended optimizations (completed, stopped or failed, no live controller) that ended more
    than ``older_than`` seconds before ``now``, oldest first."""
    now = time.time() if now is None else now
    out = []
    for rec, progress in OptimizerRepository(store).list_optimizers(now):
        ended = rec.last_update or rec.completed or rec.created
        if rec.status.is_final and not progress.live and ended < now - older_than:
            out.append(Expired(rec.id, rec.name, rec.status.value, ended))
    return sorted(out, key=lambda e: e.ended)


def collect(store: Store, older_than: float, now: float | None = None) -> list[Deleted]:
    """Delete every optimization :func:`expired` finds; one that cannot be deleted (a
    controller took it over meanwhile) is logged and skipped."""
    out = []
    for old in expired(store, older_than, now):
        try:
            out.append(delete_optimizer(store, old.opt_id))
        except (OptimizerBusyError, TaskNotFoundError) as exc:
            log.warning("retention: optimizer %s not deleted: %s", old.opt_id, exc)
    return out


def on_end(store: Store, opt_id: str) -> None:
    """What an optimization's end applies: trim its event stream to what a resume reads
    (unless ``HPQ_TRIM_EVENTS=0``), and with ``HPQ_RETENTION_DAYS`` delete the ended
    optimizations older than that."""
    if store.settings.trim_events:
        removed = OptimizerRepository(store).trim_events(opt_id)
        log.debug("optimizer %s: %d events trimmed", opt_id, removed)
    days = store.settings.retention_days
    if days:
        for gone in collect(store, days * 86400):
            log.info("retention: deleted optimizer %s (%d jobs)", gone.opt_id, gone.jobs)


def _remove_files(store: Store, task_ids: Sequence[str]) -> int:
    """Remove the artifact and checkpoint directories of ``task_ids``; how many there were."""
    root: Path = store.settings.artifacts_root
    removed = 0
    for task_id in task_ids:
        directory = root / task_id
        if directory.is_dir():
            shutil.rmtree(directory)
            removed += 1
    return removed


def _delete_study(store: Store, repo: OptimizerRepository, opt_id: str) -> bool:
    """Delete the Optuna study named ``opt_id`` from the journal in the store's database; the
    whole journal goes when no study is left in it. True if there was such a study."""
    if repo.optuna_log_number() is None or store.url is None:
        return False
    from .strategies.optuna_search import redis_journal_storage

    storage = redis_journal_storage(store.url)
    try:
        storage.delete_study(storage.get_study_id_from_name(opt_id))
        found = True
    except KeyError:
        found = False
    newest = repo.optuna_log_number()
    if newest is not None and not storage.get_all_studies():
        repo.drop_optuna_journal(newest)
    return found
