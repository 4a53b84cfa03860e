"""Model files: GGUF header reading, the embedded pair, and every way a model file can be unusable."""

import pytest

from models.errors import DuetError
from models.files.embedded import GEMMA_SHA256, assemble_gemma
from models.files.gguf import read_header
from models.files.info import model_info_from_header
from models.files.sources import resolve_source


def test_embedded_models_have_expected_metadata(base_path, chat_path):
    base = model_info_from_header(read_header(base_path), "base")
    chat = model_info_from_header(read_header(chat_path), "chat")
    assert base.architecture == "gemma3"
    assert base.quantization == "Q4_K_M"
    assert not base.has_chat_template
    assert base.n_layers == 18
    assert chat.architecture == "llama"
    assert chat.quantization == "Q4_1"
    assert chat.has_chat_template
    assert chat.context_length and chat.context_length >= 2048
    assert chat.file_size == chat_path.stat().st_size


def test_gemma_is_assembled_once_with_checked_hash(tmp_path):
    import hashlib

    first = assemble_gemma(tmp_path)
    assert hashlib.sha256(first.read_bytes()).hexdigest() == GEMMA_SHA256
    stamp = first.stat().st_mtime_ns
    again = assemble_gemma(tmp_path)
    assert again == first and again.stat().st_mtime_ns == stamp
    assert [p.name for p in tmp_path.iterdir()] == [first.name]  # no partial files left behind


def test_gemma_with_wrong_size_is_rebuilt(tmp_path):
    target = assemble_gemma(tmp_path)
    target.write_bytes(b"GGUF" + b"\0" * 100)  # an interrupted copy by some other tool
    rebuilt = assemble_gemma(tmp_path)
    assert rebuilt.stat().st_size > 200_000_000


def test_resolve_embedded_and_paths(chat_path):
    assert resolve_source("embedded:smollm2-135m-instruct").path == chat_path
    assert resolve_source(str(chat_path)).path == chat_path
    with pytest.raises(DuetError, match="unknown embedded model 'embedded:nope'.*embedded:gemma-3-270m"):
        resolve_source("embedded:nope")
    with pytest.raises(DuetError, match="neither a .gguf file nor a known model"):
        resolve_source("definitely-not-a-model")


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda p: None, "does not exist"),
        (lambda p: p.mkdir(), "is a directory"),
        (lambda p: p.write_bytes(b""), "is empty"),
        (lambda p: p.write_text("hello, I am a text file pretending to be a model\n" * 20), "is not a GGUF model file"),
        (lambda p: p.write_bytes(b"GGUF\x03\x00\x00\x00\x05"), "truncated inside its header"),
    ],
    ids=["missing", "directory", "empty", "not-gguf", "header-cut"],
)
def test_unusable_files_are_explained(tmp_path, make, message):
    path = tmp_path / "model.gguf"
    make(path)
    with pytest.raises(DuetError, match=message):
        read_header(path)


def test_truncated_weights_are_detected(tmp_path, chat_path):
    cut = tmp_path / "cut.gguf"
    with chat_path.open("rb") as src, cut.open("wb") as dst:
        dst.write(src.read(chat_path.stat().st_size // 2))
    with pytest.raises(DuetError, match=r"is truncated \([\d,]+ of [\d,]+ bytes\)"):
        read_header(cut)
    size = chat_path.stat().st_size
    header = read_header(chat_path)
    assert size - 64 <= header.data_end <= size  # the tensor table accounts for the whole file
