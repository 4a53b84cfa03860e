"""Figure 8: the token-shift lens scoring a 256-token answer on Gemma 3 (262k vocabulary), against
bare llama-cpp-python evaluating the same tokens with logits at every one of them.

Each side runs in a fresh child process, so its peak memory is its own: the child loads the model,
evaluates a short warm-up, resets its peak resident size (``/proc/self/clear_refs``), runs the
measured work and reports the time and how far its resident size rose above where it stood before.

- duet: `LlamaEngine.score` in its default, exact way: one answer token per decode, so rank 1 is
  what the model would itself have generated (models/engines/llama/scoring.py says why).
- bare: the same, without Duet: ``Llama.eval`` of the context, then one ``eval`` per answer token,
  copying each position's logits out (what a script that wants every position's logits without
  ``logits_all`` does).
- also measured: Duet's batched path (16 positions per decode, ``ScoreRequest.exact=False``) and
  bare ``Llama(logits_all=True)`` evaluating context and answer in 512-token batches, the fast but
  memory-hungry way (n_ctx x n_vocab floats).
"""

from __future__ import annotations

import json
import subprocess
import sys

from benchmarks.stats import figure_result, median, ratio

ANSWER_TOKENS = 256
CONTEXT = "Chapter 1. The history of the Roman Empire begins"
SIDES = ("duet", "bare", "duet_batched", "bare_logits_all")

_CHILD = r"""
import json, sys, time
side, tokens, context, threads = sys.argv[1], json.loads(sys.argv[2]), sys.argv[3], int(sys.argv[4])

def rss_kb(field="VmRSS"):
    for line in open("/proc/self/status"):
        if line.startswith(field + ":"):
            return int(line.split()[1])

from models.files.embedded import DEFAULT_BASE, embedded_path
if side.startswith("duet"):
    import threading
    from models.engines.llama.engine import LlamaEngine
    from models.lens.request import ScoreRequest
    from models.settings import ModelSpec
    engine = LlamaEngine(ModelSpec(source=DEFAULT_BASE, n_threads=threads))
    engine.load()
    engine.score(ScoreRequest(prompt=context, answer="", mode="raw", token_ids=()), threading.Event())
    answer = engine._require().detokenize(tokens).decode("utf-8", errors="replace")
    vocabulary = engine.vocabulary()
    request = ScoreRequest(prompt=context, answer=answer, mode="raw", token_ids=tuple(tokens),
                           vocabulary=vocabulary, answer_source=DEFAULT_BASE, exact=(side == "duet"))
    def work():
        return len(engine.score(request, threading.Event()).tokens)
else:
    import numpy as np
    from models.engines.llama.runtime import llama_cpp
    llama = llama_cpp().Llama(model_path=str(embedded_path(DEFAULT_BASE.removeprefix("embedded:"))), n_ctx=2048, n_batch=512,
                              n_threads=threads, n_threads_batch=threads, verbose=False,
                              logits_all=(side == "bare_logits_all"))
    ctx = llama.tokenize(context.encode(), add_bos=True)
    llama.eval(ctx[:4]); llama.reset()
    def work():
        llama.reset()
        if side == "bare_logits_all":
            llama.eval(ctx + tokens[:-1])
            rows = np.array(llama.scores[len(ctx) - 1 : len(ctx) + len(tokens) - 1])
            return len(rows)
        llama.eval(ctx)
        rows = [np.array(llama.scores[llama.n_tokens - 1])]
        for token in tokens[:-1]:
            llama.eval([token])
            rows.append(np.array(llama.scores[llama.n_tokens - 1]))
            rows = rows[-1:]  # keeps one row, as Duet's scorer does
        return len(tokens)
with open("/proc/self/clear_refs", "w") as fh:
    fh.write("5")  # reset the peak resident size to the current one
before = rss_kb()
started = time.perf_counter()
count = work()
elapsed = time.perf_counter() - started
print(json.dumps({"s": elapsed, "count": count, "extra_mb": (rss_kb("VmHWM") - before) / 1024}))
"""


def _answer_tokens(threads: int) -> list[int]:
    """A 256-token greedy continuation of CONTEXT by Gemma 3, the answer every side scores."""
    from benchmarks.bare import bare_llama
    from models.files.embedded import DEFAULT_BASE, embedded_path

    llama = bare_llama(embedded_path(DEFAULT_BASE.removeprefix("embedded:")), threads)
    ctx = llama.tokenize(CONTEXT.encode(), add_bos=True)
    out: list[int] = []
    for token in llama.generate(ctx, temp=0.0, repeat_penalty=1.0):
        out.append(token)
        if len(out) == ANSWER_TOKENS:
            break
    del llama
    return out


def _side(side: str, tokens: list[int], threads: int) -> dict:
    done = subprocess.run(
        [sys.executable, "-c", _CHILD, side, json.dumps(tokens), CONTEXT, str(threads)],
        capture_output=True,
        text=True,
        timeout=600,
        check=True,
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


def lens_scoring(repeats: int, threads: int) -> dict:
    tokens = _answer_tokens(threads)
    runs: dict[str, list[dict]] = {side: [] for side in SIDES}
    for _ in range(repeats):  # interleaved, so a slow moment of the machine hits every side
        for side in SIDES:
            runs[side].append(_side(side, tokens, threads))
    seconds = {side: median([r["s"] for r in runs[side]]) for side in SIDES}
    memory = {side: max(r["extra_mb"] for r in runs[side]) for side in SIDES}
    value = ratio(seconds["duet"], seconds["bare"])
    return figure_result(
        f"8. lens: score a {len(tokens)}-token Gemma 3 answer",
        seconds["duet"],
        seconds["bare"],
        value,
        "<= 1.3 (and <= 64 MB extra)",
        value <= 1.3 and memory["duet"] <= 64,
        "s",
        samples={side: [round(r["s"], 3) for r in runs[side]] for side in SIDES},
        peak_extra_mb={side: round(mb, 1) for side, mb in memory.items()},
        batched_s=round(seconds["duet_batched"], 3),
        bare_logits_all_s=round(seconds["bare_logits_all"], 3),
        batched_vs_logits_all=round(ratio(seconds["duet_batched"], seconds["bare_logits_all"]), 3),
    )
