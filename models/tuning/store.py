"""Tuned models in Duet's model store: DATA_DIR/tuned/NAME/ holds the GGUF and its lineage.json.

A fine-tune works in DATA_DIR/tuned/.partial-NAME-PID/ (the F32 copies, the saved model, the
lineage) and is registered by renaming that folder to NAME, one atomic step: a kill -9 or a full
disk at any point before it leaves only a .partial folder, which no listing shows and the next
fine-tune removes (once the process that made it is gone). An existing name is never replaced.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

from pydantic import ValidationError

from models.errors import DuetError
from models.store.paths import data_dir
from models.tuning.lineage import LINEAGE_FILE, Lineage
from models.tuning.settings import NAME_PATTERN

_PARTIAL = ".partial-"
_ACTIVE: set[Path] = set()  # this process's fine-tunes in progress: never leftovers


def tuned_dir() -> Path:
    return data_dir() / "tuned"


def _folder(name: str) -> Path:
    if not NAME_PATTERN.match(name):
        raise DuetError(
            f"'{name}' is not a tuned model's name (letters, digits, '.', '_' or '-'); see: duet models list"
        )
    return tuned_dir() / name


def exists(name: str) -> bool:
    return (_folder(name) / LINEAGE_FILE).is_file()


def load_lineage(name: str) -> Lineage:
    """The lineage record of tuned:NAME; DuetError when there is no such model or it is damaged."""
    path = _folder(name) / LINEAGE_FILE
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise DuetError(
            f"there is no tuned model 'tuned:{name}'; see: duet models list, or make it with duet tune"
        ) from None
    except OSError as err:
        raise DuetError(f"cannot read {path} ({err.strerror})") from None
    try:
        return Lineage.model_validate(json.loads(raw))
    except (ValueError, ValidationError):
        raise DuetError(
            f"the lineage record {path} is damaged; remove the model: duet models remove tuned:{name}"
        ) from None


def tuned_path(name: str) -> Path:
    """The GGUF of tuned:NAME."""
    lineage = load_lineage(name)
    path = _folder(name) / lineage.file
    if not path.is_file():
        raise DuetError(
            f"the model file of tuned:{name} is missing ({path}); remove it: duet models remove tuned:{name}"
        )
    return path


def list_tuned() -> list[Lineage]:
    """Every registered tuned model, by name; damaged records are left out."""
    found = []
    try:
        entries = sorted(tuned_dir().iterdir())
    except OSError:
        return []
    for entry in entries:
        if entry.name.startswith(".") or not (entry / LINEAGE_FILE).is_file():
            continue
        try:
            found.append(load_lineage(entry.name))
        except DuetError:
            continue
    return found


def remove_tuned(name: str) -> int:
    """Remove tuned:NAME; the bytes freed. DuetError when there is no such model."""
    folder = _folder(name)
    if not folder.is_dir():
        raise DuetError(f"there is no tuned model 'tuned:{name}'; see: duet models list")
    freed = sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())
    # Renamed out of the way first, so a crash halfway never leaves a half model under its name.
    doomed = folder.with_name(f"{_PARTIAL}removed-{name}-{os.getpid()}")
    try:
        os.replace(folder, doomed)
        shutil.rmtree(doomed, ignore_errors=True)
    except OSError as err:
        raise DuetError(f"cannot remove {folder} ({err.strerror}); check its permissions") from None
    return freed


def new_workdir(name: str) -> Path:
    """The folder a fine-tune of NAME works in, after leftovers of dead runs are removed."""
    clean_leftovers()
    root = tuned_dir()
    work = root / f"{_PARTIAL}{name}-{os.getpid()}"
    try:
        root.mkdir(parents=True, exist_ok=True)
        shutil.rmtree(work, ignore_errors=True)
        work.mkdir()
        _ACTIVE.add(work)
    except OSError as err:
        raise DuetError(
            f"cannot write the model store {root} ({err.strerror}); set DUET_DATA_DIR to a writable folder"
        ) from None
    return work


def register(work: Path, name: str) -> Path:
    """The finished work folder becomes tuned:NAME, in one rename."""
    target = _folder(name)
    if target.exists():
        raise DuetError(f"a tuned model named '{name}' appeared meanwhile; the new one is not saved")
    try:
        os.replace(work, target)
    except OSError as err:
        raise DuetError(f"cannot register tuned:{name} ({err.strerror})") from None
    _ACTIVE.discard(work)
    return target


def discard_workdir(work: Path) -> None:
    """A fine-tune that stopped or failed: its work folder goes."""
    _ACTIVE.discard(work)
    shutil.rmtree(work, ignore_errors=True)


def clean_leftovers() -> list[Path]:
    """Remove the work folders of fine-tunes whose process is gone; the folders removed."""
    removed = []
    try:
        entries = list(tuned_dir().iterdir())
    except OSError:
        return []
    for entry in entries:
        if not entry.name.startswith(_PARTIAL) or not entry.is_dir() or entry in _ACTIVE:
            continue
        pid = entry.name.rsplit("-", 1)[-1]
        if pid.isdigit() and int(pid) != os.getpid() and _alive(int(pid)):  # another Duet's fine-tune
            continue
        shutil.rmtree(entry, ignore_errors=True)
        removed.append(entry)
    return removed


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
