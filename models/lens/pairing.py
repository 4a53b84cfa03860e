"""Who scores whom, and the one line a view shows when the two models are not a base and its own
fine-tune.

- The chat pane's answer is scored by the base pane's model, the base pane's answer by the chat
  pane's model, and any other pane's (a third pane's) answer by the base pane's model.
- Catalog pairs are a base and its own fine-tune. The embedded pair is a catalog pair of two
  different families (Gemma 3 and SmolLM2, different vocabularies): its lens measures how two
  models differ, not what fine-tuning did, and says so. For panes that are no catalog pair, the
  caveat is "different models" when their vocabularies differ, and nothing when they match.
- A Duet fine-tune and the model it was made from (its lineage record says which) are a base and
  its own fine-tune by construction: no caveat, and the lens says what they are ("a fine-tune of
  X by Duet, N examples", models/files/describe.py).
"""

from __future__ import annotations

from collections.abc import Sequence

from models.files.describe import catalog_model, fine_tune_relation

DIFFERENT_FAMILIES = (
    "different model families (not a base and its own fine-tune): "
    "this shows how two models differ, not what fine-tuning changed"
)
DIFFERENT_MODELS = (
    "different models (their vocabularies differ): this shows how two models differ, not what fine-tuning changed"
)
UNKNOWN_VOCABULARY = (
    "the answering model's vocabulary is unknown (a server): "
    "this may show how two models differ rather than what fine-tuning changed"
)


def scorer_role(answer_role: str, roles: Sequence[str]) -> str | None:
    """The role of the pane whose model scores ``answer_role``'s answer, among ``roles`` (None when
    that pane is not there)."""
    wanted = "chat" if answer_role == "base" else "base"
    return wanted if wanted in roles else None


def same_catalog_pair(a_source: str, b_source: str) -> bool:
    """Whether the two sources are the two sides of one catalog pair."""
    a, b = catalog_model(a_source), catalog_model(b_source)
    return a is not None and b is not None and a.pair is not None and a.pair == b.pair and a.role != b.role


def caveat(answer_source: str, scorer_source: str, same_vocabulary: bool | None) -> str | None:
    """The one line to show with a lens of ``answer_source``'s answer scored by ``scorer_source``,
    or None when the two are a base and its own fine-tune (or the same model)."""
    if answer_source.strip() == scorer_source.strip() or fine_tune_relation(answer_source, scorer_source):
        return None
    if same_catalog_pair(answer_source, scorer_source):
        return DIFFERENT_FAMILIES if same_vocabulary is False else None
    if same_vocabulary is None:
        return UNKNOWN_VOCABULARY
    return DIFFERENT_MODELS if not same_vocabulary else None


def relation(answer_source: str, scorer_source: str) -> str | None:
    """What the two models are to each other, when Duet made one from the other: "a fine-tune of X
    by Duet, N examples"; None otherwise (the caveat, if any, says the rest)."""
    return fine_tune_relation(answer_source, scorer_source)
