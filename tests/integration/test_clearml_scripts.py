"""ClearML's own public scripts, with only their import lines changed, against hpqueue: a
redis-server of this module's own and real Celery workers on the queues the scripts name.

The scripts and what is done around them (base tasks made by running a training script with
``Task.init`` once; placeholder ids replaced; the notebook's ``! pip`` lines skipped) are described
in ``tests/clearml_scripts/README.md``.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from controller import Objective, UniformParameterRange
from tests.helpers import wait_until
from workers import Store, Task, TaskStatus
from workers.local import LocalWorkers
from workers.procs import start_redis_server

ROOT = Path(__file__).resolve().parents[2]
SCRIPTS = ROOT / "tests" / "clearml_scripts"
BASES = SCRIPTS / "bases"
QUEUES = ("1xGPU", "services", "dan_queue", "workers")

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A redis-server for this module: the scripts use fixed queue names."""
    if shutil.which("redis-server") is None:
        pytest.skip("no redis-server on PATH")
    with start_redis_server(tmp_path_factory.mktemp("redis-clearml"),
                            config={"save": "", "appendonly": "no"}) as server:
        yield server.url


@pytest.fixture(autouse=True)
def _drop_queues(real_store: Store) -> Iterator[None]:
    yield
    client = real_store.redis
    for name in QUEUES:
        client.delete(*client.scan_iter(match=f"{name}*"), f"_kombu.binding.{name}")


@pytest.fixture
def workers(real_store: Store) -> Iterator[list[LocalWorkers]]:
    """Start workers with ``start(queue, concurrency)``; all are stopped at the end."""
    started: list[LocalWorkers] = []
    yield started
    for w in started:
        w.stop(timeout=20)


def start(started: list[LocalWorkers], store: Store, queue: str, concurrency: int = 2) -> None:
    w = LocalWorkers([queue], concurrency=concurrency, url=store.url)
    started.append(w)
    w.wait_ready(timeout=60)


def run(script: Path, *args: str, timeout: float = 240) -> subprocess.CompletedProcess[str]:
    done = subprocess.run([sys.executable, str(script), *args], cwd=ROOT, capture_output=True,
                          text=True, timeout=timeout, check=False)
    assert done.returncode == 0, f"{script.name} failed:\n{done.stdout}\n{done.stderr}"
    return done


def make_base(script: str, project: str, name: str) -> Task:
    """Run a training script by hand once, as a ClearML user makes a base task."""
    run(BASES / script)
    base = Task.get_task(project_name=project, task_name=name)
    assert base.status is TaskStatus.COMPLETED
    return base


def printed_ids(stdout: str) -> list[str]:
    """The ids of ``print([t.id for t in top_exp])`` (the last such line)."""
    line = [ln for ln in stdout.splitlines() if ln.startswith("['")][-1]
    return json.loads(line.replace("'", '"'))


def ranked(children: list[Task], objective: Objective) -> list[str]:
    """Finished jobs best first; ties in creation order (as the optimizer ranks them)."""
    values = [(objective.normalize(v), n, t.id) for n, t in enumerate(children)
              if (v := objective.from_metrics(t.get_last_scalar_metrics())) is not None
              and t.status in (TaskStatus.COMPLETED, TaskStatus.STOPPED)]
    return [i for _, _, i in sorted(values)]


# ===================================================== hyper_parameter_optimizer.py
@pytest.mark.timeout(300)
@pytest.mark.parametrize("as_service", [False, True])
def test_hyper_parameter_optimizer(real_store: Store, workers: list[LocalWorkers],
                                   as_service: bool) -> None:
    base = make_base("keras_base.py", "examples", "Keras HP optimization base")
    start(workers, real_store, "1xGPU")
    if as_service:
        start(workers, real_store, "services", concurrency=1)
    done = run(SCRIPTS / "hyper_parameter_optimizer.py",
               *(["--run_as_service"] if as_service else []))
    controller = Task.get_task(project_name="Hyper-Parameter Optimization",
                               task_name="Automatic Hyper-Parameter Optimization")
    assert controller.task_type == "optimizer" and "optimization" in controller.tags
    if as_service:
        assert "queued on 'services'" in done.stdout
        assert controller.wait_for_status(timeout=240) is TaskStatus.COMPLETED, controller.output
        stdout = controller.output  # what the controller printed on the worker
    else:
        assert controller.status is TaskStatus.COMPLETED
        stdout = done.stdout
    assert "We are done, good bye" in stdout
    assert controller.get_parameter("Args/run_as_service") is as_service
    children = Task.get_tasks(parent=controller.id)
    assert len(children) == 10  # total_max_jobs
    assert all(t.status.is_final and t.record["source"] == base.id for t in children)
    assert {t.get_parameter("General/epochs") for t in children} == {30}
    best = ranked(children, Objective("epoch_accuracy", "epoch_accuracy", "max"))
    assert stdout.count("Job completed!") == len(best)  # each job that ended with its objective
    assert printed_ids(stdout) == best[:3]


# ========================================================== multi_objective_hpo.py
@pytest.mark.timeout(300)
def test_multi_objective_hpo(real_store: Store, workers: list[LocalWorkers]) -> None:
    make_base("keras_base.py", "examples", "Keras HP optimization base")
    start(workers, real_store, "1xGPU")
    done = run(SCRIPTS / "multi_objective_hpo.py")
    controller = Task.get_task(project_name="Hyper-Parameter Optimization",
                               task_name="Multi-objective HPO")
    assert controller.status is TaskStatus.COMPLETED
    assert controller.get_parameters()["General/run_as_service"] is False
    children = Task.get_tasks(parent=controller.id)
    assert len(children) == 10
    top = printed_ids(done.stdout)
    assert len(top) == 3 and set(top) <= {t.id for t in children}
    assert "We are done, good bye" in done.stdout


# ===================================================== hyperparameter_search.ipynb
def notebook_as_script(path: Path, replacements: dict[str, str]) -> str:
    """The notebook's code cells in order, without its ``!`` shell lines."""
    lines: list[str] = []
    for cell in json.loads(path.read_text())["cells"]:
        if cell["cell_type"] == "code":
            lines += [ln for ln in "".join(cell["source"]).splitlines()
                      if not ln.lstrip().startswith("!")]
            lines.append("")
    text = "\n".join(lines)
    for old, new in replacements.items():
        assert text.count(old) == 1, old
        text = text.replace(old, new)
    return text


@pytest.mark.timeout(300)
def test_pytorch_notebook(real_store: Store, workers: list[LocalWorkers],
                          tmp_path: Path) -> None:
    base = make_base("cifar_base.py", "Image Example", "image classification CIFAR10")
    start(workers, real_store, "dan_queue")
    script = tmp_path / "hyperparameter_search.py"
    script.write_text(notebook_as_script(SCRIPTS / "hyperparameter_search.ipynb",
                                         {"b634a59993f8477f9e22167bae662be4": base.id}))
    done = run(script)
    controller = Task.get_task(project_name="Hyperparameter Optimization with Optuna",
                               task_name="Hyperparameter Search")
    assert controller.task_type == "optimizer"
    children = Task.get_tasks(parent=controller.id)
    assert len(children) == 20  # total_max_jobs
    params = children[0].get_parameters()
    assert {"General/number_of_epochs", "General/batch_size", "General/dropout",
            "General/base_lr"} <= set(params)  # names without a section: General
    ranks = [ln for ln in done.stdout.splitlines() if ln.startswith("Rank ")]
    assert len(ranks) == 3 and all("|result=" in ln for ln in ranks)
    best = ranked(children, Objective("accuracy", "total", "max"))
    assert [ln.split("task id=")[1].split(" ")[0] for ln in ranks] == best[:3]


# ======================================================= the HyperParameterOptimizer docstring
@pytest.mark.timeout(300)
def test_docstring_example(real_store: Store, workers: list[LocalWorkers],
                           tmp_path: Path) -> None:
    base = make_base("docstring_base.py", "examples", "docstring example base")
    start(workers, real_store, "workers", concurrency=3)
    script = tmp_path / "hpo_docstring_example.py"
    text = (SCRIPTS / "hpo_docstring_example.py").read_text()
    script.write_text(text.replace("fa30fa45d95d4927b87c323b5b04dc44", base.id))
    proc = subprocess.Popen([sys.executable, str(script)], cwd=ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    tail: list[str] = []  # the polling loop prints without pause: keep the last lines only
    reader = threading.Thread(target=lambda: [
        tail.__setitem__(slice(None), [*tail[-5:], ln.rstrip("\n")]) for ln in proc.stdout or ()],
        daemon=True)
    reader.start()
    try:
        controller = wait_until(lambda: Task.get_tasks(
            project_name="examples", task_name="^HyperParameterOptimizer example$"), 60,
            "the controller task")[0]
        wait_until(lambda: "summary" in controller.artifacts, 240, "the end of the optimization")
        children = Task.get_tasks(parent=controller.id)
        best = ranked(children, Objective("title", "series", "min"))[:3]
        wanted = "[" + ", ".join(repr(Task.get_task(i)) for i in best) + "]"
        wait_until(lambda: wanted in tail, 30, "the final top 3 printed by the polling loop")
    finally:
        os.kill(proc.pid, signal.SIGINT)  # the loop would poll until its 10-minute limit
        proc.wait(timeout=30)
    space = UniformParameterRange("lr", min_value=0.01, max_value=0.3, step_size=0.05)
    assert len(children) == len(space.to_list()) * 3  # RandomSearch covered the finite space
    assert all(t.status is TaskStatus.COMPLETED for t in children)
    assert {t.get_parameter("General/network") for t in children} == {
        "ResNet18", "ResNet50", "ResNet101"}
    assert controller.status is TaskStatus.STOPPED  # Ctrl-C of a script run by hand
