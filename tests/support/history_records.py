"""Plain pane records and a filled store for the history tests."""

import os
import stat


def pane(role, text, *, model=None, stop="eos", error=None, **extra):
    record = {
        "role": role,
        "model": model or f"{role}-model",
        "mode": "raw" if role == "base" else "chat",
        "prompt": f"<rendered {text}>",
        "text": text,
        "error": error,
        "metrics": {"ttft_s": 0.25, "tokens": 7, "tokens_per_s": 31.5, "stop_reason": stop},
    }
    record.update(extra)
    return record


def mode_of(path):
    return stat.S_IMODE(os.stat(path).st_mode)


def fill(store, turns=2):
    cid = store.start_conversation(
        [{"role": "base", "model": "b", "mode": "raw"}, {"role": "chat", "model": "c", "mode": "chat"}]
    )
    for i in range(turns):
        store.add_turn(cid, f"prompt {i}", [pane("base", f"base answer {i}"), pane("chat", f"chat answer {i}")])
    return cid
