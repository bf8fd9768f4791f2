"""What ``hpq`` prints: the live progress display and the tables, drawn with rich.

On a terminal, tables take its width and the progress is a spinner line that rich redraws in
place. Anywhere else (a pipe, a log file, a test's captured stream) tables are never wrapped or
cut, lines carry no trailing blanks and no colour codes, and the progress is one plain line per
change, so that a log shows what happened without a line per tick.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Sequence
from datetime import datetime
from typing import Any, Protocol, TextIO

from rich.console import Console, RenderableType
from rich.padding import Padding
from rich.status import Status
from rich.table import Table
from rich.text import Text

from workers.record import TaskRecord

from .. import summary as summaries
from ..failures import FailedJob, group_failures
from ..persistence import Progress
from ..text import fmt, format_duration, format_values

#: Console width when the output is not a terminal: wide enough never to wrap a row.
_UNLIMITED = 100_000


def console(file: TextIO | None = None) -> Console:
    """A rich console on ``file`` (the current ``sys.stdout`` by default). Strings are shown
    as they are: no markup, emoji codes or highlighting (job ids and values are data)."""
    con = Console(file=file if file is not None else sys.stdout, markup=False, emoji=False,
                  highlight=False)
    if not con.is_terminal:
        con.width = _UNLIMITED
    return con


def show(renderable: RenderableType, file: TextIO | None = None) -> None:
    """Print a table (or any renderable); off a terminal, without trailing blanks."""
    con = console(file)
    if con.is_terminal:
        con.print(renderable)
        return
    with con.capture() as captured:
        con.print(renderable)
    out = file if file is not None else sys.stdout
    out.write("".join(line.rstrip() + "\n" for line in captured.get().splitlines()))


def table(header: Sequence[str], rows: Sequence[Sequence[Any]], *, indent: int = 0,
          right: Sequence[str] = ()) -> RenderableType:
    """Columns separated by two blanks, a bold header and no borders (the ``right`` columns
    right-aligned); cells are shown as text, long ones fold on a narrow terminal."""
    grid = Table(box=None, pad_edge=False, show_edge=False, padding=(0, 1),
                 header_style="bold")
    for name in header:
        grid.add_column(name, justify="right" if name in right else "left", overflow="fold")
    for row in rows:
        grid.add_row(*(Text(str(cell)) for cell in row))
    return Padding(grid, (0, 0, 0, indent), expand=False) if indent else grid


def key_values(lines: Sequence[tuple[str, str]]) -> RenderableType:
    """Two columns, ``key  value``, keys padded to the longest."""
    grid = Table.grid(padding=(0, 2))
    grid.add_column(no_wrap=True)
    grid.add_column(overflow="fold")
    for key, value in lines:
        grid.add_row(Text(key), Text(value))
    return grid


# ================================================================== optimizers
def print_top(summary: summaries.OptimizerSummary, k: int, out: TextIO | None = None) -> None:
    """The top-k table (best first)."""
    top = summary.top(k)
    objectives = ", ".join(f"{o['title']}/{o['series']} {o['sign']}"
                           for o in summary.objectives)
    stream = out if out is not None else sys.stdout
    if not top:
        print(f"no job has ended with the objective ({objectives}) yet", file=stream)
        return
    print(f"top {len(top)} of {len(summary.ranked)} ranked jobs ({objectives}):", file=stream)
    header = ["rank", "job id", "job #", *summary.objective_labels, "iteration", "status",
              *summary.parameter_names]
    rows = [[j.rank + 1, j.id, j.index, *[fmt(v, 6) for v in j.values or []],
             ",".join(str(i) for i in j.iterations if i is not None), j.status,
             *[fmt(j.parameters.get(n, ""), 6) for n in summary.parameter_names]]
            for j in top if j.rank is not None]
    show(table(header, rows, right=["rank", "job #", *summary.objective_labels]), stream)


def print_failures(jobs: Sequence[FailedJob], out: TextIO | None = None) -> None:
    """The failed jobs grouped by error (most frequent first): count, error and one example
    job, and how to see it. Nothing when no job failed."""
    groups = group_failures(jobs)
    if not groups:
        return
    stream = out if out is not None else sys.stdout
    total = sum(g.count for g in groups)
    print(f"\nfailed jobs ({total}) by error:", file=stream)
    rows = [[g.count, g.error, f"{g.example_id} (job #{g.example_index})"] for g in groups]
    show(table(["jobs", "error", "example"], rows, indent=2, right=["jobs"]), stream)
    print(f"  see one: hpq job {groups[0].example_id}", file=stream)


def print_optimizers(optimizers: Sequence[tuple[TaskRecord, Progress]],
                     out: TextIO | None = None) -> None:
    """``optimizers (N):`` and a table of each one's progress (as from
    :meth:`controller.persistence.OptimizerRepository.list_optimizers`)."""
    stream = out if out is not None else sys.stdout
    print(f"optimizers ({len(optimizers)}):", file=stream)
    if not optimizers:
        return
    header = ["id", "status", "done", "failed", "running", "queued", "best", "elapsed", "live",
              "name"]
    rows = [[rec.id, rec.status.value, p.done, p.failed, p.running, p.queued,
             format_values(p.best), format_duration(p.elapsed_seconds),
             "yes" if p.live else "no", rec.name] for rec, p in optimizers]
    show(table(header, rows, indent=2, right=["done", "failed", "running", "queued"]), stream)


def print_optimizer_status(s: summaries.OptimizerSummary, out: TextIO | None = None) -> None:
    """One optimizer: status, budgets, job counts and the best job."""
    best = s.best
    controller = "live" if s.live else ("none (resume it with hpq resume)"
                                        if s.status == "in_progress" else "-")
    lines = [
        ("optimizer", f"{s.id}  {s.name}"),
        ("status", s.status + (f" ({s.end_reason})" if s.end_reason else "")),
        ("controller", controller),
        ("strategy", s.config.get("optimizer_class", "")),
        ("objective", ", ".join(f"{o['title']}/{o['series']} ({o['sign']})"
                                for o in s.objectives)),
        ("elapsed", format_duration(s.elapsed_seconds)),
        ("jobs", f"{len(s.jobs)}: " + (", ".join(f"{k} {v}" for k, v in sorted(s.counts.items()))
                                       or "none")),
        ("budgets", "; ".join(_budget_text(name, e) for name, e in s.budget.items())),
        ("best", "-" if best is None else f"{format_values(best.values)} (job #"
         f"{best.index} {best.id})"),
    ]
    if best is not None:
        lines += [(f"  {k}", fmt(v, 6)) for k, v in best.parameters.items()]
    show(key_values(lines), out)


def _budget_text(name: str, entry: dict[str, Any]) -> str:
    used = fmt(round(entry["used"], 2) if isinstance(entry["used"], float)
                      else entry["used"])
    limit = "-" if entry["limit"] is None else fmt(entry["limit"])
    pct = "" if entry["fraction"] is None else f" ({entry['fraction'] * 100:.0f}%)"
    unit = " min" if name in ("compute_time", "time") else ""
    return f"{name.replace('_', ' ')} {used}/{limit}{unit}{pct}"


# ========================================================================= jobs
def print_job(job: dict[str, Any], tail_lines: int, out: TextIO | None = None) -> None:
    """One job, as :func:`controller.dashboard.data.job_detail` reads it: its record, status and
    reason, parameters, the last value of each scalar series, the last ``tail_lines`` lines of
    its output and its traceback."""
    stream = out if out is not None else sys.stdout
    ended = job["completed"] or None
    run = None if job["started"] is None else (ended or time.time()) - job["started"]
    index = "" if job["index"] is None else f" (job #{job['index']})"
    lines = [
        ("job", f"{job['id']}  {job['name']}"),
        ("optimizer", f"{job['parent']}{index}" if job["parent"] else "-"),
        ("status", job["status"] + (f": {job['reason']}" if job["reason"] else "")),
        ("worker", f"{job['worker'] or '-'} (attempts {job['attempts']})"),
        ("queue", job["queue"] or "-"),
        ("created", _when(job["created"])), ("started", _when(job["started"])),
        ("ended", _when(ended)), ("run time", "-" if run is None else format_duration(run)),
    ]
    show(key_values(lines), stream)
    params = sorted(job["parameters"].items())
    print(f"\nparameters ({len(params)}):", file=stream)
    if params:
        show(table(["name", "value"], [[k, fmt(v, 6)] for k, v in params], indent=2), stream)
    scalars = [[f"{title}/{series}", fmt(st.get("last"), 6), st.get("iteration", "-"),
                fmt(st.get("min"), 6), fmt(st.get("max"), 6)]
               for title, by_series in sorted(job["metrics"].items())
               for series, st in sorted(by_series.items())]
    print(f"\nlast scalars ({len(scalars)}):", file=stream)
    if scalars:
        show(table(["scalar", "last", "iteration", "min", "max"], scalars, indent=2,
                   right=["last", "iteration", "min", "max"]), stream)
    output = job["output"].rstrip("\n").splitlines()
    shown = output[-tail_lines:] if tail_lines > 0 else []
    print(f"\noutput (last {len(shown)} of {len(output)} lines kept):", file=stream)
    for line in shown:
        print(f"  {line}", file=stream)
    if job["traceback"]:
        print("\ntraceback:", file=stream)
        stream.write(job["traceback"].rstrip("\n") + "\n")
    elif job["error"]:
        print(f"\nerror: {job['error']}", file=stream)


def _when(t: float | None) -> str:
    return "-" if not t else datetime.fromtimestamp(t).strftime("%Y-%m-%d %H:%M:%S")


# ==================================================================== progress
class ProgressDisplay(Protocol):
    """Shows an optimization's progress while it runs."""

    def show(self, progress: Progress) -> None:
        """Show the newest snapshot."""

    def close(self) -> None:
        """End the display; the last snapshot stays visible."""


def progress_display(stream: TextIO) -> ProgressDisplay:
    """:class:`LiveProgress` on a terminal that can redraw a line, else :class:`ProgressLine`
    (a log or pipe; or a dumb terminal, where ``\\r`` still works)."""
    con = Console(file=stream, highlight=False, markup=False, emoji=False)
    if con.is_terminal and not con.is_dumb_terminal:
        return LiveProgress(con)
    return ProgressLine(stream)


class LiveProgress:
    """A spinner and the progress line, redrawn in place by rich; on close the last line is
    printed for good."""

    def __init__(self, con: Console) -> None:
        self._console = con
        self._last: Text | None = None
        self._status: Status | None = Status("starting...", console=con, spinner="dots")
        self._status.start()

    def show(self, progress: Progress) -> None:
        self._last = _styled(progress)
        if self._status is not None:
            self._status.update(self._last)

    def close(self) -> None:
        if self._status is None:
            return
        self._status.stop()
        self._status = None
        if self._last is not None:
            self._console.print(self._last)


def _styled(progress: Progress) -> Text:
    """The progress line with its figures in bold."""
    text = Text(progress.line())
    text.highlight_regex(r"\d+(?:\.\d+)?", "bold")
    return text


class ProgressLine:
    """One plain status line: rewritten with ``\\r`` on a terminal, or one line per change
    (done, running, queued or best) in a log, not one per tick."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self.tty = bool(getattr(stream, "isatty", lambda: False)())
        self._last_key: tuple[int, int, int, list[float] | None] | None = None
        self._width = 0

    def show(self, progress: Progress) -> None:
        text = progress.line()
        if self.tty:
            self.stream.write("\r" + text.ljust(self._width))
            self._width = len(text)
        else:
            key = (progress.done, progress.running, progress.queued, progress.best)
            if key == self._last_key:
                return
            self._last_key = key
            self.stream.write(text + "\n")
        self.stream.flush()

    def close(self) -> None:
        if self.tty and self._width:
            self.stream.write("\n")
            self.stream.flush()
        self._width = 0

