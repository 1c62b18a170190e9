"""Allow ``python -m hbmep_pymc``."""

import sys

from hbmep_pymc.cli import main

sys.exit(main())
