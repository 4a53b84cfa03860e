"""What llama.cpp trusts in a GGUF header, checked before it reads the file.

llama.cpp reads the vocabulary with assertions (a token list that is not strings aborts the whole
process, both panes with it) and reads the scores and token types by the token list's length (a
shorter array is read past its end). A context length is a count of tokens. Each of these is
checked here, so that a hostile or broken file is one line at load.
"""

from __future__ import annotations

from typing import Any

from models.errors import DuetError
from models.files.gguf_header import GGUFHeader

_FLOAT32, _INT32, _STRING = 6, 5, 8
_TYPE_NAMES = {_FLOAT32: "numbers (float32)", _INT32: "integers (int32)", _STRING: "strings"}
MAX_CONTEXT_LENGTH = 2**31 - 1  # llama.cpp keeps context sizes in 32-bit integers


def check_header(header: GGUFHeader, noun: str = "model file", redo: str = "download it again") -> None:
    """DuetError (one line) when the header holds something llama.cpp cannot safely read; ``noun``
    and ``redo`` word it for what the file is meant to be (gguf.py's FileKind)."""
    problem = _vocabulary_problem(header) or _context_problem(header)
    if problem:
        raise DuetError(f"{noun} {header.path} is corrupt: {problem}; {redo} or use another file")


def _vocabulary_problem(header: GGUFHeader) -> str | None:
    tokens = header.array_types.get("tokenizer.ggml.tokens")
    if tokens is None:
        if "tokenizer.ggml.tokens" in header.metadata:
            return "its vocabulary (tokenizer.ggml.tokens) is not a list"
        return None  # a model without a vocabulary (tokenizer.ggml.model "none") is llama.cpp's call
    if tokens != _STRING:
        return "its vocabulary (tokenizer.ggml.tokens) is not a list of strings"
    count = _length(header.metadata["tokenizer.ggml.tokens"])
    if count == 0:
        return "its vocabulary (tokenizer.ggml.tokens) is empty"
    for key, wanted in (("tokenizer.ggml.scores", _FLOAT32), ("tokenizer.ggml.token_type", _INT32)):
        if key not in header.metadata:
            continue
        if header.array_types.get(key) != wanted:
            return f"{key} is not a list of {_TYPE_NAMES[wanted]}"
        if _length(header.metadata[key]) != count:
            return f"{key} has {_length(header.metadata[key]):,} entries for {count:,} tokens"
    if "tokenizer.ggml.merges" in header.metadata and header.array_types.get("tokenizer.ggml.merges") != _STRING:
        return "tokenizer.ggml.merges is not a list of strings"
    return None


def _context_problem(header: GGUFHeader) -> str | None:
    arch = header.get("general.architecture")
    if not isinstance(arch, str):
        return None if arch is None else "general.architecture is not text"
    key = f"{arch}.context_length"
    if key not in header.metadata:
        return None
    value = header.metadata[key]
    if not _is_int(value):
        return f"its context length ({key}) is {value!r}, not a whole number"
    if not 0 < value <= MAX_CONTEXT_LENGTH:
        return f"its context length ({key}) is {value:,} tokens, outside 1 to {MAX_CONTEXT_LENGTH:,}"
    return None


def _length(value: Any) -> int:
    return value.length if hasattr(value, "length") else len(value)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)
