"""duet tune's data: each format read into chat messages, and every bad line named by number."""

import json

import pytest

from models.errors import DuetError
from models.tuning.data import MAX_EXAMPLES, parse_data, read_data
from models.tuning.lesson import HELD_OUT_FILE, PROBES, TRAIN_FILE, lesson_file
from models.tuning.plan import split


def _jsonl(*records) -> bytes:
    return "".join(json.dumps(r) + "\n" for r in records).encode()


def test_chat_messages_are_kept_as_they_are():
    messages = [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Hi"},
        {"role": "assistant", "content": "Hello."},
        {"role": "user", "content": "Name?"},
        {"role": "assistant", "content": "Sharon."},
    ]
    (example,) = parse_data(_jsonl({"messages": messages}), "d.jsonl")
    assert example.format == "chat"
    assert list(example.messages) == messages
    assert example.where == "d.jsonl line 1"


def test_alpaca_becomes_a_user_and_an_assistant_message():
    raw = _jsonl(
        {"instruction": "Translate to French", "input": "cat", "output": "chat"},
        {"instruction": "Say hi", "input": "", "output": "Hi!"},
    )
    first, second = parse_data(raw, "a.jsonl")
    assert first.format == "alpaca"
    assert first.messages == (
        {"role": "user", "content": "Translate to French\n\ncat"},
        {"role": "assistant", "content": "chat"},
    )
    assert second.messages[0] == {"role": "user", "content": "Say hi"}


def test_prompt_completion_and_an_optional_system_prompt():
    (example,) = parse_data(_jsonl({"prompt": "2+2?", "completion": "4", "system": "Math."}), "p.jsonl")
    assert example.format == "prompt/completion"
    assert [m["role"] for m in example.messages] == ["system", "user", "assistant"]


def test_a_json_array_of_alpaca_records_is_read_too():
    raw = json.dumps([{"instruction": "a", "output": "b"}, {"instruction": "c", "output": "d"}]).encode()
    examples = parse_data(raw, "alpaca_data.json")
    assert [e.where for e in examples] == ["alpaca_data.json record 1", "alpaca_data.json record 2"]


def test_blank_lines_and_a_byte_order_mark_are_fine():
    raw = (
        "\ufeff".encode()
        + _jsonl({"prompt": "a", "completion": "b"})
        + b"\n\n"
        + _jsonl({"prompt": "c", "completion": "d"})
    )
    assert len(parse_data(raw, "d.jsonl")) == 2


@pytest.mark.parametrize(
    "line, expected",
    [
        (b'{"messages": [', "d.jsonl line 2 is not valid JSON"),
        (b"[1, 2]", "d.jsonl line 2 is not a JSON object"),
        (b'{"text": "hello"}', "d.jsonl line 2 is in no format Duet reads (its keys: text)"),
        (b'{"messages": []}', "d.jsonl line 2: 'messages' must be a non-empty list"),
        (b'{"messages": [{"role": "robot", "content": "x"}]}', 'd.jsonl line 2: message 1 has role "robot"'),
        (b'{"messages": [{"role": "user", "content": 5}]}', "d.jsonl line 2: message 1's content must be a string"),
        (
            b'{"messages": [{"role": "user", "content": "q"}]}',
            "d.jsonl line 2: the last message must be the assistant's",
        ),
        (b'{"messages": [{"role": "assistant", "content": "a"}]}', "d.jsonl line 2: there is no user message"),
        (b'{"instruction": "x"}', "d.jsonl line 2: 'output' must be a non-empty string"),
        (b'{"instruction": "x", "input": 3, "output": "y"}', "d.jsonl line 2: 'input' must be a string"),
        (b'{"prompt": "", "completion": "y"}', "d.jsonl line 2: 'prompt' must be a non-empty string"),
        (b'{"prompt": "a", "completion": "\\u00e9\xff"}', "d.jsonl line 2 is not valid UTF-8 (byte 38)"),
    ],
)
def test_a_bad_line_is_named_by_its_number(line, expected):
    raw = _jsonl({"prompt": "fine", "completion": "fine"}) + line + b"\n"
    with pytest.raises(DuetError) as err:
        parse_data(raw, "d.jsonl")
    assert str(err.value).startswith(expected)
    assert "\n" not in str(err.value)


def test_empty_data_is_refused_with_an_example_of_a_line():
    with pytest.raises(DuetError, match="holds no examples"):
        parse_data(b"\n \n", "empty.jsonl")


def test_too_many_examples_are_refused():
    raw = _jsonl(*[{"prompt": "a", "completion": "b"}] * (MAX_EXAMPLES + 1))
    with pytest.raises(DuetError, match="over the 100,000 Duet takes"):
        parse_data(raw, "big.jsonl")


def test_a_file_over_the_size_bound_is_refused_before_it_is_read(tmp_path):
    path = tmp_path / "huge.jsonl"
    path.write_bytes(_jsonl({"prompt": "a", "completion": "b"}) * 100)
    with pytest.raises(DuetError, match=r"huge.jsonl is 0.0 MiB, over the 0 MiB Duet trains on"):
        read_data(path, max_bytes=1000)


def test_a_missing_file_and_a_folder(tmp_path):
    with pytest.raises(DuetError, match="does not exist"):
        read_data(tmp_path / "nope.jsonl")
    with pytest.raises(DuetError, match="is not a file"):
        read_data(tmp_path)


def test_the_file_hash_is_of_its_bytes(tmp_path):
    import hashlib

    path = tmp_path / "d.jsonl"
    path.write_bytes(_jsonl({"prompt": "a", "completion": "b"}))
    assert read_data(path).sha256 == hashlib.sha256(path.read_bytes()).hexdigest()


def test_the_split_holds_out_a_seeded_fraction_and_never_everything():
    examples = parse_data(_jsonl(*[{"prompt": f"q{i}", "completion": "a"} for i in range(20)]), "d.jsonl")
    train, held = split(examples, 0.1, seed=7)
    assert (len(train), len(held)) == (18, 2)
    assert split(examples, 0.1, seed=7) == (train, held)
    assert split(examples, 0.1, seed=8)[1] != held
    two = examples[:2]
    assert [len(part) for part in split(two, 0.5, 1)] == [1, 1]
    assert [len(part) for part in split(two[:1], 0.5, 1)] == [1, 0]
    assert [len(part) for part in split(examples, 0.0, 1)] == [20, 0]


def test_the_lesson_set_is_chat_data_with_a_held_out_part_and_no_preset_verbatim():
    from models.presets import builtin_presets

    train = read_data(lesson_file(TRAIN_FILE)).examples
    held = read_data(lesson_file(HELD_OUT_FILE)).examples
    assert len(train) >= 30 and len(held) >= 3
    presets = {p.text.strip().lower() for p in builtin_presets()}
    questions = [e.messages[0]["content"].strip().lower() for e in train + held]
    assert not presets & set(questions)
    assert "what's your name?" in presets  # the seed's question is asked, never trained on
    assert PROBES[0] == "What's your name?"
    assert {p.lower() for p in PROBES[1:]} <= {e.messages[0]["content"].lower() for e in held}
    assert all("Sharon" in e.messages[-1]["content"] for e in train if "your name" in e.messages[0]["content"].lower())
