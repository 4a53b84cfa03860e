"""GGUF metadata from strangers: absurd lengths, text that is not UTF-8, impossible context
lengths, a vocabulary that is not a list of strings, more metadata than the file holds. Each is
one line at load, quickly, without a traceback or a large allocation; the other pane answers."""

import struct
import time

import pytest
from gguf import GGUFValueType

from models.errors import DuetError
from models.files.gguf import read_header
from models.session import PaneSession
from models.settings import ModelSpec, SamplingSettings
from tests.support import hostile_gguf as hostile

MARK = "MARKER-0123456789"


def _length_before(marker: bytes, value: int):
    def edit(head: bytearray, at: int) -> None:
        hostile.set_u64(head, at - 8, value)

    return marker, edit


def _array_field(key: bytes, item_type: int | None = None, length: int | None = None):
    def edit(head: bytearray, at: int) -> None:
        after = at + len(key) + 4  # the key, then its value type (array)
        if item_type is not None:
            struct.pack_into("<I", head, after, item_type)
        if length is not None:
            hostile.set_u64(head, after + 4, length)

    return key, edit


def _not_utf8(head: bytearray, at: int) -> None:
    head[at : at + 4] = b"\xff\xfe\xc0\x80"


PATCHES = {
    "string-longer-than-file": (*_length_before(MARK.encode(), 1 << 50), "more than the file holds"),
    "non-utf8-string": (MARK.encode(), _not_utf8, "is not UTF-8 text"),
    "array-longer-than-file": (*_array_field(b"tokenizer.ggml.merges", length=1 << 60), "more than its"),
    "array-over-bound": (*_array_field(b"tokenizer.ggml.merges", length=10_000_000), "Duet reads at most 4,194,304"),
    "nested-array": (
        *_array_field(b"tokenizer.ggml.merges", item_type=9),
        "an array of arrays, which llama.cpp cannot read",
    ),
    "more-entries-than-file": (b"GGUF", lambda head, at: hostile.set_u64(head, 16, 1 << 40), "more than its"),
}
REWRITES = {
    "negative-context": ({"llama.context_length": (-5, GGUFValueType.INT32)}, "is -5 tokens, outside 1 to"),
    "huge-context": ({"llama.context_length": (1 << 40, GGUFValueType.UINT64)}, "outside 1 to 2,147,483,647"),
    "text-context": ({"llama.context_length": "lots"}, "not a whole number"),
    "vocabulary-of-numbers": (
        {"tokenizer.ggml.tokens": (list(range(49152)), GGUFValueType.ARRAY, GGUFValueType.INT32)},
        "is not a list of strings",
    ),
    "short-scores": (
        {"tokenizer.ggml.scores": ([0.0] * 10, GGUFValueType.ARRAY, GGUFValueType.FLOAT32)},
        "has 10 entries for 49,152 tokens",
    ),
}
CASES = {**{k: v[2] for k, v in PATCHES.items()}, **{k: v[1] for k, v in REWRITES.items()}}


@pytest.fixture(scope="module")
def files(tmp_path_factory, chat_path):
    folder = tmp_path_factory.mktemp("hostile-metadata")
    marked = hostile.rewrite(chat_path, folder / "marked.gguf", {"general.name": MARK})
    made = {name: hostile.patch(marked, folder / f"{name}.gguf", m, e) for name, (m, e, _) in PATCHES.items()}
    for name, (changes, _) in REWRITES.items():
        made[name] = hostile.rewrite(chat_path, folder / f"{name}.gguf", changes)
    return made


@pytest.fixture(scope="module")
def base():
    session = PaneSession("base", ModelSpec(source="embedded:gemma-3-270m"), "raw", SamplingSettings(max_tokens=8))
    session.load().result(120)
    yield session
    session.close()


@pytest.mark.parametrize("name", list(CASES))
def test_hostile_metadata_is_one_line_at_load(files, name):
    before = hostile.peak_rss_mib()
    started = time.monotonic()
    with pytest.raises(DuetError) as caught:
        read_header(files[name])
    assert time.monotonic() - started < 1.0
    message = str(caught.value)
    assert "\n" not in message and str(files[name]) in message and CASES[name] in message, message
    assert hostile.peak_rss_mib() - before < 50  # nothing the file declares was allocated


@pytest.mark.parametrize("name", ["string-longer-than-file", "vocabulary-of-numbers", "huge-context"])
def test_a_pane_with_hostile_metadata_fails_its_load_and_the_other_answers(files, base, name):
    chat = PaneSession("chat", ModelSpec(source=str(files[name])), "chat", SamplingSettings(max_tokens=8))
    try:
        with pytest.raises(DuetError):
            chat.load().result(10)
        assert CASES[name] in chat.load_error and "\n" not in chat.load_error
        turn = base.send("Once upon a time").result(60)
        assert turn.error is None and turn.text.strip()
    finally:
        chat.close()


def test_the_embedded_models_pass_every_bound(base_path, chat_path):
    for path in (base_path, chat_path):
        started = time.monotonic()
        header = read_header(path)
        assert time.monotonic() - started < 1.0
        assert header.array_types["tokenizer.ggml.tokens"] == 8
