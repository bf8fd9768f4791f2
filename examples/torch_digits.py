"""A PyTorch training script with a command line, run by hpqueue as a command base task.

    python examples/torch_digits.py --lr 0.003 --hidden 64 --dropout 0.1 --epochs 9

A small convolutional network on scikit-learn's digits (8x8 images; the split of
examples/mlp_digits.py), trained on the CPU. Run by itself it prints a line per epoch. Run by an
hpqueue worker (examples/torch_asha.py makes the base task: the command with ``{{ General/lr }}``
placeholders), it finds its trial with ``Task.current_task()``, reports ``validation/loss`` and
``validation/accuracy`` per epoch, saves the model and optimizer state after each epoch with
``task.save_checkpoint``, and continues from ``task.latest_checkpoint()`` when the trial
continues another (ASHA with ``resume=True``), training up to ``--epochs`` in total.

Requires the ``examples`` extra (``pip install -e '.[examples]'``; PyTorch's CPU build is enough).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path
from typing import Any

import torch
from mlp_digits import digits  # the same data and split as the scikit-learn examples
from torch import nn

from workers import Task


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--lr", type=float, default=3e-3, help="Adam's step size")
    parser.add_argument("--hidden", type=int, default=64, help="units of the dense layer")
    parser.add_argument("--dropout", type=float, default=0.1, help="dropout before the output")
    parser.add_argument("--epochs", type=int, default=9, help="epochs in total (continued "
                        "trials included)")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    if args.lr <= 0 or args.hidden < 1 or not 0 <= args.dropout < 1 or args.epochs < 1:
        parser.error("--lr and --hidden must be positive, --dropout in [0, 1), --epochs >= 1")
    return args


def network(hidden: int, dropout: float) -> nn.Module:
    return nn.Sequential(
        nn.Unflatten(1, (1, 8, 8)),
        nn.Conv2d(1, 16, kernel_size=3, padding=1), nn.ReLU(), nn.MaxPool2d(2),  # 16 x 4 x 4
        nn.Flatten(), nn.Linear(16 * 4 * 4, hidden), nn.ReLU(), nn.Dropout(dropout),
        nn.Linear(hidden, 10))


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    torch.set_num_threads(1)  # one trial per core
    torch.manual_seed(args.seed)
    task = Task.current_task()  # None when run by hand
    x_train, y_train, x_val, y_val = (torch.as_tensor(a) for a in digits())
    x_train, x_val = x_train.float(), x_val.float()
    model = network(args.hidden, args.dropout)
    optimizer = torch.optim.Adam(model.parameters(), lr=args.lr)
    start = resume(task, model, optimizer, args.lr)
    loss_fn = nn.CrossEntropyLoss()
    with tempfile.TemporaryDirectory() as tmp:
        for epoch in range(start, args.epochs):
            model.train()
            for batch in torch.randperm(len(x_train)).split(args.batch_size):
                optimizer.zero_grad()
                loss_fn(model(x_train[batch]), y_train[batch]).backward()
                optimizer.step()
            model.eval()
            with torch.no_grad():
                logits = model(x_val)
                loss = loss_fn(logits, y_val).item()
                accuracy = (logits.argmax(1) == y_val).float().mean().item()
            print(f"epoch {epoch + 1}/{args.epochs}: validation loss {loss:.4f} "
                  f"accuracy {accuracy:.3f}", flush=True)
            if task is not None:
                report(task, epoch, loss, accuracy)
                path = Path(tmp) / "model.pt"
                torch.save({"epoch": epoch + 1, "model": model.state_dict(),
                            "optimizer": optimizer.state_dict()}, path)
                task.save_checkpoint(path, iteration=epoch)
    return 0


def resume(task: Task | None, model: nn.Module, optimizer: Any, lr: float) -> int:
    """Load the trial's latest checkpoint (its own, or the continued trial's) into ``model``
    and ``optimizer`` (with this trial's ``lr``); returns the epoch to start from."""
    checkpoint = task.latest_checkpoint() if task is not None else None
    start = 0
    if checkpoint is not None:
        saved = torch.load(checkpoint, weights_only=True)
        model.load_state_dict(saved["model"])
        optimizer.load_state_dict(saved["optimizer"])
        for group in optimizer.param_groups:
            group["lr"] = lr
        start = int(saved["epoch"])
        print(f"continuing {checkpoint} from epoch {start}", flush=True)
    if task is not None:
        task.get_logger().report_single_value("start_epoch", start)
    return start


def report(task: Task, epoch: int, loss: float, accuracy: float) -> None:
    log = task.get_logger()
    log.report_scalar("validation", "loss", value=loss, iteration=epoch)
    log.report_scalar("validation", "accuracy", value=accuracy, iteration=epoch)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
