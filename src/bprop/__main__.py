"""python -m bprop: the same as the bprop command."""

import sys

from bprop.cli.main import main

sys.exit(main())
