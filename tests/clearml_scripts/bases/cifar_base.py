"""The base task of ClearML's hyperparameter_search.ipynb, made the ClearML way (our stand-in for
ClearML's image_classification_CIFAR10.ipynb, without PyTorch or the data set).

Same project, task name and connected configuration as the notebook, and the same scalar:
``accuracy``/``total`` after each epoch, at the iteration the notebook's loop reaches
(``epoch * len(trainloader) + i`` over 50,000 images).
"""

from __future__ import annotations

import math

from workers import Task

task = Task.init(project_name="Image Example", task_name="image classification CIFAR10")
configuration_dict = {"number_of_epochs": 3, "batch_size": 4, "dropout": 0.25, "base_lr": 0.001}
configuration_dict = task.connect(configuration_dict)
print(configuration_dict)

batches = 50000 // int(configuration_dict.get("batch_size", 4))
lr = configuration_dict.get("base_lr", 0.001)
for epoch in range(int(configuration_dict.get("number_of_epochs", 3))):
    iteration = (epoch + 1) * batches
    quality = 1 - abs(math.log10(lr) + 2.5) / 3 - abs(configuration_dict["dropout"] - 0.2)
    total_accuracy = 100 * max(0.1, quality) * (1 - math.exp(-0.7 * (epoch + 1)))
    print(f"[Iteration {iteration}] Accuracy on the 10000 test images: {total_accuracy}%")
    task.get_logger().report_scalar("accuracy", "total", value=total_accuracy,
                                    iteration=iteration)
print("Finished Training")
print(f"Task ID number is: {task.id}")
