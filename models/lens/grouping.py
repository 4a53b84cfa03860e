"""Tokens as characters: byte-level tokens that are parts of one UTF-8 character shown as one.

A tokenizer may split one character over several tokens (an emoji is often three or four byte
tokens). Scoring ranks every token; the view shows characters. The rule:

- The answer's token bytes go through one incremental UTF-8 decoder (errors replaced, as the
  engine decodes a streamed answer), so the groups' texts put together are exactly the answer.
- A token whose bytes end inside a character joins the token(s) after it, until the decoder holds
  no partial character; those tokens are one group.
- A group of several tokens has no single token id (None), the **worst** (highest) rank of its
  tokens (its class follows), the **product** of their p (the probability of the whole byte
  sequence given the context, by the chain rule), the first token's top alternatives (what the
  model would have put where the character starts), and is a near-tie when any member is.
"""

from __future__ import annotations

import codecs
import math
from collections.abc import Sequence

from models.lens.shift import TokenScore


def piece_text(piece: bytes) -> str:
    """A token's bytes as text; bytes that are no whole character show as ``<0xE2>`` (the
    notation of byte tokens in SentencePiece vocabularies)."""
    try:
        return piece.decode("utf-8")
    except UnicodeDecodeError as err:
        head = piece[: err.start].decode("utf-8")
        bad = "".join(f"<0x{b:02X}>" for b in piece[err.start : err.end])
        return head + bad + piece_text(piece[err.end :])


def group_characters(pieces: Sequence[bytes], scores: Sequence[TokenScore]) -> list[TokenScore]:
    """One TokenScore per group of tokens (see the module docstring); ``scores[i]`` is the score of
    the token whose bytes are ``pieces[i]`` (its ``text`` is ignored)."""
    if len(pieces) != len(scores):
        raise ValueError(f"{len(pieces)} pieces for {len(scores)} scores")
    decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
    grouped: list[TokenScore] = []
    members: list[TokenScore] = []
    text = ""
    for piece, score in zip(pieces, scores):
        members.append(score)
        text += decoder.decode(piece)
        if not decoder.getstate()[0]:  # no partial character held back: the group is whole
            grouped.append(_combine(text, members))
            members, text = [], ""
    if members:  # the answer ended inside a character: its bytes come out replaced
        grouped.append(_combine(text + decoder.decode(b"", final=True), members))
    return grouped


def _combine(text: str, members: list[TokenScore]) -> TokenScore:
    if len(members) == 1:
        only = members[0]
        return TokenScore(text, only.token_id, only.rank, only.p, only.top, only.near_tie)
    return TokenScore(
        text=text,
        token_id=None,
        rank=max(m.rank for m in members),
        p=math.prod(m.p for m in members),
        top=members[0].top,
        near_tie=any(m.near_tie for m in members),
    )
