"""The memory, disk and time a fine-tune is estimated to need, from the model's header."""

import pytest

from models.files.embedded import embedded_path
from models.files.gguf import read_header
from models.files.gguf_header import GGUFHeader, TensorInfo
from models.tuning import estimate


def _header(n_layer=2, n_embd=8, n_ff=16, vocab=100) -> GGUFHeader:
    tensors = [
        TensorInfo("token_embd.weight", vocab * n_embd, 0, 0, None),
        TensorInfo("output_norm.weight", n_embd, 0, 0, None),
    ]
    for i in range(n_layer):
        tensors += [
            TensorInfo(f"blk.{i}.attn_q.weight", n_embd * n_embd, 0, 0, None),
            TensorInfo(f"blk.{i}.ffn_up.weight", n_embd * n_ff, 0, 0, None),
        ]
    metadata = {
        "general.architecture": "llama",
        "llama.block_count": n_layer,
        "llama.embedding_length": n_embd,
        "llama.feed_forward_length": n_ff,
        "llama.attention.head_count": 2,
    }
    return GGUFHeader(path=None, version=3, metadata=metadata, tensors=tensors)  # type: ignore[arg-type]


def test_token_embeddings_are_never_counted_as_trained():
    counts = estimate.count_weights(_header(), None)
    assert counts.total == 100 * 8 + 8 + 2 * (64 + 128)
    assert counts.trainable == counts.total - 100 * 8
    assert (counts.n_layer, counts.n_embd, counts.n_ff, counts.n_head, counts.n_vocab) == (2, 8, 16, 2, 100)


def test_last_n_trains_the_last_blocks_and_the_output_after_them():
    assert estimate.count_weights(_header(), 1).trainable == 8 + 64 + 128
    assert estimate.trained("blk.29.ffn_up.weight", 30, 6)
    assert not estimate.trained("blk.23.ffn_up.weight", 30, 6)
    assert estimate.trained("output.weight", 30, 6) and estimate.trained("output_norm.weight", 30, 6)
    assert not estimate.trained("token_embd.weight", 30, None)
    assert not estimate.trained("rope_freqs.weight", 30, None)


def test_the_memory_is_f32_weights_plus_three_copies_of_what_is_trained_plus_activations():
    counts = estimate.count_weights(_header(), None)
    memory = estimate.training_memory(counts, 256, None)
    weights, optimizer = 4 * counts.total, 12 * counts.trainable
    activations = memory - weights - optimizer - estimate.RUNTIME_BYTES
    assert activations == 3 * 4 * 256 * 100 + 2 * 256 * (8 * 8 + 3 * 16 + 2 * 2 * 256) * (2 + 2)
    assert estimate.training_memory(counts, 512, None) > memory  # activations grow with the context
    assert estimate.training_memory(estimate.count_weights(_header(), 1), 256, 1) < memory


def test_the_smollm2_estimate_covers_the_measured_peaks_without_overstating_them():
    # Measured (issue 24): peak RSS 2.55 GB training all blocks at n_ctx 256, 1.25 GB for the last 6.
    header = read_header(embedded_path("smollm2-135m-instruct"))
    all_blocks = estimate.training_memory(estimate.count_weights(header, None), 256, None)
    last_six = estimate.training_memory(estimate.count_weights(header, 6), 256, 6)
    assert 2.55e9 <= all_blocks <= 1.15 * 2.55e9
    assert 1.25e9 <= last_six <= 1.15 * 1.25e9


def test_disk_is_two_f32_copies_and_the_output():
    counts = estimate.count_weights(_header(), None)
    assert estimate.disk_needed(counts, "f16") == int(8 * counts.total + 2.0 * counts.total * 1.02)
    assert (
        estimate.disk_needed(counts, "q4_k_m")
        < estimate.disk_needed(counts, "q8_0")
        < estimate.disk_needed(counts, "f16")
    )


def test_a_step_takes_longer_with_more_trained_weights_and_fewer_cores():
    header = read_header(embedded_path("smollm2-135m-instruct"))
    all_blocks, last_two = estimate.count_weights(header, None), estimate.count_weights(header, 2)
    assert estimate.seconds_per_step(all_blocks, 256, 2) > estimate.seconds_per_step(last_two, 256, 2)
    assert estimate.seconds_per_step(all_blocks, 256, 1) == pytest.approx(
        2 * estimate.seconds_per_step(all_blocks, 256, 2)
    )


def test_available_memory_is_known_on_linux():
    available = estimate.available_memory()
    assert available is None or available > 0
