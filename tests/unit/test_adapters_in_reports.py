"""The adapters a pane ran with, named in the exported conversation (duet history export) and
tolerated when a stored record is malformed (an old or hand-edited history)."""

from __future__ import annotations

from models.adapters import records_label
from tests.support.history_records import pane
from tui.export.report import conversation_markdown


def test_records_label_reads_the_json_shape_and_skips_what_it_cannot():
    assert records_label([{"source": "/x/style.gguf", "scale": 0.75}, {"source": "hf:o/r/tone.gguf"}]) == (
        "+style ×0.75 +tone ×1"
    )
    assert records_label(None) == records_label([]) == ""
    bad = [{"scale": 1}, "style.gguf", {"source": "a.gguf", "scale": 99}, {"source": "b.gguf", "scale": "x"}]
    assert records_label(bad) == ""


def test_an_exported_conversation_names_each_panes_adapters():
    style = {"source": "/x/style.gguf", "scale": 0.5}
    conversation = {
        "id": 1,
        "title": "t",
        "started": "2026-01-01T00:00:00",
        "kind": "chat",
        "turn_count": 1,
        "models": {"base": "smollm2-135m", "chat": "smollm2-135m"},
        "turns": [
            {
                "seq": 1,
                "prompt": "The capital of France is",
                "panes": [
                    pane("base", "Paris.", model="smollm2-135m", mode="raw", adapters=[]),
                    pane("chat", "Paris.", model="smollm2-135m", mode="raw", adapters=[style]),
                ],
            }
        ],
    }
    text = conversation_markdown(conversation)
    heads = [line for line in text.splitlines() if line.startswith("#### ")]
    assert heads == ["#### **base** · smollm2-135m · raw mode", "#### **chat** · smollm2-135m +style ×0.5 · raw mode"]
