"""What a pane's worker runs when its model scores an answer for the token-shift lens.

`PaneSession.score` submits the job to the scoring pane's own worker, like an answer, so the
engine is only ever touched on the thread that owns it; this module is the job: wait for the
answering pane's vocabulary (Esc still heard), score with the engine, and add what the two
models' sources say about the comparison (models/lens/pairing.py: the caveat and the relation).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from contextlib import AbstractContextManager
from dataclasses import replace

from models.engines.base import Engine
from models.errors import DuetError
from models.lens.pairing import caveat, relation
from models.lens.request import ScoreCancelled, ScoreRequest
from models.lens.shift import ShiftResult
from models.lens.vocabulary import Vocabulary
from models.threads import Lease


def score_on_worker(
    engine: Engine | None,
    source: str,
    load_error: str | None,
    request: ScoreRequest,
    answer_vocabulary: Future | None,
    cancel: threading.Event,
    claim_cores: Callable[[], AbstractContextManager[Lease | None]],
) -> ShiftResult:
    """Score ``request`` with ``engine`` (the pane's loaded one, None when it is not loaded:
    ``load_error`` says why); ``source`` is the scoring pane's model, ``claim_cores`` its share of
    the cores while it computes. DuetError when it cannot score, ScoreCancelled after Esc."""
    if engine is None:
        reason = f" ({load_error})" if load_error else ""
        raise DuetError(f"cannot score: {source} is not loaded{reason}")
    if answer_vocabulary is not None:
        request = replace(request, vocabulary=wait_for_vocabulary(answer_vocabulary, cancel))
    with claim_cores() as lease:
        result = engine.score(request, cancel, lease)
    return replace(
        result,
        caveat=caveat(request.answer_source, source, result.same_vocabulary),
        relation=relation(request.answer_source, source),
    )


def wait_for_vocabulary(vocabulary: Future, cancel: threading.Event) -> Vocabulary | None:
    """The answering pane's vocabulary (None when it cannot tell or failed), Esc still heard."""
    while True:
        if cancel.is_set():
            raise ScoreCancelled()
        try:
            return vocabulary.result(timeout=0.05)
        except FutureTimeout:
            continue
        except Exception:
            return None
