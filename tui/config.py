"""The user's config file: key remapping and where presets live."""

from __future__ import annotations

import os
from pathlib import Path

import platformdirs
from pydantic import BaseModel, ConfigDict, ValidationError

from models.errors import DuetError, first_field_error
from models.toml import tomllib


def config_dir() -> Path:
    override = os.environ.get("DUET_CONFIG_DIR")
    return Path(override) if override else Path(platformdirs.user_config_dir("duet"))


class DuetConfig(BaseModel):
    """config.toml, e.g.

    theme = "gruvbox"
    lens_after_every_turn = true  # the token-shift lens on every answer (F8 shows it on demand)
    [keymap]
    cycle_mode = "f2,ctrl+o"     # binding id = comma-separated keys (see the help screen for ids)
    """

    model_config = ConfigDict(extra="forbid")

    theme: str | None = None
    keymap: dict[str, str] = {}
    lens_after_every_turn: bool = False  # the token-shift lens on every answer as soon as it is done


def load_config(path: Path | None = None) -> DuetConfig:
    path = path or config_dir() / "config.toml"
    if not path.exists():
        return DuetConfig()
    try:
        return DuetConfig(**tomllib.loads(path.read_text(encoding="utf-8")))
    except tomllib.TOMLDecodeError as err:
        raise DuetError(f"{path}: {err}; fix the TOML syntax") from None
    except ValidationError as err:
        field, message = first_field_error(err)
        raise DuetError(f"{path}: field '{field}': {message}") from None
    except OSError as err:
        raise DuetError(f"{path}: cannot read it ({err.strerror})") from None


def presets_path() -> Path:
    return config_dir() / "presets.toml"
