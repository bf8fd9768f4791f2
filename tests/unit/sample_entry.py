"""Entry points used by the unit tests."""

NOT_CALLABLE = 42


def train(task):  # noqa: ANN001, ANN201
    p = task.connect({"lr": 0.1})
    task.get_logger().report_scalar("loss", "train", value=p["lr"], iteration=0)
