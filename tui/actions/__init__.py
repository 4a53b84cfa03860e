"""What DuetApp does behind its keys: one mixin per concern (adapters, amplify, lens, lesson, panes,
presets, tune), and the functions behind a finished turn (saving) and ctrl+q (quitting)."""
