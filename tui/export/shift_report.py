"""The token-shift lens in batch reports (`duet run --shift`): each answer's summary, and the
aggregate over the whole run in the shape of Lin et al.'s table (unshifted / marginal / shifted).

Pane records carry the lens as ``shift`` (the object `duet ask --shift --json` prints, see the
README) or ``shift: null`` with ``shift_error``; records without a ``shift`` key were not scored.
The aggregate counts tokens, not answers: a long answer weighs more, as in the paper's table.
"""

from __future__ import annotations

import html

from models.lens.shift import CLASSES, aggregation_key
from tui.text.safe_text import neutralize

MOST_SHIFTED_IN_TABLE = 5
LEGEND = "unshifted: the scoring model's first choice · marginal: its 2nd or 3rd · shifted: lower than 3rd"


def scored(panes: list[dict]) -> bool:
    """Whether these records were scored at all (the run had --shift)."""
    return any("shift" in pane for pane in panes)


def summary_text(shift: dict) -> str:
    """E.g. ``unshifted 78% · marginal 14% · shifted 8% of 212 tokens · scored by gemma (re-tokenized)``."""
    summary = shift["summary"]
    classes = " · ".join(f"{c} {summary[c]:.0f}%" for c in CLASSES)
    count = summary["count"]
    retokenized = " (re-tokenized)" if shift.get("retokenized") else ""
    return f"{classes} of {count} token{'' if count == 1 else 's'} · scored by {shift['scored_by']}{retokenized}"


def most_shifted_text(shift: dict, n: int = MOST_SHIFTED_IN_TABLE) -> str:
    return ", ".join(f"{s['text']!r} x{s['count']}" for s in shift.get("most_shifted", [])[:n])


def pane_lines(pane: dict) -> list[str]:
    """One pane's lens as plain lines (the caller escapes them): its summary, caveat and most
    shifted texts, or why it has none; nothing when the run was not scored."""
    if "shift" not in pane:
        return []
    shift = pane["shift"]
    if shift is None:
        return [f"Lens: {pane.get('shift_error') or 'not scored'}"]
    lines = [f"Lens: {summary_text(shift)}"]
    lines += [shift[key] for key in ("relation", "caveat") if shift.get(key)]
    most = most_shifted_text(shift)
    if most:
        lines.append(f"Most shifted: {most}")
    return lines


def aggregate(items: list[dict]) -> list[dict]:
    """Per pane role over every scored answer of the run: answers scored and not, tokens, the
    percentage per class (of all tokens), and the texts shifted most often."""
    rows: dict[str, dict] = {}
    for item in items:
        for pane in item["panes"]:
            if "shift" not in pane:
                continue
            row = rows.setdefault(
                pane["role"],
                {
                    "role": pane["role"],
                    "scored_by": [],
                    "answers": 0,
                    "unscored": 0,
                    "tokens": 0,
                    "counts": {},
                    "ranks": {},
                },
            )
            shift = pane["shift"]
            if shift is None:
                row["unscored"] += 1
                continue
            row["answers"] += 1
            if shift["scored_by"] not in row["scored_by"]:
                row["scored_by"].append(shift["scored_by"])
            for token in shift["tokens"]:
                row["tokens"] += 1
                row["counts"][token["class"]] = row["counts"].get(token["class"], 0) + 1
                if token["class"] == "shifted":
                    row["ranks"].setdefault(aggregation_key(token["text"]), []).append(token["rank"])
    return [_finish(row) for row in rows.values()]


def _finish(row: dict) -> dict:
    tokens = row["tokens"]
    percent = {c: (100.0 * row["counts"].get(c, 0) / tokens if tokens else 0.0) for c in CLASSES}
    most = sorted(row["ranks"].items(), key=lambda kv: (-len(kv[1]), -sum(kv[1]) / len(kv[1]), kv[0]))
    return {
        "role": row["role"],
        "scored_by": ", ".join(row["scored_by"]) or "–",
        "answers": row["answers"],
        "unscored": row["unscored"],
        "tokens": tokens,
        **{c: round(p, 1) for c, p in percent.items()},
        "most_shifted": [
            {"text": text, "count": len(ranks), "mean_rank": round(sum(ranks) / len(ranks), 1)}
            for text, ranks in most[:MOST_SHIFTED_IN_TABLE]
        ],
    }


AGGREGATE_HEAD = ["pane", "scored by", "answers", "tokens", "unshifted %", "marginal %", "shifted %", "most shifted"]


def aggregate_cells(row: dict) -> list[str]:
    answers = str(row["answers"]) + (f" ({row['unscored']} not scored)" if row["unscored"] else "")
    most = ", ".join(f"{s['text']!r} x{s['count']}" for s in row["most_shifted"])
    return [
        row["role"],
        row["scored_by"],
        answers,
        str(row["tokens"]),
        f"{row['unshifted']:.1f}",
        f"{row['marginal']:.1f}",
        f"{row['shifted']:.1f}",
        most or "–",
    ]


# -- HTML: the answer with every token styled by its class ------------------------------------
CSS = """
.tok-marginal { background: rgba(230, 180, 0, .22); }
.tok-shifted { background: rgba(220, 40, 40, .28); text-decoration: underline; font-weight: 600; }
.legend .tok-marginal, .legend .tok-shifted { padding: 0 .25rem; }
"""


def answer_html(pane: dict) -> str | None:
    """The answer as ``<pre>`` with each marginal and shifted token in a span (its rank, p and
    the scoring model's first alternatives in the tooltip); None when the pane was not scored.
    The token texts cover the answer exactly (models/lens/), so this is the whole answer."""
    shift = pane.get("shift")
    if not shift or not shift.get("tokens"):
        return None
    parts = []
    for token in shift["tokens"]:
        text = _h(token["text"])
        if token["class"] == "unshifted":
            parts.append(text)
            continue
        alternatives = ", ".join(f"{t['text']!r} {t['p']:.2f}" for t in token.get("top", []))
        tip = f"{token['class']}: rank {token['rank']}, p {token['p']:.3f}; first choices: {alternatives}"
        parts.append(f'<span class="tok-{token["class"]}" title="{_h(tip)}">{text}</span>')
    return "<pre>" + "".join(parts) + "</pre>"


def legend_html() -> str:
    return (
        '<p class="meta legend">Token-shift lens: <span class="tok-marginal">marginal</span> '
        '<span class="tok-shifted">shifted</span> (hover a token for its rank and the alternatives). '
        f"{_h(LEGEND)}</p>"
    )


def _h(text) -> str:
    return html.escape(neutralize(str(text)), quote=True)
