"""Where Duet keeps user data: one leaf module, so anything (the history, the model store of
tuned models) can ask without importing the history database and what it imports."""

from __future__ import annotations

import os
from pathlib import Path

import platformdirs


def data_dir() -> Path:
    """Where Duet keeps user data; DUET_DATA_DIR overrides the platform's user data dir."""
    override = os.environ.get("DUET_DATA_DIR")
    return Path(override).expanduser() if override else Path(platformdirs.user_data_dir("duet"))
