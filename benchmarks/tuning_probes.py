"""Greedy answers of a model to the lesson's probe questions, in chat mode as a Duet pane asks
them (figure 14): ``python -m benchmarks.tuning_probes SOURCE`` prints them as JSON."""

from __future__ import annotations

import json
import sys
import threading

from models.events import TextDelta
from models.tuning.lesson import PROBES

MAX_TOKENS = 40


def greedy_answers(source: str, questions: tuple[str, ...] = PROBES) -> list[str]:
    from models.engines.llama.engine import LlamaEngine
    from models.prompts import get_mode
    from models.settings import ModelSpec, SamplingSettings

    engine = LlamaEngine(ModelSpec(source=source, n_ctx=512))
    engine.load()
    sampling = SamplingSettings(max_tokens=MAX_TOKENS)  # temperature 0: greedy
    answers = []
    try:
        for question in questions:
            prompt = engine.render(get_mode("chat"), question, [], sampling)
            events = engine.stream(prompt, sampling, threading.Event())
            answers.append("".join(e.text for e in events if isinstance(e, TextDelta)).strip())
    finally:
        engine.close()
    return answers


if __name__ == "__main__":
    print(json.dumps(dict(zip(PROBES, greedy_answers(sys.argv[1])))))
