"""``python -m workers.hyperv.simulator``: see cli.py and docs-hvsim.md."""

import sys

from .cli import main

sys.exit(main())
