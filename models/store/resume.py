"""A stored conversation (as ``HistoryStore.get`` returns it) turned back into what a PaneSession
needs to go on with it: the exchanges chat mode sends, and the Turn objects the app shows."""

from __future__ import annotations

from typing import TYPE_CHECKING

from models.engines.base import RenderedPrompt
from models.events import Metrics
from models.prompts import Exchange
from models.settings import AdapterSpec, SamplingSettings
from models.store.records import parse_time

if TYPE_CHECKING:
    from models.session import Turn


def exchanges(conversation: dict) -> dict[str, list[Exchange]]:
    """Per pane role, the exchanges chat mode sends when the conversation goes on (failed
    turns left out, stopped ones kept with their partial text, as PaneSession.history does)."""
    result: dict[str, list[Exchange]] = {}
    for turn in conversation["turns"]:
        for pane in turn["panes"]:
            bucket = result.setdefault(pane["role"], [])
            if pane["error"] is None:
                bucket.append(Exchange(turn["prompt"], pane["text"]))
    return result


def restore_turns(conversation: dict) -> dict[str, list[Turn]]:
    """Per pane role, the stored turns as models.session.Turn objects, ready to become a
    PaneSession's ``turns`` so the app can show and continue the conversation."""
    result: dict[str, list[Turn]] = {}
    for turn in conversation["turns"]:
        for pane in turn["panes"]:
            result.setdefault(pane["role"], []).append(_restored_turn(turn, pane))
    return result


def _restored_turn(turn: dict, pane: dict) -> Turn:
    from models.session import Turn

    m = pane["metrics"]
    return Turn(
        prompt=turn["prompt"],
        mode=pane["mode"],
        sampling=_restored_sampling(pane),
        rendered=RenderedPrompt(
            mode=pane["mode"],
            text=pane["prompt"],
            token_count=m.get("prompt_tokens", 0),
            context_used=0,
            dropped_turns=0,
        ),
        text=pane["text"],
        metrics=Metrics(
            ttft_s=m["ttft_s"],
            tokens=m["tokens"],
            tokens_per_s=m["tokens_per_s"],
            stop_reason=m["stop_reason"],
            prompt_tokens=m.get("prompt_tokens", 0),
            total_s=m.get("total_s", 0.0),
        ),
        error=pane["error"],
        notices=list(pane.get("notices") or []),
        started_at=parse_time(pane.get("started_at")) or parse_time(turn["created"]) or 0.0,
        finished_at=parse_time(pane.get("finished_at")),
        token_ids=_restored_token_ids(pane),
        adapters=_restored_adapters(pane),
    )


def _restored_adapters(pane: dict) -> tuple[AdapterSpec, ...]:
    """The LoRA adapters the answer was made with (none where a record is unreadable)."""
    adapters = []
    for record in pane.get("adapters") or ():
        try:
            adapters.append(AdapterSpec(source=record["source"], scale=record.get("scale", 1.0)))
        except (ValueError, KeyError, TypeError):
            continue
    return tuple(adapters)


def _restored_token_ids(pane: dict) -> tuple[int, ...] | None:
    ids = pane.get("token_ids")
    return tuple(ids) if isinstance(ids, list) else None


def _restored_sampling(pane: dict) -> SamplingSettings:
    values = {k: v for k, v in (pane.get("sampling") or {}).items() if k in SamplingSettings.model_fields}
    try:
        return SamplingSettings(**values)
    except ValueError:
        return SamplingSettings()
