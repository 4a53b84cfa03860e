"""Training data in the formats the ecosystem already uses, read into chat messages.

One example per line of a JSONL file (or per record of a JSON array), in any of:
- chat: {"messages": [{"role": "system"|"user"|"assistant", "content": "..."}, ...]} (TRL, mlx-lm, OpenAI)
- alpaca: {"instruction": "...", "input": "...", "output": "..."} (input optional)
- prompt/completion: {"prompt": "...", "completion": "..."}

Every problem is one line naming the file and the line (or record) and the fix; the file's size
is bounded before it is read, and its bytes must be UTF-8.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

from models.errors import DuetError

MAX_DATA_BYTES = 64 * 1024 * 1024  # far more than a CPU fine-tune gets through; bounds memory
MAX_EXAMPLES = 100_000
ROLES = ("system", "user", "assistant")
FORMATS = ("chat", "alpaca", "prompt/completion")


@dataclass(frozen=True)
class Example:
    """One training example as chat messages, and where it came from (for error messages)."""

    messages: tuple[dict[str, str], ...]
    where: str  # "data.jsonl line 7"
    format: str  # one of FORMATS


@dataclass(frozen=True)
class DataFile:
    path: Path
    sha256: str
    examples: tuple[Example, ...]


def read_data(path: Path, max_bytes: int = MAX_DATA_BYTES) -> DataFile:
    """The examples of a data file; DuetError (one line, with the line number) on anything wrong."""
    name = path.name
    try:
        size = path.stat().st_size
        if not path.is_file():
            raise DuetError(f"the data file {path} is not a file; give a .jsonl file")
        if size > max_bytes:
            raise DuetError(
                f"the data file {name} is {size / 2**20:.1f} MiB, over the {max_bytes / 2**20:.0f} MiB Duet trains on; "
                "use fewer examples, or export it (duet tune --export) for a GPU trainer"
            )
        raw = path.read_bytes()
    except FileNotFoundError:
        raise DuetError(f"the data file {path} does not exist; give a JSONL file of examples") from None
    except OSError as err:
        raise DuetError(f"cannot read the data file {path} ({err.strerror}); check its permissions") from None
    examples = parse_data(raw, name)
    return DataFile(path, hashlib.sha256(raw).hexdigest(), examples)


def parse_data(raw: bytes, name: str) -> tuple[Example, ...]:
    if raw.lstrip()[:1] == b"[":
        records = _json_array(raw, name)
    else:
        records = list(_jsonl_records(raw, name))
    if not records:
        raise DuetError(
            f"the data file {name} holds no examples; write one JSON object per line, "
            'e.g. {"messages": [{"role": "user", "content": "..."}, {"role": "assistant", "content": "..."}]}'
        )
    if len(records) > MAX_EXAMPLES:
        raise DuetError(f"the data file {name} has {len(records):,} examples, over the {MAX_EXAMPLES:,} Duet takes")
    return tuple(example_from_record(record, where) for record, where in records)


def _jsonl_records(raw: bytes, name: str):
    for number, line in enumerate(raw.split(b"\n"), start=1):
        where = f"{name} line {number}"
        try:
            text = line.decode("utf-8")
        except UnicodeDecodeError as err:
            raise DuetError(f"{where} is not valid UTF-8 (byte {err.start + 1}); save the file as UTF-8") from None
        text = text.strip().lstrip("\ufeff") if number == 1 else text.strip()
        if not text:
            continue
        try:
            record = json.loads(text)
        except json.JSONDecodeError as err:
            raise DuetError(
                f"{where} is not valid JSON ({err.msg} at column {err.colno}); write one JSON object per line"
            ) from None
        yield record, where


def _json_array(raw: bytes, name: str) -> list[tuple[object, str]]:
    try:
        text = raw.decode("utf-8").lstrip("\ufeff")
    except UnicodeDecodeError as err:
        line = raw[: err.start].count(b"\n") + 1
        raise DuetError(f"{name} line {line} is not valid UTF-8; save the file as UTF-8") from None
    try:
        records = json.loads(text)
    except json.JSONDecodeError as err:
        raise DuetError(f"{name} line {err.lineno} is not valid JSON ({err.msg} at column {err.colno})") from None
    if not isinstance(records, list):
        raise DuetError(f"{name} is not a JSON array of examples; write one JSON object per line (JSONL)")
    return [(record, f"{name} record {i}") for i, record in enumerate(records, start=1)]


def example_from_record(record: object, where: str) -> Example:
    """One record of any supported format as chat messages."""
    if not isinstance(record, dict):
        raise DuetError(f'{where} is not a JSON object; each example is an object such as {{"messages": [...]}}')
    if "messages" in record:
        return Example(_chat_messages(record["messages"], where), where, "chat")
    if "instruction" in record:
        instruction = _text(record, "instruction", where)
        extra = record.get("input") or ""
        if not isinstance(extra, str):
            raise DuetError(f"{where}: 'input' must be a string")
        prompt = f"{instruction}\n\n{extra}" if extra.strip() else instruction
        return Example(_pair(prompt, _text(record, "output", where), record, where), where, "alpaca")
    if "prompt" in record and "completion" in record:
        prompt, completion = _text(record, "prompt", where), _text(record, "completion", where)
        return Example(_pair(prompt, completion, record, where), where, "prompt/completion")
    keys = ", ".join(sorted(str(k) for k in record)[:6]) or "none"
    raise DuetError(
        f"{where} is in no format Duet reads (its keys: {keys}); use 'messages' (chat), "
        "'instruction'/'output' (alpaca) or 'prompt'/'completion'"
    )


def _pair(prompt: str, answer: str, record: dict, where: str) -> tuple[dict[str, str], ...]:
    system = record.get("system")
    messages = [{"role": "user", "content": prompt}, {"role": "assistant", "content": answer}]
    if isinstance(system, str) and system.strip():
        messages.insert(0, {"role": "system", "content": system})
    return tuple(messages)


def _text(record: dict, key: str, where: str) -> str:
    value = record.get(key)
    if not isinstance(value, str) or not value.strip():
        raise DuetError(f"{where}: '{key}' must be a non-empty string")
    return value


def _chat_messages(messages: object, where: str) -> tuple[dict[str, str], ...]:
    if not isinstance(messages, list) or not messages:
        raise DuetError(f'{where}: \'messages\' must be a non-empty list of {{"role", "content"}} objects')
    out = []
    for i, message in enumerate(messages, start=1):
        if not isinstance(message, dict):
            raise DuetError(f"{where}: message {i} is not an object with 'role' and 'content'")
        role, content = message.get("role"), message.get("content")
        if role not in ROLES:
            raise DuetError(f"{where}: message {i} has role {json.dumps(role)[:40]}; use system, user or assistant")
        if not isinstance(content, str):
            raise DuetError(f"{where}: message {i}'s content must be a string")
        out.append({"role": role, "content": content})
    if out[-1]["role"] != "assistant":
        raise DuetError(f"{where}: the last message must be the assistant's answer (the part that is learned)")
    if not any(m["role"] == "user" for m in out):
        raise DuetError(f"{where}: there is no user message before the answer")
    if any(not m["content"].strip() for m in out if m["role"] == "assistant"):
        raise DuetError(f"{where}: an assistant message is empty; every answer needs text")
    return tuple(out)
