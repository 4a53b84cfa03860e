"""The baseline: llama-cpp-python used directly, as a script without Duet would."""

from __future__ import annotations

import time

from models.settings import SamplingSettings


def bare_llama(path, n_threads: int, n_ctx: int = 2048):
    from models.engines.llama.runtime import llama_cpp

    return llama_cpp().Llama(
        model_path=str(path),
        n_ctx=n_ctx,
        n_batch=512,
        n_gpu_layers=-1,
        n_threads=n_threads,
        n_threads_batch=n_threads,
        verbose=False,
    )


def bare_stream(llama, prompt: str, sampling: SamplingSettings) -> dict:
    """One streamed completion: time to first token, arrival time of every chunk, finish reason."""
    llama.reset()  # a cold prompt each time, as Duet's engine gets for an unrelated prompt
    started = time.perf_counter()
    times, text, finish = [], "", None
    for chunk in llama.create_completion(
        prompt,
        max_tokens=sampling.max_tokens,
        temperature=sampling.temperature,
        top_k=sampling.top_k,
        top_p=sampling.top_p,
        min_p=sampling.min_p,
        repeat_penalty=sampling.repeat_penalty,
        seed=sampling.seed,
        stream=True,
    ):
        piece = chunk["choices"][0]["text"]
        if piece:  # the last chunk carries only the finish reason
            times.append(time.perf_counter())
        text += piece
        finish = chunk["choices"][0]["finish_reason"] or finish
    return {
        "ttft_s": times[0] - started if times else float("nan"),
        "times": times,
        "text": text,
        "finish": finish,
        "total_s": time.perf_counter() - started,
    }
