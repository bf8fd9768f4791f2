"""The trivial trial of the overhead benchmark: report one scalar and return.

Addressed as ``bench.trivial:main`` (workers get the repository root on PYTHONPATH). It makes no
Redis call besides the report, so the benchmark measures hpqueue's own cost per trial.
"""

from __future__ import annotations

import random


def main(task) -> None:
    task.get_logger().report_scalar("loss", "value", value=random.random(), iteration=0)
