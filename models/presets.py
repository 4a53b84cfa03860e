"""Prompt presets: the course's lesson prompts built in, and user presets from a TOML file.

A presets file holds one ``[[preset]]`` table per prompt::

    [[preset]]
    name = "dog"
    text = "Tell me how to train my dog to sit"
    chat_mode = "inst"      # optional: raw, inst or chat, per pane
    chat_lora = ["my-lora.gguf@0.5"]  # optional: the pane's LoRA adapters from now on ([]: none)
    lesson = true           # optional: open the lesson layout first (base raw | base aligned | chat)
    temperature = 0.7       # optional sampling overrides: temperature, top_p, top_k, min_p,
    max_tokens = 64         #   repeat_penalty, max_tokens, seed
"""

from __future__ import annotations

import re
from pathlib import Path

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from models.adapters import parse_adapter
from models.errors import DuetError, first_field_error
from models.prompts import MODE_NAMES
from models.settings import AdapterSpec, SamplingSettings
from models.toml import KB, read_toml, size_text

MAX_FILE_BYTES = 1024 * KB  # prompts for a batch run, not a corpus: a 50 MB file took 19 s to read
SAMPLING_OVERRIDES = ("temperature", "top_p", "top_k", "min_p", "repeat_penalty", "max_tokens", "seed")


class Preset(BaseModel):
    """One prompt, optionally with the prompt mode of each pane and sampling overrides."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1)
    text: str = Field(min_length=1)
    base_mode: str | None = None
    chat_mode: str | None = None
    temperature: float | None = None
    top_p: float | None = None
    top_k: int | None = None
    min_p: float | None = None
    repeat_penalty: float | None = None
    max_tokens: int | None = None
    seed: int | None = None
    base_lora: list[str] | None = None  # ADAPTER[@SCALE] each (models/adapters.py)
    chat_lora: list[str] | None = None
    lesson: bool = False  # the app opens the lesson layout (models/lesson.py) before sending it

    @field_validator("base_lora", "chat_lora", mode="before")
    @classmethod
    def _adapters(cls, value):
        value = [value] if isinstance(value, str) else value
        for text in value or ():
            if not isinstance(text, str):
                continue  # list[str] says so
            try:
                parse_adapter(text)
            except DuetError as err:
                raise ValueError(str(err)) from None
        return value

    @field_validator("base_mode", "chat_mode")
    @classmethod
    def _known_mode(cls, value: str | None) -> str | None:
        if value is not None and value not in MODE_NAMES:
            raise ValueError(f"unknown prompt mode '{value}'; choose one of {', '.join(MODE_NAMES)}")
        return value

    @model_validator(mode="after")
    def _valid_sampling(self) -> Preset:
        # The same limits as the settings they override (e.g. temperature 0..5).
        SamplingSettings(**self.sampling_overrides())
        return self

    def sampling_overrides(self) -> dict:
        return {k: getattr(self, k) for k in SAMPLING_OVERRIDES if getattr(self, k) is not None}

    def mode_for(self, role: str) -> str | None:
        """This preset's prompt mode for the pane with ``role`` ("base" or "chat"), if it sets one."""
        return {"base": self.base_mode, "chat": self.chat_mode}.get(role)  # a third pane has none

    def adapters_for(self, role: str) -> tuple[AdapterSpec, ...] | None:
        """The LoRA adapters this preset gives the pane with ``role`` (None: it leaves them as they are)."""
        texts = {"base": self.base_lora, "chat": self.chat_lora}.get(role)
        return None if texts is None else tuple(parse_adapter(text) for text in texts)

    def apply(self, sampling: SamplingSettings) -> SamplingSettings:
        """``sampling`` with this preset's overrides applied."""
        overrides = self.sampling_overrides()
        if not overrides:
            return sampling
        return SamplingSettings(**{**sampling.model_dump(), **overrides})


_DOG = "Tell me how to train my dog to sit"
_CUSTOMER_SERVICE = (
    "Agent: I'm here to help you with your Amazon deliver order.\n"
    "Customer: I didn't get my item\n"
    "Agent: I'm sorry to hear that. Which item was it?\n"
    "Customer: the blanket\n"
    "Agent:"
)

_BUILTIN = (
    Preset(name="dog", text=_DOG),
    Preset(name="mars", text="What do you think of Mars?"),
    Preset(name="taylor-swift", text="taylor swift's best friend"),
    Preset(name="customer-service", text=_CUSTOMER_SERVICE),
    Preset(name="name", text="What's your name?"),
    Preset(name="dog-inst", text=_DOG, chat_mode="inst"),
    Preset(name="dog-lesson", text=_DOG, lesson=True),  # prompting vs fine-tuning, three panes
)
LESSON_PROMPTS = 5  # the first five built-ins are the lesson's own prompts


def lesson_presets() -> list[Preset]:
    """The lesson's five prompts, without the variants (dog-inst, dog-lesson)."""
    return list(_BUILTIN[:LESSON_PROMPTS])


def builtin_presets() -> list[Preset]:
    """The lesson's prompts, in the lesson's order."""
    return list(_BUILTIN)


def load_presets(path: str | Path) -> list[Preset]:
    """User presets from a TOML file; DuetError naming the line or the preset and field when it is broken."""
    path = Path(path)
    try:
        read = read_toml(path, f"presets file {path}", MAX_FILE_BYTES)
    except FileNotFoundError:
        raise DuetError(f"presets file {path} does not exist") from None
    source, data = read.source, read.data
    unknown = sorted(set(data) - {"preset"})
    if unknown:
        raise DuetError(
            f"presets file {path}: unexpected key '{unknown[0]}' at the top level; "
            "write each prompt as a [[preset]] table with name and text"
        )
    entries = data.get("preset")
    if not isinstance(entries, list) or not entries:
        raise DuetError(f"presets file {path} has no presets; add [[preset]] tables with name and text")
    presets: list[Preset] = []
    for index, entry in enumerate(entries):
        if not isinstance(entry, dict):
            raise DuetError(f"presets file {path}: preset {index + 1} is not a table; use [[preset]]")
        try:
            presets.append(Preset(**entry))
        except ValidationError as err:
            field, message = first_field_error(err)
            line = _line_of(source, index, field or None)
            where = f"line {line}, " if line else ""
            label = f" ('{entry['name']}')" if isinstance(entry.get("name"), str) else ""
            subject = f"field '{field}'" if field else "its settings"
            raise DuetError(f"presets file {path}: {where}preset {index + 1}{label}, {subject}: {message}") from None
    names = [p.name for p in presets]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise DuetError(f"presets file {path}: the name '{duplicates[0]}' is used by more than one preset")
    return presets


def _line_of(source: str, index: int, field: str | None) -> int | None:
    """The line of the ``index``-th [[preset]] header, or of ``field`` inside that table."""
    header = re.compile(r"^\s*\[\[\s*preset\s*\]\]")
    any_table = re.compile(r"^\s*\[")
    lines = source.splitlines()
    seen = -1
    start = None
    for number, line in enumerate(lines, 1):
        if header.match(line):
            seen += 1
            if seen == index:
                start = number
                break
    if start is None:
        return None
    if field:
        key = re.compile(rf"^\s*[\"']?{re.escape(field)}[\"']?\s*=")
        for number in range(start + 1, len(lines) + 1):
            line = lines[number - 1]
            if any_table.match(line):
                break
            if key.match(line):
                return number
    return start


def load_prompt_list(path: str | Path) -> list[Preset]:
    """Prompts from a text file, one per line (blank lines and lines starting with # skipped).
    Each becomes a preset named after its line number."""
    path = Path(path)
    try:
        with path.open("rb") as handle:
            raw = handle.read(MAX_FILE_BYTES + 1)
        if len(raw) > MAX_FILE_BYTES:
            raise DuetError(f"prompts file {path} is over {size_text(MAX_FILE_BYTES)}; split it into smaller runs")
        lines = raw.decode("utf-8").splitlines()
    except FileNotFoundError:
        raise DuetError(f"prompts file {path} does not exist") from None
    except (OSError, UnicodeDecodeError) as err:
        reason = err.strerror if isinstance(err, OSError) else "not UTF-8 text"
        raise DuetError(f"cannot read prompts file {path} ({reason})") from None
    presets = [
        Preset(name=f"line-{number}", text=line.strip())
        for number, line in enumerate(lines, 1)
        if line.strip() and not line.lstrip().startswith("#")
    ]
    if not presets:
        raise DuetError(f"prompts file {path} has no prompts; write one prompt per line")
    return presets


def resolve_prompts(spec: str) -> list[Preset]:
    """``builtin`` for the built-in presets, ``lesson`` for the lesson's five prompts alone, a
    .toml presets file, or a text file of prompts."""
    if spec == "builtin":
        return builtin_presets()
    if spec == "lesson":
        return lesson_presets()
    if spec.lower().endswith(".toml"):
        return load_presets(spec)
    return load_prompt_list(spec)
