"""python -m tui.cli: the same as the `duet` command."""

import sys

from tui.cli.entry import main

sys.exit(main())
