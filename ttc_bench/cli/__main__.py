"""``python -m ttc_bench.cli``."""

import sys

from . import main

sys.exit(main())
