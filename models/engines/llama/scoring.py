"""Scoring a given answer after a context with llama.cpp's C API (the token-shift lens).

The context (the user's message rendered in the scoring pane's mode) is evaluated the way an
answer's prompt is: the warmed prefix apart when the engine warms one, each part in
llama-cpp-python's own ``n_batch`` split, with logits at the last position only. Then come the
answer's tokens but the last, each with its logits: one per ``llama_decode`` when the request is
exact (as generation reads them), else ``ROWS_PER_DECODE`` per decode. Row i scores answer token
i; each row is ranked (models/lens/ranking.py) straight from llama.cpp's logits buffer, before
the next decode overwrites it. When the scoring model's own last answer followed exactly this
context, the context is not read again: its cache cells and first row are the ones that answer was
read from (models/engines/llama/prompt_row.py).

Why exact by default: llama.cpp's CPU kernels are not the same for one-token and multi-token
decodes; on both embedded models the logits of one position differ by up to about one logit
between the two (median of the per-row maximum 0.75 on Gemma 3), so a model batch-scoring its own
greedy answer finds 1-6% of it "marginal". Read one token per decode, rank 1 means what the
scoring model would itself have generated there, and a model agrees with its own greedy answer.

Measured on 2 cores, a 256-token Gemma 3 answer (generating it: 3.3-4.0 s): exact 3.5 s and
+8 MB peak resident memory; 16 rows per decode 1.4 s and +40 MB (32 rows: 1.3 s, +72 MB); a bare
llama-cpp-python ``logits_all`` evaluation of the same tokens 2.6 s and +795 MB.

Why at most 16 rows per decode and never ``logits_all``: llama.cpp grows its logits buffer (and
its compute buffer) to the largest request and keeps them. On Gemma's 262,144-token vocabulary one
row is 1 MB; one 200-row decode cost +412 MB of resident memory.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

from models.engines.llama import kv_state, runtime
from models.engines.llama.vocabulary import token_pieces
from models.errors import DuetError
from models.lens.grouping import piece_text
from models.lens.ranking import rank_row
from models.lens.request import ScoreCancelled, ScoreRequest
from models.lens.shift import TokenScore
from models.lens.vocabulary import Vocabulary, same_vocabulary

if TYPE_CHECKING:
    from llama_cpp import Llama

ROWS_PER_DECODE = 16


@dataclass(frozen=True)
class AnswerTokens:
    """The answer as the scoring model will read it."""

    ids: tuple[int, ...]
    pieces: tuple[bytes, ...]  # each token's bytes; together exactly the answer's
    retokenized: bool
    same_vocabulary: bool | None
    note: str | None = None


def answer_tokens(llama: Llama, request: ScoreRequest, own: Vocabulary) -> AnswerTokens:
    """The answer's own ids when they are this vocabulary's and spell the answer, else the answer
    text tokenized by this model (no BOS, no special tokens parsed out of the text)."""
    same = same_vocabulary(request.vocabulary, own)
    note = None
    if request.token_ids is not None and same:
        ids = tuple(request.token_ids)
        pieces = token_pieces(llama, ids)
        if b"".join(pieces).decode("utf-8", errors="replace") == request.answer:
            return AnswerTokens(ids, tuple(pieces), False, same)
        note = "re-tokenized: the answer's own token ids do not spell its text"
    elif same:
        note = "re-tokenized: this answer's token ids were not kept"
    wanted = request.answer.encode("utf-8")
    ids = tuple(llama.tokenize(wanted, add_bos=False, special=False))
    pieces = token_pieces(llama, ids)
    if pieces and b"".join(pieces) == b" " + wanted:  # a tokenizer that adds a space prefix
        pieces[0] = pieces[0][1:]
    if b"".join(pieces) != wanted:
        raise DuetError("cannot score: the scoring model's tokenizer does not give the answer text back exactly")
    return AnswerTokens(ids, tuple(pieces), True, same, note)


def score_tokens(
    llama: Llama,
    context: Sequence[int],
    split: int,
    answer: AnswerTokens,
    exact: bool,
    cancel: threading.Event,
    between: Callable[[], None],
    first_row: npt.NDArray[np.float32] | None = None,
) -> list[TokenScore]:
    """Evaluate ``context`` (in two parts when ``split`` > 0, as an answer after a warmed prefix
    reads it) then the answer, and score every answer token (texts left empty: the caller groups
    them into characters). ``exact``: one answer token per decode (see ScoreRequest.exact), else
    ROWS_PER_DECODE. ``between`` runs before every decode (the share of the cores may have
    changed); a set ``cancel`` raises ScoreCancelled there. ``first_row``: the logits the scoring
    model's own answer after exactly ``context`` began from, its cache still holding the context
    (models/engines/llama/prompt_row.py): those cells are kept and only the answer is evaluated."""
    if not context:
        raise DuetError("cannot score: the message renders to no tokens in this mode; type a message first")
    needed = len(context) + len(answer.ids) - 1
    if needed > llama.n_ctx():
        raise DuetError(
            f"cannot score: the message and answer are {needed} tokens but the context holds {llama.n_ctx()}; "
            "load the scoring model with a larger n_ctx"
        )
    parts = [list(context[:split]), list(context[split:])] if 0 < split < len(context) else [list(context)]
    plan = _Plan(parts, list(answer.ids), 1 if exact else ROWS_PER_DECODE, cancel, between)
    texts: dict[int, str] = {}
    scores = []
    saved = kv_state.save(llama)
    if first_row is not None and saved is not None and kv_state.keep_first(llama, len(context)):
        plan = replace(plan, context_parts=[], first_row=first_row, first_pos=len(context))
    else:
        kv_state.forget(llama)
    try:
        for row, chosen in _rows(llama, plan):
            ranked = rank_row(row, chosen)
            top = tuple(zip(_texts(llama, ranked.top_ids, texts), ranked.top_p))
            scores.append(TokenScore("", chosen, ranked.rank, ranked.p, top, ranked.near_tie))
    finally:
        kv_state.restore(llama, saved)
    return scores


@dataclass(frozen=True)
class _Plan:
    """How one evaluation goes: the context's parts, the answer, and answer positions per decode."""

    context_parts: list[list[int]]
    answer: list[int]
    rows_per_decode: int
    cancel: threading.Event
    between: Callable[[], None]
    first_row: npt.NDArray[np.float32] | None = None  # with no context parts: the context's last row
    first_pos: int = 0  # where the answer starts then


def _texts(llama: Llama, ids: tuple[int, ...], known: dict[int, str]) -> list[str]:
    missing = [t for t in ids if t not in known]
    for token, piece in zip(missing, token_pieces(llama, missing)):
        known[token] = piece_text(piece)
    return [known[t] for t in ids]


def _rows(llama: Llama, plan: _Plan) -> Iterator[tuple[npt.NDArray[np.float32], int]]:
    """(logits row, the answer token it scores), one per answer token; a row is valid until the
    next row is asked for."""
    lib = runtime.llama_cpp()
    n_batch, n_vocab = llama.n_batch, llama.n_vocab()
    batch = lib.llama_batch_init(max(n_batch, plan.rows_per_decode), 0, 1)
    try:
        pos = plan.first_pos
        for part_index, part in enumerate(plan.context_parts):
            last_part = part_index == len(plan.context_parts) - 1
            for start in range(0, len(part), n_batch):  # as Llama.eval splits a prompt
                chunk = part[start : start + n_batch]
                last = last_part and start + len(chunk) == len(part)
                _decode(llama, batch, chunk, pos, len(chunk) - 1 if last else len(chunk), plan)
                pos += len(chunk)
        if plan.first_row is not None:
            if plan.cancel.is_set():
                raise ScoreCancelled()
            yield plan.first_row, plan.answer[0]
        else:
            yield _row(llama, len(chunk) - 1, n_vocab), plan.answer[0]
        body = plan.answer[:-1]  # the last token's own logits would score a token after the answer
        for start in range(0, len(body), plan.rows_per_decode):
            chunk = body[start : start + plan.rows_per_decode]
            _decode(llama, batch, chunk, pos, 0, plan)
            pos += len(chunk)
            for i in range(len(chunk)):
                yield _row(llama, i, n_vocab), plan.answer[start + i + 1]
    finally:
        lib.llama_batch_free(batch)


def _decode(llama: Llama, batch, tokens: Sequence[int], pos: int, logits_from: int, plan: _Plan) -> None:
    """One llama_decode of ``tokens`` at positions ``pos``..., with logits from index ``logits_from``."""
    if plan.cancel.is_set():
        raise ScoreCancelled()
    plan.between()
    for i, token in enumerate(tokens):
        batch.token[i] = token
        batch.pos[i] = pos + i
        batch.n_seq_id[i] = 1
        batch.seq_id[i][0] = 0
        batch.logits[i] = i >= logits_from
    batch.n_tokens = len(tokens)
    result = runtime.llama_cpp().llama_decode(llama.ctx, batch)
    if result != 0:
        raise DuetError(f"cannot score: llama.cpp could not evaluate the answer (llama_decode returned {result})")


def _row(llama: Llama, index: int, n_vocab: int) -> npt.NDArray[np.float32]:
    """A view (no copy) of the logits of the last decode's batch position ``index``."""
    pointer = runtime.llama_cpp().llama_get_logits_ith(llama.ctx, index)
    if not pointer:
        raise DuetError("cannot score: llama.cpp returned no logits for the answer")
    return np.ctypeslib.as_array(pointer, shape=(n_vocab,))
