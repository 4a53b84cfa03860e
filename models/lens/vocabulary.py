"""Whether two models share a vocabulary: then one's token ids mean the same to the other.

A vocabulary is identified by its size and a digest of every token's text, in id order: the
bytes of the GGUF file's token-texts array, hashed while the header is read (models/files/gguf.py),
or, for a file without one, the texts llama.cpp's vocabulary API gives
(models/engines/llama/vocabulary.py). Comparing two models is then comparing two small values, and
each engine computes its own once (cached per model file).
"""

from __future__ import annotations

import hashlib
import struct
from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True)
class Vocabulary:
    size: int
    digest: str  # sha256 over the token texts, each prefixed with its length


def vocabulary_of(texts: Iterable[bytes]) -> Vocabulary:
    """The Vocabulary whose tokens, in id order, have these texts."""
    digest = hashlib.sha256()
    size = 0
    for text in texts:
        digest.update(struct.pack("<I", len(text)))
        digest.update(text)
        size += 1
    return Vocabulary(size, digest.hexdigest())


def same_vocabulary(a: Vocabulary | None, b: Vocabulary | None) -> bool | None:
    """True or False when both are known; None when either is not (a server's, say)."""
    if a is None or b is None:
        return None
    return a == b
