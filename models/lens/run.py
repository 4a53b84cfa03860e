"""Scoring one pane's answer with another pane's model: the request, and the call the app and the
headless commands make.

The scoring runs on the scoring pane's worker (PaneSession.score), after the answer is done; the
answering pane's vocabulary is read on the answering pane's own worker first, so a llama.cpp model
is never touched from another thread. Esc: ``scorer.cancel()``.
"""

from __future__ import annotations

from collections.abc import Mapping
from concurrent.futures import Future
from typing import TYPE_CHECKING

from models.errors import DuetError
from models.lens.pairing import scorer_role
from models.lens.request import ScoreRequest
from models.prompts import Exchange

if TYPE_CHECKING:
    from models.session import PaneSession, Turn


def request_for(answering: PaneSession, turn: Turn, mode: str) -> ScoreRequest:
    """What scoring ``turn`` (one of ``answering``'s turns) in ``mode`` asks: its prompt, its text
    and token ids, and the exchanges of ``answering``'s conversation before it."""
    if turn.error is not None:
        raise DuetError(f"cannot score: this answer failed ({turn.error})")
    earlier = []
    for previous in answering.turns:
        if previous is turn:
            break
        if previous.error is None:
            earlier.append(Exchange(previous.prompt, previous.text))
    return ScoreRequest(
        prompt=turn.prompt,
        answer=turn.text,
        mode=mode,
        context=tuple(earlier),
        token_ids=turn.token_ids,
        answer_source=answering.spec.source,
    )


def score_answer(answering: PaneSession, scorer: PaneSession, turn: Turn | None = None) -> Future:
    """Score ``turn`` (default: ``answering``'s last turn) with ``scorer``'s model in ``scorer``'s
    current mode; the future gives a ShiftResult or raises DuetError."""
    turn = turn if turn is not None else answering.last_turn
    if turn is None:
        raise DuetError(f"cannot score: the {answering.role} pane has no answer yet")
    request = request_for(answering, turn, scorer.mode)
    # Asked first, on the answering pane's worker (the scorer's own, when a pane scores itself):
    # the scoring job waits for it, and nothing waits for the scoring job, so no circle.
    vocabulary = answering.vocabulary()
    return scorer.score(request, vocabulary)


def score_pane(sessions: Mapping[str, PaneSession], role: str, turn: Turn | None = None) -> Future:
    """Score the ``role`` pane's answer with the model models/lens/pairing.py assigns to it."""
    scoring = scorer_role(role, list(sessions))
    if scoring is None:
        raise DuetError(f"cannot score the {role} pane's answer: there is no pane to score it with")
    return score_answer(sessions[role], sessions[scoring], turn)
