"""Runs ``ComputeDefinition(EXPERIMENT_DIR, parallelization="celery", queue=QUEUE)
.start_execution()`` as its own process (the controller tests/integration/test_phs_real.py
kills)."""

from __future__ import annotations

import sys

from controller.phs import ComputeDefinition

if __name__ == "__main__":
    ComputeDefinition(sys.argv[1], parallelization="celery", queue=sys.argv[2]).start_execution()
