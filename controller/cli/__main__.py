"""``python -m controller.cli`` is ``hpq``."""

import sys

from . import main

sys.exit(main())
