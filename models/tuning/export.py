"""duet tune --export: the examples as the chat JSONL that GPU trainers read.

Axolotl (type: chat_template), TRL's SFTTrainer, LLaMA-Factory (sharegpt formatting with
role/content tags) and Unsloth all take one {"messages": [{"role", "content"}, ...]} object per
line and render it with the model's own template, as Duet does: alpaca and prompt/completion
examples are written as the same user/assistant messages Duet trains on.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import models.tuning.lesson as lesson
from models.errors import DuetError
from models.tuning.data import read_data


def export_chat_jsonl(data: Path | None, out: Path) -> int:
    """Write ``data``'s examples (None: the lesson set's training part) to ``out``; how many."""
    source = read_data(data.expanduser() if data else lesson.lesson_file(lesson.TRAIN_FILE))
    tmp = out.with_name(f".{out.name}.partial")
    try:
        with tmp.open("w", encoding="utf-8") as f:
            for example in source.examples:
                f.write(json.dumps({"messages": list(example.messages)}, ensure_ascii=False) + "\n")
        os.replace(tmp, out)
    except OSError as err:
        tmp.unlink(missing_ok=True)
        raise DuetError(f"cannot write {out} ({err.strerror}); check the folder and the free space") from None
    return len(source.examples)
