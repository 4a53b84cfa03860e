"""Plain-dict records of a pane's turn: the shape `duet ask --json` prints, history stores and
reports render. Dicts keep these JSON-ready and independent of the classes that produced them."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from models.adapters import adapter_records
from models.amplify.records import amplify_record

if TYPE_CHECKING:  # no runtime import: records only read attributes
    from models.session import PaneSession, Turn


def iso_time(ts: float | None) -> str | None:
    """An epoch timestamp as ISO 8601 in UTC with milliseconds, or None."""
    if ts is None:
        return None
    return datetime.fromtimestamp(ts, timezone.utc).isoformat(timespec="milliseconds")


def parse_time(value: str | None) -> float | None:
    return datetime.fromisoformat(value).timestamp() if value else None


def pane_model(session: PaneSession) -> str:
    return session.info.label if session.info else session.spec.source


def pane_meta(session: PaneSession) -> dict:
    """Which model a pane runs and how: what a conversation remembers about each pane."""
    return {
        "role": session.role,
        "model": pane_model(session),
        "mode": session.mode,
        "source": session.spec.source,
        "adapters": adapter_records(session.spec.adapters),
        **_amplify(amplify_record(session.spec.amplify, session.spec.source, session.spec.adapters)),
    }


def _amplify(record: dict | None) -> dict:
    """An amplified pane's "amplify" key (models/amplify/records.py); nothing for the others."""
    return {"amplify": record} if record is not None else {}


def pane_record(session: PaneSession, turn: Turn | None, extended: bool = False) -> dict:
    """One pane's result in the shape of `duet ask --json`'s panes (``turn`` None: its model failed
    to load). With ``extended`` the record also carries what history and reports keep: the model
    source, sampling settings, notices, timestamps, the prompt token count and total time in
    ``metrics``, and the answer's ``token_ids`` (None when not known; the lens scores them after a reopen)."""
    model = pane_model(session)
    if turn is None:
        record: dict[str, Any] = {
            "role": session.role,
            "model": model,
            "mode": session.mode,
            "prompt": "",
            "text": "",
            "error": session.load_error,
            "metrics": {"ttft_s": 0.0, "tokens": 0, "tokens_per_s": 0.0, "stop_reason": "error"},
            "adapters": adapter_records(session.spec.adapters),
            **_amplify(amplify_record(session.spec.amplify, session.spec.source, session.spec.adapters)),
        }
        if extended:
            record["metrics"].update(prompt_tokens=0, total_s=0.0)
            record.update(
                source=session.spec.source,
                sampling=_sampling_dict(session.sampling),
                notices=[],
                started_at=None,
                finished_at=None,
                token_ids=None,
            )
        return record
    record = {
        "role": session.role,
        "model": model,
        "mode": turn.mode,
        "prompt": turn.rendered.text if turn.rendered else "",
        "text": turn.text,
        "error": turn.error,
        "metrics": {
            "ttft_s": turn.metrics.ttft_s,
            "tokens": turn.metrics.tokens,
            "tokens_per_s": turn.metrics.tokens_per_s,
            "stop_reason": turn.metrics.stop_reason,
        },
        "adapters": adapter_records(turn.adapters),
        **_amplify(amplify_record(turn.amplify, session.spec.source, turn.adapters, turn.amplified)),
    }
    prompt_file = turn.rendered.prompt_file if turn.rendered else None
    if prompt_file is not None:  # aligned mode: which prompt file ({path, sha256}) it was made with
        record["prompt_file"] = prompt_file.record()
    if extended:
        record["metrics"].update(prompt_tokens=turn.metrics.prompt_tokens, total_s=turn.metrics.total_s)
        record.update(
            source=session.spec.source,
            sampling=_sampling_dict(turn.sampling),
            notices=list(turn.notices),
            started_at=iso_time(turn.started_at),
            finished_at=iso_time(turn.finished_at),
            token_ids=list(turn.token_ids) if turn.token_ids is not None else None,
        )
    return record


def _sampling_dict(sampling) -> dict:
    data = sampling.model_dump()
    data["stop"] = list(data.get("stop") or ())
    return data
