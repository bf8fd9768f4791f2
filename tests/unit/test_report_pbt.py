"""The report's PBT section for the segment-based PopulationBasedTraining: the population read
from the job table (members, own progress, copies), drawn per member. (The in-trial client's
population is checked in test_pbt_client.py.)"""

from __future__ import annotations

from pathlib import Path

from controller import (
    HyperParameterOptimizer,
    LogUniformParameterRange,
    PopulationBasedTraining,
    UniformParameterRange,
)
from controller.dispatch import InProcessDispatcher
from controller.objective import Objective
from controller.persistence import OptimizerRepository
from controller.report import write_report
from controller.report_pbt import load_traces
from workers import Store, Task

TRAIN = Path(__file__).resolve().parents[2] / "examples" / "train_resumable.py"


def test_segments_become_members_over_their_own_progress(store: Store, tmp_path: Path) -> None:
    base = Task.create("pbt-report", "train", entry_point=f"{TRAIN}:main",
                       parameters={"lr": 0.1, "dropout": 0.25, "epochs": 3})
    dispatcher = InProcessDispatcher(store, threads=1)  # one order of results: deterministic
    opt = HyperParameterOptimizer(
        base.id, [LogUniformParameterRange("General/lr", -3, 0),
                  UniformParameterRange("General/dropout", 0.0, 0.6)],
        "validation", "loss", "min", optimizer_class=PopulationBasedTraining,
        resource="General/epochs", perturbation_interval=1, max_resource=3, population_size=5,
        resample_probability=0.0, max_number_of_concurrent_tasks=5, pool_period_min=0.01,
        seed=4, dispatcher=dispatcher)
    opt.start()
    assert opt.wait(timeout=1.0) and dispatcher.close(timeout=10)
    jobs = OptimizerRepository(store).load(opt.id).jobs
    traces = load_traces(store, opt.id, Objective("validation", "loss", "min"))
    assert [t.member for t in traces] == [0, 1, 2, 3, 4]
    for trace in traces:
        mine = sorted((j for j in jobs if j.meta["member"] == trace.member),
                      key=lambda j: j.meta["generation"])
        assert trace.job_ids == [j.id for j in mine]
        assert [s for s, _ in trace.metric] == [1.0, 2.0, 3.0]  # its own epochs
        assert [s for s, _ in trace.schedule] == [0.0, 1.0, 2.0]
        assert [hp["General/lr"] for _, hp in trace.schedule] == [
            j.parameters["General/lr"] for j in mine]
        copied = [j for j in mine if "exploited" in j.meta]
        assert [c.donor for c in trace.copies] == [j.meta["exploited"] for j in copied]
        assert [c.step for c in trace.copies] == [j.meta["progress"] - 1 for j in copied]
    assert any(t.copies for t in traces)

    write_report(store, opt.id, tmp_path / "report.html")
    html = (tmp_path / "report.html").read_text()
    section = html[html.index("<h2>Population-based training</h2>"):
                   html.index("<h2>Jobs (best first)</h2>")]
    assert "lr per member" in section and "dropout per member" in section
    assert "epochs per member" not in section  # the resource is not a hyper-parameter
