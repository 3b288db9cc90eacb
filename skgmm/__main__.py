"""``python -m skgmm`` runs the command line (the demo without arguments)."""

import sys

from skgmm.cli import main

if __name__ == "__main__":
    sys.exit(main())
