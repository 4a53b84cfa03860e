"""Presets (built-in and from TOML), prompt lists, and the Markdown/HTML reports of runs."""

import re

import pytest

from models.errors import DuetError
from models.presets import Preset, builtin_presets, load_presets, resolve_prompts
from models.settings import SamplingSettings
from tui.export.report import md_fenced, run_html, run_markdown

CUSTOMER = (
    "Agent: I'm here to help you with your Amazon deliver order.\n"
    "Customer: I didn't get my item\n"
    "Agent: I'm sorry to hear that. Which item was it?\n"
    "Customer: the blanket\n"
    "Agent:"
)


# -- presets -----------------------------------------------------------------------------------
def test_builtin_presets_are_the_lesson_prompts():
    presets = builtin_presets()
    assert [p.text for p in presets] == [
        "Tell me how to train my dog to sit",
        "What do you think of Mars?",
        "taylor swift's best friend",
        CUSTOMER,
        "What's your name?",
        "Tell me how to train my dog to sit",
        "Tell me how to train my dog to sit",
    ]
    assert presets[5].chat_mode == "inst" and presets[5].base_mode is None
    assert all(p.chat_mode is None for p in presets[:5] + presets[6:])
    assert presets[6].name == "dog-lesson" and presets[6].lesson and not any(p.lesson for p in presets[:6])
    assert len({p.name for p in presets}) == len(presets)


def test_load_presets_with_modes_and_sampling(tmp_path):
    path = tmp_path / "p.toml"
    path.write_text(
        '[[preset]]\nname = "one"\ntext = "Hello"\n\n'
        '[[preset]]\nname = "two"\ntext = """multi\nline"""\nbase_mode = "inst"\ntemperature = 0.9\nmax_tokens = 5\n'
    )
    one, two = load_presets(path)
    assert one == Preset(name="one", text="Hello")
    assert two.text == "multi\nline" and two.mode_for("base") == "inst" and two.mode_for("chat") is None
    applied = two.apply(SamplingSettings(seed=7))
    assert applied.temperature == 0.9 and applied.max_tokens == 5 and applied.seed == 7
    assert resolve_prompts(str(path)) == [one, two]


@pytest.mark.parametrize(
    "content, expected",
    [
        (
            '[[preset]]\nname = "a"\ntext = "x"\n\n[[preset]]\nname = "b"\ntext = "y"\nchat_mode = "sing"\n',
            r"line 8, preset 2 \('b'\), field 'chat_mode': unknown prompt mode 'sing'",
        ),
        ('[[preset]]\nname = "a"\ntext = \n', r"not valid TOML: .*line 3"),
        ('[[preset]]\nname = "a"\n', r"line 1, preset 1 \('a'\), field 'text': Field required"),
        (
            '[[preset]]\nname = "a"\ntext = "x"\ntemprature = 1\n',
            r"line 4, preset 1 \('a'\), field 'temprature': Extra inputs",
        ),
        ('[[preset]]\nname = "a"\ntext = "x"\ntemperature = 9\n', r"preset 1 \('a'\).*less than or equal to 5"),
        ('title = "x"\n', r"unexpected key 'title'"),
        ('[[preset]]\nname = "a"\ntext = "x"\n[[preset]]\nname = "a"\ntext = "y"\n', r"'a' is used by more than one"),
    ],
)
def test_broken_presets_name_the_line_and_field(tmp_path, content, expected):
    path = tmp_path / "broken.toml"
    path.write_text(content)
    with pytest.raises(DuetError, match=expected) as info:
        load_presets(path)
    assert str(path) in str(info.value) and "\n" not in str(info.value)


def test_prompt_list_file(tmp_path):
    path = tmp_path / "prompts.txt"
    path.write_text("# a comment\nfirst prompt\n\n  second prompt  \n")
    assert [(p.name, p.text) for p in resolve_prompts(str(path))] == [
        ("line-2", "first prompt"),
        ("line-4", "second prompt"),
    ]
    with pytest.raises(DuetError, match="does not exist"):
        resolve_prompts(str(tmp_path / "missing.txt"))


# -- report rendering --------------------------------------------------------------------------
EVIL = "``` not closed ```` \x1b]0;pwned\x07 </pre><script>alert('x')</script> & <b>"


def _result():
    metrics = {"ttft_s": 0.1, "tokens": 3, "tokens_per_s": 20.0, "stop_reason": "eos"}
    panes = [
        {
            "role": "base",
            "model": "m<i>",
            "mode": "raw",
            "prompt": EVIL,
            "text": EVIL,
            "error": None,
            "metrics": metrics,
        },
        {
            "role": "chat",
            "model": "c",
            "mode": "chat",
            "prompt": "",
            "text": "",
            "error": "it <failed>",
            "metrics": {**metrics, "stop_reason": "error"},
        },
    ]
    return {
        "title": "t <x>",
        "created": "now",
        "source": "evil.txt",
        "repeat": 1,
        "notes": ["a <note>"],
        "panes": [{"role": "base", "model": "m<i>", "mode": "raw"}],
        "interrupted": False,
        "sampling": SamplingSettings().model_dump(mode="json"),
        "items": [
            {"index": 1, "name": "<evil>", "prompt": EVIL, "repeat": 1, "seed": 42, "status": "failed", "panes": panes}
        ],
    }


def test_html_report_escapes_model_text():
    page = run_html(_result())
    assert "<script>" not in page and "</pre><script>" not in page and "\x1b" not in page and "\x07" not in page
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;" in page and "m&lt;i&gt;" in page
    assert "it &lt;failed&gt;" in page and "Status: failed" in page
    assert "http" not in page.lower().replace("http-equiv", "")  # self-contained: nothing external


def test_markdown_report_fences_model_text():
    text = run_markdown(_result())
    assert "\x1b" not in text and "\x07" not in text
    outside_fences = re.sub(r"(?ms)^(`{3,})text\n.*?^\1$", "", text)
    assert "<script>" in text and "<script>" not in outside_fences and "<i>" not in outside_fences
    assert md_fenced(EVIL).startswith("`````text\n") and md_fenced(EVIL).endswith("\n`````")
    assert "**Status: failed**" in text and "**Failed:** it &lt;failed&gt;" in text
