"""The base task of ClearML's hyper_parameter_optimizer.py and multi_objective_hpo.py, made the
ClearML way (our stand-in for ClearML's base_template_keras_simple.py, without TensorFlow).

Same project, task name, connected arguments and scalars as the Keras script: per-epoch
``epoch_accuracy``/``epoch_accuracy`` (what the Keras TensorBoard callback reports) and the final
``evaluate``/``score`` and ``evaluate``/``accuracy``.
"""

from __future__ import annotations

import math

from workers import Logger, Task

task = Task.init(project_name="examples", task_name="Keras HP optimization base")
args = {"batch_size": 128, "epochs": 6, "layer_1": 512, "layer_2": 512, "layer_3": 10,
        "layer_4": 512}
args = task.connect(args)

# a toy accuracy surface: best with wide layers and batch 128
capacity = math.log2(args["layer_1"]) + math.log2(args["layer_2"])
ceiling = 0.99 - 0.02 * abs(capacity - 18) - 0.0002 * abs(args["batch_size"] - 128)
accuracy = 0.0
for epoch in range(args["epochs"]):
    accuracy = ceiling * (1 - math.exp(-0.5 * (epoch + 1)))
    task.get_logger().report_scalar("epoch_accuracy", "epoch_accuracy", value=accuracy,
                                    iteration=epoch)
score = 1.0 - accuracy
print("Test score:", score)
print("Test accuracy:", accuracy)
Logger.current_logger().report_scalar(title="evaluate", series="score", value=score,
                                      iteration=args["epochs"])
Logger.current_logger().report_scalar(title="evaluate", series="accuracy", value=accuracy,
                                      iteration=args["epochs"])
