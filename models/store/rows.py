"""How the history's records map onto the tables' rows (see schema.py), and back.

Going in, a pane record (``records.pane_record(..., extended=True)``) becomes a ``turn_panes``
row; coming out, rows become the JSON-ready dicts ``HistoryStore.get`` and
``HistoryStore.conversations`` return.
"""

from __future__ import annotations

import json
import sqlite3

from models.amplify.records import stored
from models.store.records import iso_time, parse_time

INSERT_PANE = """INSERT INTO turn_panes (turn_id, position, role, model, mode, rendered_prompt, text,
    error, ttft_s, tokens, tokens_per_s, stop_reason, sampling, started_at, finished_at,
    source, notices, prompt_tokens, total_s, token_ids, adapters, prompt_file, amplify)
    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"""


def pane_row(turn_id: int, position: int, pane: dict) -> tuple:
    """The values INSERT_PANE stores for one pane record of a turn."""
    metrics = pane.get("metrics") or {}
    return (
        turn_id,
        position,
        pane["role"],
        pane["model"],
        pane["mode"],
        pane.get("prompt") or "",
        pane.get("text") or "",
        pane.get("error"),
        float(metrics.get("ttft_s", 0.0)),
        int(metrics.get("tokens", 0)),
        float(metrics.get("tokens_per_s", 0.0)),
        metrics.get("stop_reason", "error"),
        json.dumps(pane.get("sampling") or {}),
        _epoch(pane.get("started_at")),
        _epoch(pane.get("finished_at")),
        pane.get("source"),
        json.dumps(list(pane.get("notices") or [])),
        int(metrics.get("prompt_tokens", 0)),
        float(metrics.get("total_s", 0.0)),
        _token_ids_column(pane.get("token_ids")),
        json.dumps(list(pane["adapters"])) if pane.get("adapters") else None,
        json.dumps(pane["prompt_file"]) if pane.get("prompt_file") else None,
        _amplify_column(pane.get("amplify")),
    )


def _amplify_column(record) -> str | None:
    kept = stored(record)  # the factor and the two models; the per-token pushes are --json's only
    return json.dumps(kept) if kept else None


def _amplify(value: str | None) -> dict:
    """A stored amplify column as {"amplify": {...}} ({} for none or unreadable)."""
    try:
        record = json.loads(value) if value else None
    except ValueError:
        return {}
    return {"amplify": record} if isinstance(record, dict) and "factor" in record else {}


def _token_ids_column(ids) -> str | None:
    return None if ids is None else json.dumps([int(i) for i in ids], separators=(",", ":"))


def _token_ids(value: str | None) -> list[int] | None:
    if not value:
        return None
    try:
        ids = json.loads(value)
    except ValueError:
        return None
    return ids if isinstance(ids, list) and all(isinstance(i, int) for i in ids) else None


def _adapters(value: str | None) -> list[dict]:
    """A stored adapters column back as [{"source": ..., "scale": ...}] ([] for none or unreadable)."""
    try:
        adapters = json.loads(value) if value else []
    except ValueError:
        return []
    if not isinstance(adapters, list):
        return []
    return [a for a in adapters if isinstance(a, dict) and isinstance(a.get("source"), str)]


def _prompt_file(value: str | None) -> dict:
    """A stored prompt_file column as {"prompt_file": {path, sha256}} ({} for none or unreadable)."""
    try:
        prompt_file = json.loads(value) if value else None
    except ValueError:
        return {}
    if not isinstance(prompt_file, dict):
        return {}
    kept = {k: prompt_file.get(k) for k in ("path", "sha256")}
    return {"prompt_file": kept} if all(isinstance(v, str) for v in kept.values()) else {}


def pane_list(panes: list[dict]) -> str:
    """What a conversation row remembers of its panes (role, model, mode, source, adapters), as JSON."""
    return json.dumps(
        [{k: p.get(k) for k in ("role", "model", "mode", "source")} | _adapters_of(p) | _amplify_of(p) for p in panes]
    )


def _adapters_of(pane: dict) -> dict:
    return {"adapters": list(pane["adapters"])} if pane.get("adapters") else {}


def _amplify_of(pane: dict) -> dict:
    kept = stored(pane.get("amplify"))
    return {"amplify": kept} if kept else {}


def title_from(prompt: str) -> str:
    """A conversation's default title: the first non-blank line of its first prompt, shortened."""
    first = next((line.strip() for line in prompt.splitlines() if line.strip()), "")
    return first if len(first) <= 60 else first[:59] + "…"


def conversation_dict(row: sqlite3.Row, turn_count: int) -> dict:
    panes = json.loads(row["panes"] or "[]")
    return {
        "id": row["id"],
        "kind": row["kind"],
        "title": row["title"] or "",
        "started": iso_time(row["started_at"]),
        "updated": iso_time(row["updated_at"]),
        "models": {p["role"]: p["model"] for p in panes},
        "panes": panes,
        "turn_count": turn_count,
        "meta": json.loads(row["meta"] or "{}"),
    }


def turn_dict(row: sqlite3.Row, panes: list[dict]) -> dict:
    return {
        "seq": row["seq"],
        "prompt": row["prompt"],
        "label": row["label"],
        "created": iso_time(row["created_at"]),
        "panes": panes,
    }


def pane_dict(p: sqlite3.Row) -> dict:
    return {
        "role": p["role"],
        "model": p["model"],
        "mode": p["mode"],
        "prompt": p["rendered_prompt"],
        "text": p["text"],
        "error": p["error"],
        "metrics": {
            "ttft_s": p["ttft_s"],
            "tokens": p["tokens"],
            "tokens_per_s": p["tokens_per_s"],
            "stop_reason": p["stop_reason"],
            "prompt_tokens": p["prompt_tokens"],
            "total_s": p["total_s"],
        },
        "source": p["source"],
        "sampling": json.loads(p["sampling"] or "{}"),
        "notices": json.loads(p["notices"] or "[]"),
        "started_at": iso_time(p["started_at"]),
        "finished_at": iso_time(p["finished_at"]),
        "token_ids": _token_ids(p["token_ids"]),
        "adapters": _adapters(p["adapters"]),
        **_prompt_file(p["prompt_file"]),
        **_amplify(p["amplify"]),
    }


def _epoch(value: float | str | None) -> float | None:
    if value is None or isinstance(value, (int, float)):
        return value
    return parse_time(value)
