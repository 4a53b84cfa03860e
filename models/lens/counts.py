"""Why the lens shows a different number of tokens than the pane's status line, in one line.

The status line counts the tokens the model generated (models/engines/llama/engine.py, `_Answer`:
every sampled token but the end-of-generation one, which ends the loop before it is counted). The
lens shows fewer or more entries for three reasons, each measured on the embedded pairs:

- a stop string: the tokens that complete it (and any held back with it) are counted by the status
  line but cut from the answer, so they are not scored (SmolLM2 in aligned mode, "What is the
  capital of France?": 11 generated, 8 shown, the 3 of its stop string cut);
- byte-level tokens: a character made of several tokens (an emoji, a CJK character) is one entry;
- re-tokenized: the scoring model has another vocabulary (Gemma scoring SmolLM2), so the answer is
  cut into the scoring model's tokens (96-token Gemma answers are 103 to 112 SmolLM2 tokens), or a
  stop string cut through a token and the text was tokenized again (Gemma in aligned mode on the
  dog prompt: 6 generated, 4 shown).
"""

from __future__ import annotations

from models.lens.shift import ShiftResult


def count_note(result: ShiftResult, generated: int, kept_ids: tuple[int, ...] | None) -> str | None:
    """One line reconciling ``len(result.tokens)`` with the ``generated`` tokens of the status line;
    None when they agree. ``kept_ids``: the answer's own token ids (None when they were not kept)."""
    shown = len(result.tokens)
    if result.retokenized:
        if shown == generated:
            return None
        why = (
            "the answer was cut into the scoring model's own tokens (another vocabulary)"
            if result.same_vocabulary is not True
            else "a stop string cut through a token, so the answer's text was tokenized again "
            "(the stop string's tokens are not scored)"
        )
        return f"{shown} tokens here, {generated} in the status line: {why}"
    scored = len(kept_ids) if kept_ids is not None else shown
    reasons = []
    if generated > scored:
        cut = generated - scored
        reasons.append(f"{_tokens(cut)} that completed a stop string, cut from the answer and not scored")
    singles = sum(1 for t in result.tokens if t.token_id is not None)
    groups = shown - singles
    if groups and scored > shown:
        reasons.append(f"{scored - singles} byte-level tokens shown as {groups} character{'s' * (groups != 1)}")
    if not reasons or shown == generated:
        return None
    return f"{shown} tokens here, {generated} in the status line: " + "; ".join(reasons)


def _tokens(n: int) -> str:
    return f"{n} token" if n == 1 else f"{n} tokens"
