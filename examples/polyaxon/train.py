"""A Polyaxon training script for examples/polyaxon: it runs unchanged under Polyaxon but for
its tracking import (``from polyaxon import tracking`` there).

No real model: the loss of a configuration is a smooth function of its learning rate, dropout
and activation that falls with every step, so a search has something to find. It never goes
below 0.1 and the accuracy never above 0.88, so hyperband.yaml's early stopping (loss <= 0.05,
accuracy >= 0.9) does not cut its schedule short.
"""

import argparse
import math

from workers import tracking


def evaluate(lr: float, dropout: float, activation: str, step: int) -> tuple[float, float]:
    """The loss and accuracy after ``step + 1`` steps."""
    floor = 0.1 + (lr - 0.1) ** 2 + (dropout - 0.25) ** 2 + (0.15 if activation == "sigmoid"
                                                              else 0.0)
    loss = floor + 2.0 / math.sqrt(step + 1)
    return loss, 0.88 * math.exp(-loss + 0.1)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--learning_rate", "--lr", dest="lr", type=float, default=0.001)
    parser.add_argument("--dropout", type=float, default=0.2)
    parser.add_argument("--conv_activation", "--activation", dest="activation", default="relu")
    parser.add_argument("--epochs", "--num-steps", dest="steps", type=int, default=10)
    parser.add_argument("--batch-size", type=int, default=128)
    for name in ("conv1_size", "conv2_size", "hidden1_size"):
        parser.add_argument(f"--{name}", type=int, default=32)
    for name in ("dense_activation", "optimizer"):
        parser.add_argument(f"--{name}", default="")
    args = parser.parse_args()

    tracking.init()
    loss = accuracy = math.nan
    for step in range(args.steps):
        loss, accuracy = evaluate(args.lr, args.dropout, args.activation, step)
        tracking.log_metrics(step=step, loss=loss, accuracy=accuracy)
    tracking.log_outputs(loss=loss, accuracy=accuracy)
    print(f"lr={args.lr} dropout={args.dropout} activation={args.activation} "
          f"steps={args.steps}: loss {loss:.4f}")


if __name__ == "__main__":
    main()
