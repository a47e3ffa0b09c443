"""``python -m workers.hyperv.simulator``: see cli.py and the README."""

import sys

from .cli import main

sys.exit(main())
