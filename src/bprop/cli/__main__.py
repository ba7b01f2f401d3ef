"""python -m bprop.cli: the same as the bprop command."""

import sys

from bprop.cli.main import main

sys.exit(main())
