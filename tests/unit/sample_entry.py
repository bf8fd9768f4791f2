"""Entry points used by the unit tests."""

NOT_CALLABLE = 42


def train(task):
    p = task.connect({"lr": 0.1})
    task.get_logger().report_scalar("loss", "train", value=p["lr"], iteration=0)
