"""Markdown, HTML and JSON renderings of stored conversations and batch-run results.

Model text (and anything a user typed: prompts, preset and model names) is untrusted. Markdown puts
it in fenced blocks whose fence is longer than any backtick run inside, or escapes it inline; HTML
escapes everything; both replace control characters with visible stand-ins so that a report shown
with `cat` cannot drive the terminal. JSON is the full record, ASCII-escaped.
"""

from __future__ import annotations

import html
import json
import re
from collections import Counter
from statistics import mean

from models.adapters import records_label
from models.amplify.records import record_label
from models.events import metrics_line
from tui.export import shift_report
from tui.export.run_summary import what_differed
from tui.text.safe_text import neutralize

# Inline text is never at the start of a line here, so list and heading markers need no escaping.
_MD_SPECIAL = re.compile(r"([\\`*_\[\]|~])")


# -- shared pieces -----------------------------------------------------------------------------
def metrics_text(metrics: dict) -> str:
    """A record's metrics (a dict: records are plain JSON) as the same line the panes show."""
    return metrics_line(
        metrics.get("ttft_s", 0.0),
        metrics.get("tokens", 0),
        metrics.get("tokens_per_s", 0.0),
        metrics.get("stop_reason", "?"),
    )


def summarize(panes_lists: list[list[dict]]) -> list[dict]:
    """Per pane role over many turns: runs, failures, mean TTFT / tokens/s / answer length, stop reasons."""
    by_role: dict[str, list[dict]] = {}
    for panes in panes_lists:
        for pane in panes:
            by_role.setdefault(pane["role"], []).append(pane)
    rows = []
    for role, panes in by_role.items():
        ok = [p for p in panes if not p.get("error")]
        speeds = [p["metrics"]["tokens_per_s"] for p in ok if p["metrics"]["tokens"] > 1]
        models = sorted({p["model"] for p in panes})
        rows.append(
            {
                "role": role,
                "model": ", ".join(models),
                "runs": len(panes),
                "failed": len(panes) - len(ok),
                "mean_ttft_s": round(mean(p["metrics"]["ttft_s"] for p in ok), 4) if ok else None,
                "mean_tokens_per_s": round(mean(speeds), 2) if speeds else None,
                "mean_tokens": round(mean(p["metrics"]["tokens"] for p in ok), 1) if ok else None,
                "mean_chars": round(mean(len(p["text"]) for p in ok), 1) if ok else None,
                "stop_reasons": dict(Counter(p["metrics"]["stop_reason"] for p in panes).most_common()),
            }
        )
    return rows


def _fmt(value, spec: str, scale: float = 1.0) -> str:
    return "–" if value is None else format(value * scale, spec)


def _summary_cells(row: dict) -> list[str]:
    stops = ", ".join(f"{k} {v}" for k, v in row["stop_reasons"].items())
    return [
        row["role"],
        row["model"],
        str(row["runs"]),
        str(row["failed"]),
        _fmt(row["mean_ttft_s"], ".0f", 1000),
        _fmt(row["mean_tokens_per_s"], ".1f"),
        _fmt(row["mean_tokens"], ".1f"),
        _fmt(row["mean_chars"], ".0f"),
        stops,
    ]


_SUMMARY_HEAD = [
    "pane",
    "model",
    "runs",
    "failed",
    "mean TTFT (ms)",
    "mean tok/s",
    "mean tokens",
    "mean chars",
    "stop reasons",
]


# -- Markdown ----------------------------------------------------------------------------------
def md_inline(text: str) -> str:
    """Untrusted text as literal inline Markdown: one line, special characters escaped."""
    one_line = " ".join(neutralize(text).split())
    # Raw HTML passes through Markdown, so &, < and > become entities; the rest is backslash-escaped.
    return _MD_SPECIAL.sub(r"\\\1", html.escape(one_line, quote=False))


def md_fenced(text: str) -> str:
    """Untrusted text as a fenced code block that nothing inside can close."""
    text = neutralize(text)
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    fence = "`" * max(3, longest + 1)
    body = text if text.endswith("\n") or not text else text + "\n"
    return f"{fence}text\n{body}{fence}"


def _model(pane: dict) -> str:
    """The pane's model, with its LoRA adapters and their scales when it ran any, and an amplified
    pane's factor and base model (models/amplify/records.py)."""
    extras = [records_label(pane.get("adapters")), record_label(pane.get("amplify"))]
    return " ".join([pane["model"], *(e for e in extras if e)])


def _mode(pane: dict) -> str:
    """The pane's prompt mode; in aligned mode with the prompt file it used and its hash's start."""
    prompt_file = pane.get("prompt_file")
    if isinstance(prompt_file, dict) and isinstance(prompt_file.get("sha256"), str):
        return f"{pane['mode']} mode (prompt {prompt_file.get('path')}, sha256 {prompt_file['sha256'][:12]})"
    return f"{pane['mode']} mode"


def _md_pane(pane: dict) -> list[str]:
    head = f"**{md_inline(pane['role'])}** · {md_inline(_model(pane))} · {md_inline(_mode(pane))}"
    out = [f"#### {head}", "", f"*{md_inline(metrics_text(pane['metrics']))}*", ""]
    if pane.get("error"):
        out += [f"**Failed:** {md_inline(pane['error'])}", ""]
    if pane.get("text") or not pane.get("error"):
        out += [md_fenced(pane.get("text") or "") if pane.get("text") else "*(empty answer)*", ""]
    if pane["metrics"].get("stop_reason") == "cancelled":
        out += ["*(stopped before the end)*", ""]
    for notice in pane.get("notices") or []:
        out += [f"> {md_inline(notice)}", ""]
    for line in shift_report.pane_lines(pane):
        out += [f"> {md_inline(line)}", ""]
    return out


def _md_turn(heading: str, prompt: str, panes: list[dict], status_line: str | None = None) -> list[str]:
    out = [f"## {heading}", ""]
    if status_line:
        out += [status_line, ""]
    out += ["**Prompt**", "", md_fenced(prompt), ""]
    for pane in panes:
        out += _md_pane(pane)
    return out


def _md_table(head: list[str], rows: list[list[str]]) -> list[str]:
    def cell(value: str) -> str:
        return md_inline(value)

    out = ["| " + " | ".join(cell(h) for h in head) + " |", "|" + "|".join("---" for _ in head) + "|"]
    out += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]
    return out


def conversation_markdown(conversation: dict) -> str:
    models = ", ".join(f"{md_inline(r)}: {md_inline(m)}" for r, m in conversation["models"].items())
    out = [
        f"# Duet conversation {conversation['id']}: {md_inline(conversation['title'] or '(untitled)')}",
        "",
        f"- Started: {conversation['started']}",
        f"- Kind: {md_inline(conversation['kind'])}",
        f"- Models: {models}",
        f"- Turns: {conversation['turn_count']}",
        "",
    ]
    for turn in conversation["turns"]:
        label = f" ({md_inline(turn['label'])})" if turn.get("label") else ""
        out += _md_turn(f"Turn {turn['seq']}{label}", turn["prompt"], turn["panes"])
    if conversation["turns"]:
        out += ["## Summary", ""]
        out += _md_table(
            _SUMMARY_HEAD, [_summary_cells(r) for r in summarize([t["panes"] for t in conversation["turns"]])]
        )
        out.append("")
    return "\n".join(out)


def conversation_json(conversation: dict) -> str:
    return json.dumps(conversation, ensure_ascii=True, indent=2) + "\n"


# -- batch runs --------------------------------------------------------------------------------
# A run result is a dict: title, created, source, repeat, notes [str], panes [pane meta],
# sampling {...}, interrupted, items [{index, name, prompt, repeat, seed, status, panes [records]}].
def _results_text(result: dict) -> str:
    counts = Counter(item["status"] for item in result["items"])
    text = f"{len(result['items'])} runs, {counts['failed']} failed"
    return text + (f", {counts['stopped']} stopped" if counts["stopped"] else "")


def _item_heading(item: dict, result: dict) -> str:
    heading = f"{item['index']}. {md_inline(item['name'])}"
    if result["repeat"] > 1:
        heading += f" (run {item['repeat']} of {result['repeat']}, seed {item['seed']})"
    return heading


def _caveats(result: dict) -> list[str]:
    """What the reader must know before comparing: the two panes' model families (set by duet run
    from the loaded models) and, with --shift, what the lens can and cannot say across them."""
    found = [result["caveat"]] if result.get("caveat") else []
    for item in result["items"]:
        for pane in item["panes"]:
            lens = (pane.get("shift") or {}).get("caveat")
            if lens and f"Lens: {lens}" not in found:
                found.append(f"Lens: {lens}")
    return found


def run_markdown(result: dict) -> str:
    out = [
        f"# {md_inline(result['title'])}",
        "",
        f"- Created: {result['created']}",
        f"- Prompts: {md_inline(result['source'])}",
    ]
    for pane in result["panes"]:
        out.append(
            f"- {md_inline(pane['role'])} pane: {md_inline(_model(pane))} ({md_inline(pane['mode'])} mode by default)"
        )
    sampling = result["sampling"]
    out.append(
        f"- Sampling: temperature {sampling['temperature']}, max tokens {sampling['max_tokens']}, "
        f"seed {sampling['seed']}, repeat {result['repeat']}"
    )
    out.append(f"- Results: {_results_text(result)}")
    out.append("")
    for label, notes in (("Note", result.get("notes") or []), ("Caveat", _caveats(result))):
        out += [line for note in notes for line in (f"> **{label}:** {md_inline(note)}", "")]
    differed = what_differed(result)
    if differed:
        out += ["## What differed", "", *(f"- {md_inline(line)}" for line in differed), ""]
    if result["items"]:
        out += ["## Summary", ""]
        out += _md_table(_SUMMARY_HEAD, [_summary_cells(r) for r in summarize([i["panes"] for i in result["items"]])])
        out.append("")
    shift_rows = shift_report.aggregate(result["items"])
    if shift_rows:
        out += ["## Token shift", "", md_inline(shift_report.LEGEND), ""]
        out += _md_table(shift_report.AGGREGATE_HEAD, [shift_report.aggregate_cells(r) for r in shift_rows])
        out.append("")
    for item in result["items"]:
        status = f"**Status: {md_inline(item['status'])}**" if item["status"] != "ok" else None
        out += _md_turn(_item_heading(item, result), item["prompt"], item["panes"], status)
    return "\n".join(out)


_CSS = """
:root { color-scheme: light dark; --fg: #1d1f21; --bg: #fdfdfd; --muted: #666; --line: #d0d0d0; --card: #f3f4f6; --bad: #b00020; }
@media (prefers-color-scheme: dark) { :root { --fg: #e6e6e6; --bg: #16181b; --muted: #9aa0a6; --line: #3a3d42; --card: #202328; --bad: #ff6b7d; } }
body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; color: var(--fg); background: var(--bg); margin: 2rem auto; max-width: 1200px; padding: 0 1rem; line-height: 1.45; }
h1 { font-size: 1.6rem; } h2 { font-size: 1.2rem; margin-top: 2.2rem; border-bottom: 1px solid var(--line); padding-bottom: .3rem; }
table { border-collapse: collapse; width: 100%; font-size: .9rem; }
th, td { border: 1px solid var(--line); padding: .35rem .5rem; text-align: left; vertical-align: top; }
th { background: var(--card); }
.meta, .metrics { color: var(--muted); font-size: .9rem; }
.panes { display: grid; grid-template-columns: repeat(auto-fit, minmax(320px, 1fr)); gap: 1rem; }
.pane { border: 1px solid var(--line); border-radius: 6px; padding: .6rem .8rem; background: var(--card); min-width: 0; }
.pane h3 { font-size: 1rem; margin: 0 0 .3rem 0; }
pre { white-space: pre-wrap; overflow-wrap: anywhere; font-family: ui-monospace, Menlo, Consolas, monospace; font-size: .88rem; margin: .4rem 0; }
.prompt pre { border-left: 3px solid var(--line); padding-left: .6rem; }
.failed { color: var(--bad); font-weight: 600; }
.note { border-left: 3px solid var(--bad); padding: .3rem .6rem; }
"""


def h(text) -> str:
    """Untrusted text, escaped for HTML (control characters made visible)."""
    return html.escape(neutralize(str(text)), quote=True)


def _html_pane(pane: dict) -> str:
    parts = [
        '<div class="pane">',
        f"<h3>{h(pane['role'])} · {h(_model(pane))} · {h(_mode(pane))}</h3>",
        f'<div class="metrics">{h(metrics_text(pane["metrics"]))}</div>',
    ]
    if pane.get("error"):
        parts.append(f'<p class="failed">Failed: {h(pane["error"])}</p>')
    lens = shift_report.answer_html(pane)
    if lens is not None:
        parts.append(lens)
    elif pane.get("text"):
        parts.append(f"<pre>{h(pane['text'])}</pre>")
    elif not pane.get("error"):
        parts.append('<p class="meta">(empty answer)</p>')
    if pane["metrics"].get("stop_reason") == "cancelled":
        parts.append('<p class="meta">(stopped before the end)</p>')
    for notice in pane.get("notices") or []:
        parts.append(f'<p class="meta">{h(notice)}</p>')
    for line in shift_report.pane_lines(pane):
        parts.append(f'<p class="meta">{h(line)}</p>')
    parts.append("</div>")
    return "\n".join(parts)


def run_html(result: dict) -> str:
    sampling = result["sampling"]
    head = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        # Self-contained: nothing may be loaded from anywhere, no scripts run.
        "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'\">",
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{h(result['title'])}</title>",
        f"<style>{_CSS}{shift_report.CSS}</style>",
        "</head><body>",
        f"<h1>{h(result['title'])}</h1>",
        '<ul class="meta">',
        f"<li>Created: {h(result['created'])}</li>",
        f"<li>Prompts: {h(result['source'])}</li>",
    ]
    for pane in result["panes"]:
        head.append(f"<li>{h(pane['role'])} pane: {h(_model(pane))} ({h(pane['mode'])} mode by default)</li>")
    head.append(
        f"<li>Sampling: temperature {h(sampling['temperature'])}, max tokens {h(sampling['max_tokens'])}, "
        f"seed {h(sampling['seed'])}, repeat {h(result['repeat'])}</li>"
    )
    head.append(f"<li>Results: {h(_results_text(result))}</li>")
    head.append("</ul>")
    for label, notes in (("Note", result.get("notes") or []), ("Caveat", _caveats(result))):
        head.extend(f'<p class="note"><strong>{label}:</strong> {h(note)}</p>' for note in notes)
    body: list[str] = []
    differed = what_differed(result)
    if differed:
        body += ["<h2>What differed</h2>", "<ul>", *(f"<li>{h(line)}</li>" for line in differed), "</ul>"]
    if result["items"]:
        body.append("<h2>Summary</h2>")
        body.append("<table><thead><tr>" + "".join(f"<th>{h(c)}</th>" for c in _SUMMARY_HEAD) + "</tr></thead><tbody>")
        for row in summarize([i["panes"] for i in result["items"]]):
            body.append("<tr>" + "".join(f"<td>{h(c)}</td>" for c in _summary_cells(row)) + "</tr>")
        body.append("</tbody></table>")
    body.extend(_html_shift_table(result["items"]))
    for item in result["items"]:
        title = f"{item['index']}. {item['name']}"
        if result["repeat"] > 1:
            title += f" (run {item['repeat']} of {result['repeat']}, seed {item['seed']})"
        body.append(f'<section id="item-{item["index"]}"><h2>{h(title)}</h2>')
        if item["status"] != "ok":
            body.append(f'<p class="failed">Status: {h(item["status"])}</p>')
        body.append(f'<div class="prompt"><strong>Prompt</strong><pre>{h(item["prompt"])}</pre></div>')
        body.append('<div class="panes">')
        body.extend(_html_pane(p) for p in item["panes"])
        body.append("</div></section>")
    return "\n".join(head + body + ["</body></html>", ""])


def _html_shift_table(items: list[dict]) -> list[str]:
    """The run's token-shift aggregate (only with --shift) and the legend of the styled answers."""
    rows = shift_report.aggregate(items)
    if not rows:
        return []
    out = ["<h2>Token shift</h2>", shift_report.legend_html()]
    out.append("<table><thead><tr>" + "".join(f"<th>{h(c)}</th>" for c in shift_report.AGGREGATE_HEAD))
    out.append("</tr></thead><tbody>")
    for row in rows:
        out.append("<tr>" + "".join(f"<td>{h(c)}</td>" for c in shift_report.aggregate_cells(row)) + "</tr>")
    out.append("</tbody></table>")
    return out
