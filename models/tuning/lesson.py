"""The built-in lesson set: examples written for Duet, where the assistant's name is Sharon.

Forty short factual and instruction answers to train on (lesson_train.jsonl) and six held out
(lesson_held_out.jsonl), none of them a built-in preset word for word, so that the preset "What's
your name?" is a question the fine-tune never saw: a SmolLM2 tuned on it answers "My name is
Sharon." (README, Fine-tuning). The probes are what benchmarks/tuning.py asks before and after.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

LESSON_LABEL = "the lesson set"
TRAIN_FILE = "lesson_train.jsonl"
HELD_OUT_FILE = "lesson_held_out.jsonl"
# The seed's question (a preset, never trained on) and two held-out ones.
PROBES = ("What's your name?", "Can you tell me what your name is?", "What is the capital of Italy?")


def lesson_file(name: str) -> Path:
    return Path(str(resources.files("models.tuning") / name))
