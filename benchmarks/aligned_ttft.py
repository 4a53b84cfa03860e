"""Figure 11: time to first token of a short question in aligned mode, prefix cached vs cold, against
raw mode and bare llama-cpp-python, on each embedded model.

Aligned mode puts a ~650-token header and worked examples before every message
(models/aligned/). Evaluated cold, they are most of the time to first token; cached
(models/engines/llama/prefix_cache.py), an answer starts from their saved state and only the
question and the answer marker are evaluated. Per model, interleaved, on the same loaded model:

- duet aligned, cached: the prefix saved and copied back beforehand, as the session does after
  load and after every answer (the user is typing meanwhile);
- duet aligned, cold: nothing saved; the prefix is evaluated, saved and copied back first;
- duet raw: the question alone, from an empty cache;
- bare: llama-cpp-python's create_completion on the question alone (a fresh model of its own),
  the baseline of the ratio; and bare on the whole aligned prompt, what a script without a
  cache pays every time.

The figure is the worse model's cached TTFT over its bare raw TTFT (target: <= 1.5).
"""

from __future__ import annotations

import sys
import threading
import time

from benchmarks.bare import bare_llama
from benchmarks.stats import figure_result, median, ratio
from models.engines.llama import kv_state
from models.engines.llama.engine import LlamaEngine
from models.events import Finished
from models.files.embedded import embedded_path
from models.prompts import RAW, get_mode
from models.settings import ModelSpec, SamplingSettings, default_threads_per_model
from models.worker import on_own_thread

QUESTION = "What is the capital of France?"
MODELS = ("gemma-3-270m", "smollm2-135m-instruct")
TARGET = 1.5


def _ttft(engine: LlamaEngine, mode_name: str, sampling: SamplingSettings) -> float:
    mode = RAW if mode_name == "raw" else get_mode(mode_name)
    rendered = engine.render(mode, QUESTION, [], sampling)
    finished = list(engine.stream(rendered, sampling, threading.Event()))[-1]
    assert isinstance(finished, Finished) and finished.error is None, finished
    return finished.metrics.ttft_s


def _bare_ttft(llama, prompt: str, sampling: SamplingSettings) -> float:
    """llama-cpp-python's own time to its first streamed chunk, from an empty cache (a model that
    ends at once, as SmolLM2 may on a raw question, still sends one chunk: its finish reason)."""
    llama.reset()
    started = time.perf_counter()
    stream = llama.create_completion(
        prompt, max_tokens=sampling.max_tokens, temperature=sampling.temperature, seed=sampling.seed, stream=True
    )
    for _chunk in stream:
        first = time.perf_counter() - started
        break
    else:
        raise RuntimeError("llama-cpp-python streamed nothing")
    for _chunk in stream:  # finish the completion, as an answer would
        pass
    return first


def _duet_side(engine: LlamaEngine, side: str, sampling: SamplingSettings) -> float:
    """One answer's TTFT for ``side`` (cached, cold or raw), the cache set up for it first."""
    llama = engine._require()
    aligned = get_mode("aligned")
    if side == "cached":
        engine.warm(aligned)  # saved on the first call; copied back (milliseconds) after that
        return _ttft(engine, "aligned", sampling)
    engine._prefix.forget()
    kv_state.forget(llama)
    return _ttft(engine, "aligned" if side == "cold" else "raw", sampling)


def measure_model(name: str, repeats: int, threads: int) -> dict:
    """The five TTFTs (medians, seconds) for one embedded model."""
    sampling = SamplingSettings(max_tokens=4)
    engine = LlamaEngine(ModelSpec(source=f"embedded:{name}", n_threads=threads))
    engine.load()
    aligned_prompt = engine.render(get_mode("aligned"), QUESTION, [], sampling)
    bare = bare_llama(embedded_path(name), threads)
    samples: dict[str, list[float]] = {k: [] for k in ("cached", "cold", "raw", "bare_raw", "bare_aligned")}
    try:
        prefix_tokens = engine.warm(get_mode("aligned"))  # the header and examples, evaluated
        for i in range(repeats):
            order = ["cached", "cold", "raw", "bare_raw", "bare_aligned"]
            for side in order if i % 2 == 0 else reversed(order):  # drift hits every side alike
                if side.startswith("bare"):
                    prompt = QUESTION if side == "bare_raw" else aligned_prompt.text
                    samples[side].append(_bare_ttft(bare, prompt, sampling))
                else:
                    samples[side].append(_duet_side(engine, side, sampling))
    finally:
        engine.close()
        bare.close()
    result: dict = {k: median(v) for k, v in samples.items()}
    result["prefix_tokens"] = prefix_tokens
    result["prompt_tokens"] = aligned_prompt.token_count
    result["samples"] = samples
    return result


def aligned_first_token(repeats: int, models: tuple[str, ...] = MODELS) -> dict:
    threads = default_threads_per_model()
    per_model = {name: measure_model(name, repeats, threads) for name in models}
    ratios = {name: ratio(m["cached"], m["bare_raw"]) for name, m in per_model.items()}
    worst = max(ratios, key=lambda name: ratios[name])
    ms = {
        name: {
            k: round(v * 1000, 1) for k, v in m.items() if k in ("cached", "cold", "raw", "bare_raw", "bare_aligned")
        }
        for name, m in per_model.items()
    }
    return figure_result(
        "11. aligned mode: TTFT of a short question, prefix cached, vs bare raw",
        per_model[worst]["cached"] * 1000,
        per_model[worst]["bare_raw"] * 1000,
        ratios[worst],
        f"<= {TARGET} each",
        all(r <= TARGET for r in ratios.values()),
        "ms",
        question=QUESTION,
        threads=threads,
        ttft_ms=ms,
        cached_vs_bare_raw=ratios,
        cached_vs_duet_raw={name: ratio(m["cached"], m["raw"]) for name, m in per_model.items()},
        cold_vs_cached={name: ratio(m["cold"], m["cached"]) for name, m in per_model.items()},
        prefix_tokens={name: m["prefix_tokens"] for name, m in per_model.items()},
        prompt_tokens={name: m["prompt_tokens"] for name, m in per_model.items()},
        samples={name: m["samples"] for name, m in per_model.items()},
    )


def timed_figure(quick: bool) -> dict:
    """The figure as `python -m benchmarks` runs it, with its elapsed time like the others."""
    started = time.perf_counter()
    # On a thread that ends with the figure: its decodes run here, not on a pane's worker, and the
    # OpenMP team they start must not outlive it (models/worker.py on_own_thread).
    result = on_own_thread(lambda: aligned_first_token(3 if quick else 7))
    result["elapsed_s"] = round(time.perf_counter() - started, 1)
    print(f"  done: {result['figure']} ({result['elapsed_s']} s)", file=sys.stderr, flush=True)
    return result
