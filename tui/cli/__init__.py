"""The `duet` command line: the app by default, and the headless subcommands (ask, info, run,
history, models) that share its engine code."""
