"""The base task of the ``HyperParameterOptimizer`` docstring example, made the ClearML way: it
connects ``lr`` and ``network`` (section General) and reports ``title``/``series``."""

from __future__ import annotations

from workers import Task

task = Task.init(project_name="examples", task_name="docstring example base")
params = task.connect({"lr": 0.1, "network": "ResNet18"})
depth = {"ResNet18": 18, "ResNet50": 50, "ResNet101": 101}[params["network"]]
for step in range(3):
    loss = (params["lr"] - 0.11) ** 2 + 1.0 / depth + 0.1 / (step + 1)
    task.get_logger().report_scalar("title", "series", value=loss, iteration=step)
