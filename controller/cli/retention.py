"""``hpq delete`` and ``hpq gc``: remove optimizations for good (:mod:`controller.retention`)."""

from __future__ import annotations

import sys
import time

import click

from .. import retention
from ..text import format_duration
from .base import FAILED, Command, UsageError, message


@click.command(cls=Command, short_help="delete an optimizer with its jobs, study and files")
@click.argument("optimizer_id")
@click.option("--force", is_flag=True,
              help="delete even while a live controller drives it (its lease is held)")
@click.option("-y", "--yes", is_flag=True, help="do not ask for confirmation")
def delete(optimizer_id: str, force: bool, yes: bool) -> int:
    """Delete OPTIMIZER_ID with everything it owns: its jobs (records, scalars, artifacts,
    checkpoints), its event stream, its Optuna study and its files under HPQ_ARTIFACTS_DIR.

    Running it again after an interruption finishes the delete."""
    from workers import get_store

    if not _confirm(f"delete optimizer {optimizer_id} and everything it owns?", yes):
        return FAILED
    try:
        gone = retention.delete_optimizer(get_store(), optimizer_id, force=force)
    except ValueError as exc:
        raise UsageError(message(exc)) from None
    print(f"deleted optimizer {gone.opt_id}: {gone.jobs} jobs, {gone.keys} Redis keys, "
          f"{gone.directories} directories{', its Optuna study' if gone.study else ''}")
    return 0


@click.command(cls=Command, short_help="delete ended optimizations older than an age")
@click.option("--older-than", "older_than", metavar="AGE",
              help="e.g. 7d, 12h, 30m (a bare number is days); default HPQ_RETENTION_DAYS")
@click.option("--dry-run", is_flag=True, help="list what would be deleted, delete nothing")
@click.option("-y", "--yes", is_flag=True, help="do not ask for confirmation")
def gc(older_than: str | None, dry_run: bool, yes: bool) -> int:
    """Delete the optimizations that ended (completed, stopped, failed) longer ago than AGE and
    that no live controller drives."""
    from workers import get_store

    store = get_store()
    if older_than is not None:
        try:
            seconds = retention.parse_age(older_than)
        except ValueError as exc:
            raise UsageError(f"--older-than: {message(exc)}") from None
    elif store.settings.retention_days:
        seconds = store.settings.retention_days * 86400
    else:
        raise UsageError("give --older-than AGE (e.g. 7d) or set HPQ_RETENTION_DAYS")
    now = time.time()
    old = retention.expired(store, seconds, now)
    for item in old:
        print(f"{item.opt_id}  {item.status:<9}  ended {format_duration(now - item.ended)} ago  "
              f"{item.name}")
    if not old:
        print(f"no ended optimization is older than {format_duration(seconds)}")
        return 0
    if dry_run:
        print(f"{len(old)} optimizations would be deleted (dry run)")
        return 0
    if not _confirm(f"delete these {len(old)} optimizations?", yes):
        return FAILED
    gone = retention.collect(store, seconds, now)
    print(f"deleted {len(gone)} optimizations ({sum(g.jobs for g in gone)} jobs, "
          f"{sum(g.keys for g in gone)} Redis keys)")
    return 0


def _confirm(question: str, yes: bool) -> bool:
    """True with ``--yes``, or when the user agrees on a terminal; without a terminal and
    ``--yes`` the answer is no (a script must say ``--yes``)."""
    if yes:
        return True
    if not sys.stdin.isatty():
        print("hpq: not a terminal: pass --yes to confirm", file=sys.stderr)
        return False
    return click.confirm(question, default=False)
