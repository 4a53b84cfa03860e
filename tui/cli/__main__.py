"""python -m tui.cli: the same as the `duet` command."""

import sys

from tui.cli.main import main

sys.exit(main())
