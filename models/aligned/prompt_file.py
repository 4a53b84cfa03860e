"""The aligned mode's prompt file: a header, the query/answer layout and worked examples, in TOML.

The built-in one is ``models/aligned/aligned.toml`` (its comments document the format); a user
replaces it with ``aligned.toml`` in the config directory. The file is validated with pydantic,
and a broken one is one DuetError line naming the file, the line and the field; whoever loads it
(tui/config.py) keeps the built-in prompt then. Every answer made in aligned mode records which
file it came from and the SHA-256 of its bytes (``PromptFileRef``), in the history and reports.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from importlib.resources import files
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from models.errors import DuetError
from models.toml import parse_toml

BUILTIN_NAME = "built-in"
MAX_FILE_BYTES = 64 * 1024  # a prompt prefix, not a corpus: read at most this much
MAX_EXAMPLES = 8


class Layout(BaseModel):
    """The markers that start a question and an answer, and the one that ends an answer.

    A question's text follows its marker on the same line, and so does an answer's; the answer
    marker also ends the question. The answer's stop strings come from them (``stops``)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    question_start: str = Field("Question:", min_length=1, max_length=40)
    answer_start: str = Field("Answer:", min_length=1, max_length=40)
    answer_end: str = Field("<end>", min_length=1, max_length=40)

    @field_validator("*")
    @classmethod
    def _one_line(cls, value: str) -> str:
        if value != value.strip() or "\n" in value:
            raise ValueError("a marker is one line with no spaces around it")
        return value

    @model_validator(mode="after")
    def _distinct(self) -> Layout:
        markers = self.markers()
        if any(a in b for i, a in enumerate(markers) for j, b in enumerate(markers) if i != j):
            raise ValueError("no marker may be part of another one")
        return self

    def markers(self) -> tuple[str, ...]:
        return (self.question_start, self.answer_start, self.answer_end)

    def stops(self) -> tuple[str, ...]:
        """Where an answer ends: its end marker (and the line break before it), or a line that
        starts another question or answer, which the model would otherwise write itself."""
        return (f"\n{self.answer_end}", self.answer_end, f"\n{self.question_start}", f"\n{self.answer_start}")


class Example(BaseModel):
    """One worked question and its answer."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    question: str = Field(min_length=1, max_length=2000)
    answer: str = Field(min_length=1, max_length=8000)

    @field_validator("question", "answer")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must not be blank")
        return value.strip()


class AlignedPrompt(BaseModel):
    """The whole file: ``header``, an optional ``[layout]`` table and ``[[example]]`` tables."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    header: str = Field(min_length=1, max_length=8000)
    layout: Layout = Layout()
    example: tuple[Example, ...] = Field(min_length=1, max_length=MAX_EXAMPLES)

    @field_validator("header")
    @classmethod
    def _header(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must not be blank")
        return value.strip()

    @model_validator(mode="after")
    def _no_marker_inside(self) -> AlignedPrompt:
        # A marker inside a text would end an example early, or end every answer at once.
        for index, example in enumerate(self.example):
            for name in ("question", "answer"):
                marker = _marker_in(getattr(example, name), self.layout)
                if marker:
                    raise _MarkerInside(f"example.{index}.{name}", marker)
        marker = _marker_in(self.header, self.layout)
        if marker:
            raise _MarkerInside("header", marker)
        return self


class _MarkerInside(ValueError):
    def __init__(self, field: str, marker: str) -> None:
        super().__init__(f"contains the marker '{marker}', which would cut the prompt there")
        self.field = field


def _marker_in(text: str, layout: Layout) -> str | None:
    return next((m for m in layout.markers() if m in text), None)


@dataclass(frozen=True)
class PromptFileRef:
    """Which prompt file an answer was made with: its path (or "built-in") and SHA-256."""

    path: str
    sha256: str

    def record(self) -> dict:
        return {"path": self.path, "sha256": self.sha256}

    @property
    def label(self) -> str:
        return f"{self.path} (sha256 {self.sha256[:12]})"


@dataclass(frozen=True)
class AlignedPromptFile:
    prompt: AlignedPrompt
    ref: PromptFileRef


def builtin_prompt_file() -> AlignedPromptFile:
    """The prompt that ships with Duet (models/aligned/aligned.toml)."""
    data = files("models.aligned").joinpath("aligned.toml").read_bytes()
    return parse_prompt_file(data, BUILTIN_NAME)


def load_prompt_file(path: str | Path) -> AlignedPromptFile:
    """A user's prompt file; DuetError (one line: file, line, field, reason) when it is broken."""
    path = Path(path)
    try:
        with path.open("rb") as handle:
            data = handle.read(MAX_FILE_BYTES + 1)
    except FileNotFoundError:
        raise DuetError(f"aligned prompt file {path} does not exist") from None
    except OSError as err:
        raise DuetError(f"cannot read the aligned prompt file {path} ({err.strerror})") from None
    if len(data) > MAX_FILE_BYTES:  # parse_toml says the same; this one says what to do about a prompt
        raise DuetError(f"aligned prompt file {path} is over {MAX_FILE_BYTES // 1024} KB; keep the prompt short")
    return parse_prompt_file(data, str(path))


def parse_prompt_file(data: bytes, name: str) -> AlignedPromptFile:
    """``data`` (a prompt file's bytes, called ``name`` in errors) validated."""
    where = f"aligned prompt file {name}"
    read = parse_toml(data, where, MAX_FILE_BYTES)
    source, table = read.source, read.data
    try:
        prompt = AlignedPrompt(**table)
    except ValidationError as err:
        field, message = _field_error(err)
        line = line_of(source, field)
        at = f", line {line}" if line else ""
        raise DuetError(f"{where}{at}, field '{field or 'example'}': {message}") from None
    return AlignedPromptFile(prompt, PromptFileRef(name, hashlib.sha256(data).hexdigest()))


def _field_error(err: ValidationError) -> tuple[str, str]:
    """The problem to report: one in what the file says (it has a line) before a missing field
    (a misspelt ``header`` is reported where it is written, not as a missing header)."""
    errors = err.errors()
    first = next((e for e in errors if e["type"] != "missing"), errors[0])
    inner = (first.get("ctx") or {}).get("error")
    if isinstance(inner, _MarkerInside):  # raised for one field of the whole file
        return inner.field, str(inner)
    return ".".join(str(part) for part in first["loc"]), str(first["msg"]).removeprefix("Value error, ")


def line_of(source: str, field: str) -> int | None:
    """The line where ``field`` (pydantic's dotted location: "header", "layout.answer_end",
    "example.1.answer") is written, or the line of its table; None when it is not written."""
    parts = field.split(".") if field else []
    lines = source.splitlines()
    start: int | None = 0
    key = parts[0] if parts else None
    if parts[:1] == ["layout"]:
        start = _table_line(lines, r"\[\s*layout\s*\]", 0)
        key = parts[1] if len(parts) > 1 else None
    elif parts[:1] == ["example"] and len(parts) > 1 and parts[1].isdigit():
        start = _table_line(lines, r"\[\[\s*example\s*\]\]", int(parts[1]))
        key = parts[2] if len(parts) > 2 else None
    if start is None:
        return None
    if key is None:
        return start or None
    pattern = re.compile(rf"^\s*[\"']?{re.escape(key)}[\"']?\s*=")
    for number in range(start + 1, len(lines) + 1):
        text = lines[number - 1]
        if _TABLE.match(text):
            break  # the next table (top-level keys come before the first one)
        if pattern.match(text):
            return number
    return start or None


_TABLE = re.compile(r"^\s*\[\[?\s*[A-Za-z_][\w.-]*\s*\]\]?\s*(#.*)?$")


def _table_line(lines: list[str], header: str, index: int) -> int | None:
    """The 1-based line of the ``index``-th table header matching ``header``."""
    pattern = re.compile(rf"^\s*{header}")
    seen = -1
    for number, text in enumerate(lines, 1):
        if pattern.match(text):
            seen += 1
            if seen == index:
                return number
    return None
