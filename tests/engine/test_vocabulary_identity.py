"""A model's Vocabulary (which token ids mean the same to two models: the lens and the amplified
pane rely on it) is read from its GGUF header: a hash of the token-texts array's bytes. It must
name exactly the vocabulary llama.cpp loaded, whichever way it is computed."""

from __future__ import annotations

import hashlib
import shutil
import struct

from gguf import GGUFReader, GGUFValueType

from models.engines.llama.engine import LlamaEngine
from models.engines.llama.runtime import llama_cpp
from models.files.gguf import read_header
from models.settings import ModelSpec
from tests.support.hostile_gguf import rewrite


def loaded(path) -> LlamaEngine:
    engine = LlamaEngine(ModelSpec(source=str(path), n_ctx=256))
    engine.load()
    return engine


def digest_of_loaded_texts(engine: LlamaEngine) -> tuple[int, str]:
    """What GGUF stores for the texts llama.cpp loaded: each as a u64 length and its bytes."""
    lib = llama_cpp()
    vocab = engine._llama._model.vocab
    texts = [lib.llama_vocab_get_text(vocab, i) or b"" for i in range(lib.llama_vocab_n_tokens(vocab))]
    return len(texts), hashlib.sha256(b"".join(struct.pack("<Q", len(t)) + t for t in texts)).hexdigest()


def test_the_header_names_the_vocabulary_llama_cpp_loaded(chat_path, base_path):
    for path in (chat_path, base_path):
        engine = loaded(path)
        try:
            size, digest = digest_of_loaded_texts(engine)
            assert read_header(path).vocabulary == (size, digest)
            assert (engine.vocabulary().size, engine.vocabulary().digest) == (size, "gguf:" + digest)
        finally:
            engine.close()


def test_two_files_share_a_vocabulary_only_when_their_token_texts_are_the_same(chat_path, base_path, tmp_path):
    texts = [str(t) for t in read_texts(chat_path)]
    texts[1000], texts[1001] = texts[1001], texts[1000]  # the same texts under other ids
    swapped = rewrite(
        chat_path,
        tmp_path / "swapped.gguf",
        {"tokenizer.ggml.tokens": (texts, GGUFValueType.ARRAY, GGUFValueType.STRING)},
    )
    copy = shutil.copyfile(chat_path, tmp_path / "copy.gguf")
    engines = {
        name: loaded(p) for name, p in (("chat", chat_path), ("copy", copy), ("swapped", swapped), ("base", base_path))
    }
    try:
        vocab = {name: engine.vocabulary() for name, engine in engines.items()}
        assert vocab["copy"] == vocab["chat"]
        assert vocab["swapped"] != vocab["chat"] and vocab["swapped"].size == vocab["chat"].size
        assert vocab["base"] != vocab["chat"]
    finally:
        for engine in engines.values():
            engine.close()


def read_texts(path) -> list:
    return list(GGUFReader(path).fields["tokenizer.ggml.tokens"].contents())
