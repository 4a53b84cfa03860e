"""Aligned mode without a model: the prompt file, its layout, the user's override, the stop strings,
the lesson layout's panes and what history and reports record."""

from __future__ import annotations

import hashlib
from importlib.resources import files

import pytest

from models.aligned.prompt_file import builtin_prompt_file, load_prompt_file, parse_prompt_file
from models.aligned.render import active_prompt_file, build_aligned, use_prompt_file
from models.engines.base import RenderedPrompt
from models.engines.llama.engine import _Answer
from models.errors import DuetError
from models.lesson import LESSON_ROLE, with_lesson_pane
from models.pair import PaneConfig
from models.prompts import MODE_NAMES, Exchange, get_mode, next_mode
from models.session import PaneSession, Turn
from models.settings import ModelSpec, SamplingSettings
from models.store.history import HistoryStore
from models.store.records import pane_record
from tests.support.panes import GEMMA
from tui.config import use_aligned_prompt
from tui.export.report import run_markdown

SMALL = b'''header = """
A helpful assistant answers.
"""

[layout]
question_start = "Q:"
answer_start = "A:"
answer_end = "[done]"

[[example]]
question = "  Two plus two?  "
answer = """
Four.
"""

[[example]]
question = "Capital of Italy?"
answer = "Rome."
'''


@pytest.fixture(autouse=True)
def builtin_again():
    """Every test starts and ends with the built-in prompt (the choice is process-wide)."""
    use_prompt_file(None)
    yield
    use_prompt_file(None)


def test_the_mode_renders_header_examples_earlier_exchanges_and_the_query_exactly():
    small = parse_prompt_file(SMALL, "small.toml")
    context = [Exchange("Colour of the sky?", " Blue.\n"), Exchange("And grass?", "Green.")]
    built = build_aligned("  Say hi.\n", context, small)
    assert built.text == (
        "A helpful assistant answers.\n\n"
        "Q: Two plus two?\nA: Four.\n[done]\n\n"
        "Q: Capital of Italy?\nA: Rome.\n[done]\n\n"
        "Q: Colour of the sky?\nA: Blue.\n[done]\n\n"
        "Q: And grass?\nA: Green.\n[done]\n\n"
        "Q: Say hi.\nA:"
    )
    assert built.stop == ("\n[done]", "[done]", "\nQ:", "\nA:")
    assert built.add_bos and built.uses_context
    assert built.prompt_file == small.ref and small.ref.sha256 == hashlib.sha256(SMALL).hexdigest()


def test_aligned_is_a_mode_in_the_cycle_with_a_fixed_prefix_and_the_built_in_prompt():
    assert "aligned" in MODE_NAMES and next_mode("inst") == "aligned" and next_mode("aligned") == "chat"
    mode = get_mode("aligned")
    assert mode.fixed_prefix and not any(get_mode(m).fixed_prefix for m in ("raw", "inst", "chat"))
    built = mode.build("What is a verb?", [], None)
    builtin = builtin_prompt_file()
    assert built.text.startswith(builtin.prompt.header + "\n\nQuestion: ")
    assert built.text.endswith("\nQuestion: What is a verb?\nAnswer:")
    assert built.text.count("\n<end>\n\n") == len(builtin.prompt.example) == 3
    data = files("models.aligned").joinpath("aligned.toml").read_bytes()
    assert built.prompt_file.path == "built-in" and built.prompt_file.sha256 == hashlib.sha256(data).hexdigest()


def test_a_user_file_replaces_the_built_in_prompt(tmp_path, monkeypatch):
    monkeypatch.setenv("DUET_CONFIG_DIR", str(tmp_path))
    (tmp_path / "aligned.toml").write_bytes(SMALL)
    assert use_aligned_prompt() is None
    built = get_mode("aligned").build("Hi", [], None)
    assert built.text.startswith("A helpful assistant answers.\n\nQ: Two plus two?") and built.text.endswith(
        "Q: Hi\nA:"
    )
    assert built.prompt_file.path == str(tmp_path / "aligned.toml")
    assert built.prompt_file.sha256 == hashlib.sha256(SMALL).hexdigest()


def test_a_broken_user_file_is_one_line_and_the_built_in_prompt_keeps_working(tmp_path, monkeypatch):
    monkeypatch.setenv("DUET_CONFIG_DIR", str(tmp_path))
    path = tmp_path / "aligned.toml"
    path.write_bytes(SMALL.replace(b'answer = "Rome."', b'answer = "Rome. [done]"'))
    use_prompt_file(parse_prompt_file(SMALL, "earlier.toml"))  # whatever was in use is replaced
    problem = use_aligned_prompt()
    assert problem == (
        f"aligned prompt file {path}, line 18, field 'example.1.answer': contains the marker '[done]', "
        "which would cut the prompt there (aligned mode uses the built-in prompt)"
    )
    assert "\n" not in problem
    assert active_prompt_file() == builtin_prompt_file()
    assert get_mode("aligned").build("Hi", [], None).prompt_file.path == "built-in"


def test_a_missing_user_file_means_the_built_in_prompt(tmp_path, monkeypatch):
    monkeypatch.setenv("DUET_CONFIG_DIR", str(tmp_path / "nowhere"))
    use_prompt_file(parse_prompt_file(SMALL, "earlier.toml"))
    assert use_aligned_prompt() is None and active_prompt_file().ref.path == "built-in"
    with pytest.raises(DuetError, match="does not exist"):
        load_prompt_file(tmp_path / "nowhere" / "aligned.toml")


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ((b"[layout]", b"[layout"), "is not valid TOML: .*line 5"),
        (
            (b'answer_end = "[done]"', b'answer_end = "[done]"\nanswer_stop = "x"'),
            "line 9, field 'layout.answer_stop': Extra",
        ),
        ((b'answer_end = "[done]"', b'answer_end = "A:"'), "line 5, field 'layout': no marker may be part of another"),
        (
            (b'question = "Capital of Italy?"', b'question = "   "'),
            "line 17, field 'example.1.question': must not be blank",
        ),
        (
            (b'answer_start = "A:"', b'answer_start = " A: "'),
            "line 7, field 'layout.answer_start': a marker is one line",
        ),
        ((b"header", b"heading"), "line 1, field 'heading': Extra inputs"),
    ],
)
def test_broken_files_name_the_line_and_the_field(change, expected):
    with pytest.raises(DuetError, match=f"^aligned prompt file mine.toml(, | ){expected}"):
        parse_prompt_file(SMALL.replace(*change), "mine.toml")


def test_a_file_without_examples_or_too_big_is_refused(tmp_path):
    with pytest.raises(DuetError, match="field 'example': Field required"):
        parse_prompt_file(SMALL[: SMALL.index(b"[[example]]")], "none.toml")
    big = tmp_path / "aligned.toml"
    big.write_bytes(SMALL + b"#" * 70_000)
    with pytest.raises(DuetError, match="is over 64 KB"):
        load_prompt_file(big)
    with pytest.raises(DuetError, match="not UTF-8"):
        parse_prompt_file(b"header = '\xff'", "bytes.toml")


def test_stop_strings_end_a_scripted_stream_at_the_next_example_marker():
    stops = build_aligned("Hi", [], parse_prompt_file(SMALL, "s.toml")).stop
    answer = _Answer(stops)
    pieces = [b" Hello", b" there.", b"\n[do", b"ne]", b"\n\nQ: next"]
    shown, ended = "", False
    for token, piece in enumerate(pieces):
        ended = answer.add(token, piece)
        shown += "".join(delta.text for delta in answer.flush((_Clock(), 0.0)))
        if ended:
            break
    shown += "".join(delta.text for delta in answer.finish(decode_rest=False))
    assert ended and token == 3  # the piece that completed "[done]"; the next example never came
    assert shown == answer.text == " Hello there."
    assert answer.token_ids() == (0, 1)
    # A model that skips the end marker and starts the next question is stopped there too.
    answer = _Answer(stops)
    assert not answer.add(0, b" Four.") and answer.add(1, b"\nQ:") and answer.text == " Four."


class _Clock:
    ttft_s = 0.0

    def rate(self, tokens, now):
        return 0.0


def test_the_lesson_layout_puts_the_base_model_aligned_between_base_and_chat():
    base = ModelSpec(source=GEMMA, n_ctx=1024)
    configs = [PaneConfig("base", base, "raw"), PaneConfig("chat", ModelSpec(source="embedded:x"), "chat")]
    lesson = with_lesson_pane(configs)
    assert [(c.role, c.mode) for c in lesson] == [("base", "raw"), (LESSON_ROLE, "aligned"), ("chat", "chat")]
    assert lesson[1].spec == base
    assert with_lesson_pane(lesson) == lesson and with_lesson_pane(configs[1:]) == configs[1:]


def test_records_and_the_history_keep_which_prompt_file_an_answer_used(tmp_path):
    ref = parse_prompt_file(SMALL, "/home/me/aligned.toml").ref
    session = PaneSession("aligned", ModelSpec(source=GEMMA), "aligned")
    rendered = RenderedPrompt("aligned", "Q: Hi\nA:", 5, 0, 0, prompt_file=ref)
    record = pane_record(session, Turn("Hi", "aligned", SamplingSettings(), rendered, text=" Hello."), extended=True)
    plain = pane_record(session, Turn("Hi", "raw", SamplingSettings(), RenderedPrompt("raw", "Hi", 1, 0, 0)))
    session.close()
    assert (
        record["prompt_file"] == {"path": "/home/me/aligned.toml", "sha256": ref.sha256} and "prompt_file" not in plain
    )
    with HistoryStore(tmp_path / "history.db") as store:
        conversation = store.start_conversation([record])
        store.add_turn(conversation, "Hi", [record])
        assert store.get(conversation)["turns"][0]["panes"][0]["prompt_file"] == record["prompt_file"]
    item = {"index": 1, "name": "hi", "prompt": "Hi", "repeat": 1, "seed": 42, "status": "ok", "panes": [record]}
    result = {"title": "t", "created": "now", "source": "x", "repeat": 1, "notes": [], "panes": [], "items": [item]}
    result["sampling"] = SamplingSettings().model_dump()
    assert f"aligned mode (prompt /home/me/aligned.toml, sha256 {ref.sha256[:12]})" in run_markdown(result)
