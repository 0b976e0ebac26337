"""``python -m ipam``: the command line, nothing more."""

import sys

from ipam.cli import main

sys.exit(main())
