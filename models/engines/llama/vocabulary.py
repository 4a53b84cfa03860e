"""A loaded model's vocabulary and token bytes, read through llama.cpp's vocabulary API.

A model's Vocabulary comes from its GGUF header when the header has the token texts (one hash of
the array's bytes, while the header is read: models/files/gguf.py), and only otherwise from
llama.cpp's vocabulary API, which costs 0.15-0.3 s of Python on Gemma 3's 262,144 tokens (0.03 s
on SmolLM2's 49,152), paid on the lens's path (`duet ask --shift`, the first F8). Either way a
model file's Vocabulary is kept by the file's path, size and modification time.
"""

from __future__ import annotations

import ctypes
import os
import threading
from typing import TYPE_CHECKING

from models.engines.llama import runtime
from models.lens.vocabulary import Vocabulary, vocabulary_of

if TYPE_CHECKING:
    from llama_cpp import Llama

_cache: dict[tuple[str, int, int], Vocabulary] = {}
_cache_lock = threading.Lock()


def model_vocabulary(llama: Llama, path: str, from_header: tuple[int, str] | None = None) -> Vocabulary:
    """The Vocabulary of ``llama`` (loaded from ``path``), cached per model file. ``from_header``:
    (token count, digest) from the file's header, used when llama.cpp loaded as many tokens."""
    try:
        stat = os.stat(path)
        key: tuple[str, int, int] | None = (os.path.realpath(path), stat.st_size, stat.st_mtime_ns)
    except OSError:
        key = None
    if key is not None:
        with _cache_lock:
            if key in _cache:
                return _cache[key]
    lib = runtime.llama_cpp()
    vocab = llama._model.vocab
    n_tokens = lib.llama_vocab_n_tokens(vocab)
    if from_header is not None and from_header[0] == n_tokens:
        found = Vocabulary(n_tokens, "gguf:" + from_header[1])
    else:
        found = vocabulary_of(lib.llama_vocab_get_text(vocab, i) or b"" for i in range(n_tokens))
    if key is not None:
        with _cache_lock:
            _cache[key] = found
    return found


def token_piece(llama: Llama, token: int) -> bytes:
    """One token's bytes, whatever their length (the streamed answer's way to decode a token)."""
    return token_pieces(llama, (token,))[0]


def token_pieces(llama: Llama, tokens: list[int] | tuple[int, ...]) -> list[bytes]:
    """Each token's bytes as it is written out in text (special tokens as nothing, as an answer
    shows them). Unlike ``Llama.detokenize`` this takes pieces of any length (its 32-byte buffer
    garbles longer ones; SmolLM2 has pieces of 162 bytes)."""
    lib = runtime.llama_cpp()
    vocab = llama._model.vocab
    size = 64
    buffer = ctypes.create_string_buffer(size)
    pieces = []
    for token in tokens:
        n = lib.llama_token_to_piece(vocab, token, buffer, size, 0, False)
        if n < 0:  # too small: -n is the size it needs
            size = -n
            buffer = ctypes.create_string_buffer(size)
            n = lib.llama_token_to_piece(vocab, token, buffer, size, 0, False)
        pieces.append(buffer.raw[:n])
    return pieces
