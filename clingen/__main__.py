"""`python -m clingen`: the same command line as the `clingen` script."""

import sys

from clingen.cli import main

sys.exit(main())
