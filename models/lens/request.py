"""What one scoring run is asked: score this answer after this message, in this mode."""

from __future__ import annotations

from dataclasses import dataclass

from models.errors import DuetError
from models.lens.vocabulary import Vocabulary
from models.prompts import Exchange


@dataclass(frozen=True)
class ScoreRequest:
    """An answer to score and the context it is scored after.

    The context is ``prompt`` (the user's message) rendered in ``mode``, the *scoring* pane's own
    current mode, after ``context``: the earlier exchanges of the conversation the answer was
    given in (chat mode sends them; raw and inst do not). Then come the answer's tokens:
    ``token_ids`` when the answering model's ``vocabulary`` is the scoring model's and the ids
    spell ``answer`` exactly, else ``answer`` tokenized again by the scoring model.
    """

    prompt: str
    answer: str
    mode: str
    context: tuple[Exchange, ...] = ()
    token_ids: tuple[int, ...] | None = None  # the answer's own ids, as its model generated them
    vocabulary: Vocabulary | None = None  # the vocabulary those ids belong to (None: unknown)
    answer_source: str = ""  # the answering pane's model source (for the caveat, models/lens/pairing.py)
    # True: the answer is read one token per decode, as it was generated, so rank 1 is what the
    # scoring model would have generated there and a model agrees with its own greedy answer.
    # llama.cpp's CPU kernels give logits that differ by up to about one logit between one-token
    # and multi-token decodes (measured on both embedded models), enough to move close ranks.
    # False: 16 positions per decode, 2.5x faster on a 256-token Gemma 3 answer (1.4 s, not
    # 3.5 s), with that numerical noise in the ranks (models/engines/llama/scoring.py).
    exact: bool = True


class ScoreCancelled(DuetError):
    """The user stopped a scoring run (Esc); nothing was scored and the pane is usable."""

    def __init__(self, message: str = "scoring stopped") -> None:
        super().__init__(message)
