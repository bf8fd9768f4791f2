"""How ``hpq`` reads its command line (click) and draws its output (rich)."""

from __future__ import annotations

import io

import pytest

from controller.cli import main
from controller.cli.base import MultiValue, expand_multi_values
from controller.cli.optimize import optimize
from controller.cli.output import LiveProgress, ProgressLine, progress_display, show, table
from controller.persistence import Progress

OBJECTIVE = ["--objective-metric-title", "val", "--objective-metric-series", "loss"]


def test_multi_value_flags_are_repeated_per_value() -> None:
    many, empty = MultiValue(["--many"]), MultiValue(["--empty"], allow_empty=True)
    args = ["--many", "a", "-1", "b", "--other", "x", "--empty", "--many", "c", "--empty"]
    assert expand_multi_values(args, [many, empty]) == [
        "--many", "a", "--many", "-1", "--many", "b", "--other", "x", "--many", "c"]
    # a flag without values stays (click then says it needs one) unless allow_empty
    assert expand_multi_values(["--many", "--", "--many", "z"], [many]) == [
        "--many", "--", "--many", "z"]


def test_optimize_reads_clearml_style_flags() -> None:
    ctx = optimize.make_context("optimize", [
        "--task-id", "t", "--params-search", "{}", "[]", "--args", "--save-top-k-tasks-only",
        "-1", "--objective-metric-title", "a", "b", "--objective-metric-series", "x", "y",
        "--project-name", "p", "--local"])
    params = ctx.params
    assert params["params_search"] == ("{}", "[]") and params["script_args"] == ()
    assert params["save_top_k_tasks_only"] == -1 and params["project"] == "p"
    assert params["objective_metric_title"] == ("a", "b") and params["local"] is True
    assert params["objective_metric_sign"] == () and params["optimizer_class"] == "OptimizerOptuna"
    assert params["top_k"] is None


@pytest.mark.parametrize("args, message", [
    (["--task-id", "t", "--objective-metric-sign"],
     "'--objective-metric-sign' requires an argument"),
    (["--task-id", "t", "--total-max-jobs", "x"], "'x' is not a valid integer"),
    (["--task-id", "a", "--script", "b"], "give one of --task-id (a base task) and --script"),
    ([], "give one of --task-id"),
])
def test_bad_optimize_usage_exits_2_with_a_click_error(capsys, args: list[str], message: str
                                                       ) -> None:
    assert main(["optimize", *OBJECTIVE, *args]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("Error: ") == 1


def test_worker_passes_unknown_arguments_to_celery_in_order(monkeypatch: pytest.MonkeyPatch
                                                            ) -> None:
    calls: list[list[str]] = []
    monkeypatch.setattr("controller.cli.worker._exec", lambda argv, env: calls.append(argv))
    monkeypatch.setenv("HPQ_REDIS_URL", "redis://example:6379/0")
    # -Psolo holds an l: click alone would read it as -P -s -o -l "o"
    assert main(["worker", "-Psolo", "-c4", "-Ofair", "--loglevel=debug", "-E", "--",
                 "-c", "1"]) == 0
    assert calls[0][5:] == ["worker", "-Q", "default", "-l", "debug", "-c", "4",
                            "--without-mingle", "--without-gossip", "-Psolo", "-Ofair", "-E",
                            "-c", "1"]


def test_help_lists_the_commands_in_their_order(capsys) -> None:
    assert main(["--help"]) == 0
    out = capsys.readouterr().out
    names = [line.split()[0] for line in out.split("Commands:")[1].strip().splitlines()]
    assert names == ["worker", "optimize", "resume", "run", "top", "status", "job", "report",
                     "export", "plots", "delete", "gc", "dashboard"]
    assert main(["status", "-h"]) == 0 and "[OPTIMIZER_ID]" in capsys.readouterr().out
    assert main([]) == 2 and "Usage: hpq" in capsys.readouterr().err


def test_tables_off_a_terminal_are_never_cut_and_show_text_as_it_is() -> None:
    out = io.StringIO()
    long = "x" * 300
    show(table(["a", "[b]", "n"], [["1", long, 7], ["[bold]v[/]", ":smile:", 12]], indent=2,
               right=["n"]), out)
    pad = " " * (len(long) - len(":smile:"))  # the middle column is as wide as its longest cell
    assert out.getvalue().splitlines() == [
        "  a           [b]" + " " * (len(long) - len("[b]")) + "   n",
        f"  1           {long}   7",
        f"  [bold]v[/]  :smile:{pad}  12"]


class _Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def _progress(done: int) -> Progress:
    return Progress("in_progress", True, done, 1, 2, [0.5], 3, 1.0)


def test_a_terminal_gets_rich_live_progress_and_keeps_the_last_line(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TERM", "xterm-256color")
    for var in ("NO_COLOR", "FORCE_COLOR", "TTY_COMPATIBLE", "TTY_INTERACTIVE"):
        monkeypatch.delenv(var, raising=False)
    tty = _Tty()
    display = progress_display(tty)
    assert isinstance(display, LiveProgress)
    display.show(_progress(1))
    display.show(_progress(2))
    display.close()
    display.close()  # a second close does nothing
    last = tty.getvalue().rsplit("\x1b[2K", 1)[-1]
    plain = "".join(part.split("m", 1)[-1] for part in last.split("\x1b["))
    assert plain == "done 2 | running 1 | queued 2 | best 0.5 (job #3) | 1.0s\n"


@pytest.mark.parametrize("term, stream", [("dumb", _Tty), ("xterm", io.StringIO)])
def test_a_dumb_terminal_or_a_log_gets_the_plain_line(monkeypatch: pytest.MonkeyPatch,
                                                      term: str, stream: type[io.StringIO]
                                                      ) -> None:
    monkeypatch.setenv("TERM", term)
    for var in ("FORCE_COLOR", "TTY_COMPATIBLE", "TTY_INTERACTIVE"):
        monkeypatch.delenv(var, raising=False)
    out = stream()
    display = progress_display(out)
    assert isinstance(display, ProgressLine) and display.tty == out.isatty()
