"""What differed between the panes of a batch run (`duet run`), in a few plain sentences for the top
of its report: who ended its answers by itself and who ran to the token limit, how long the answers
were, how often two panes wrote the same thing, and with --shift how many of each pane's tokens
the other model would not have written. The report puts the family caveat (`duet run` sets
``result["caveat"]`` from the loaded models) above it, so that a reader does not take every
difference between two model families for fine-tuning's.

Every figure is counted from the run's records (the ones the report shows), nothing is judged.
"""

from __future__ import annotations

from statistics import mean

_ENDED = ("eos", "stop")  # the model (or a stop string) ended the answer, not the token limit


def what_differed(result: dict) -> list[str]:
    """Sentences for the report's "What differed" section (none for a run without answers)."""
    items = result.get("items") or []
    by_role: dict[str, list[dict]] = {}
    for item in items:
        for pane in item["panes"]:
            if not pane.get("error"):
                by_role.setdefault(pane["role"], []).append(pane)
    if not by_role:
        return []
    lines = [_endings(role, panes) for role, panes in by_role.items()]
    lines.append(_lengths(by_role))
    same = _identical(items)
    if same is not None:
        lines.append(same)
    lines += _shifted(by_role)
    return lines


def _endings(role: str, panes: list[dict]) -> str:
    ended = sum(1 for p in panes if p["metrics"].get("stop_reason") in _ENDED)
    limit = sum(1 for p in panes if p["metrics"].get("stop_reason") == "length")
    rest = len(panes) - ended - limit
    text = f"{role}: ended {ended} of {len(panes)} answers by itself, ran to the token limit in {limit}"
    return text + (f" ({rest} stopped otherwise)" if rest else "")


def _lengths(by_role: dict[str, list[dict]]) -> str:
    parts = [f"{role} {mean(len(p['text']) for p in panes):.0f}" for role, panes in by_role.items()]
    return "mean answer length in characters: " + ", ".join(parts)


def _identical(items: list[dict]) -> str | None:
    """How many prompts got the same text from every pane that answered (two panes at least)."""
    compared = [[p["text"] for p in item["panes"] if not p.get("error")] for item in items]
    compared = [texts for texts in compared if len(texts) >= 2]
    if not compared:
        return None
    same = sum(1 for texts in compared if len(set(texts)) == 1)
    return f"identical answers from every pane: {same} of {len(compared)} prompts"


def _shifted(by_role: dict[str, list[dict]]) -> list[str]:
    lines = []
    for role, panes in by_role.items():
        scored = [p["shift"] for p in panes if p.get("shift")]
        if not scored:
            continue
        tokens = sum(s["summary"]["count"] for s in scored)
        shifted = sum(s["summary"]["shifted"] * s["summary"]["count"] / 100 for s in scored)
        scorer = scored[0]["scored_by"]
        share = 100 * shifted / tokens if tokens else 0.0
        lines.append(f"{role}: {share:.0f}% of its {tokens} tokens shifted (below {scorer}'s top 3)")
    return lines
