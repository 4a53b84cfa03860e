"""Duet's panes against bare llama-cpp-python on one model file, on whatever device it loads to.

    python -m benchmarks.gpu_speed MODEL.gguf [--repeats 5] [--max-tokens 128] [--json OUT]

Made for the GPU check (benchmarks/gpu_check.sh) with a random-weight Llama file, where what is
measured is Duet's own overhead around llama.cpp, not answer quality:

- each pane's decode tokens/s against a bare `Llama` of the same file answering the same prompt,
  turns interleaved (target >= 0.97);
- both panes answering at once against the two bare models answering one after the other
  (wall time; above 1 means the two panes gain from running together).

Every model is loaded with every layer offloaded (Duet's panes with no plan, the bare ones with
n_gpu_layers=-1, as a script without Duet would) and the same thread count, so both sides run
alike on the same device.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from functools import partial
from pathlib import Path

from benchmarks.bare import bare_llama, bare_stream
from benchmarks.stats import decode_rate, interleave, median, ratio
from models.events import Event, TextDelta
from models.session import PaneSession
from models.settings import ModelSpec, SamplingSettings, default_threads_per_model

PROMPT = "The history of the river begins"


def _timed_answer(session: PaneSession) -> tuple[float, int]:
    """One cold raw answer of the pane: its decode tokens/s (from the streamed pieces) and tokens."""
    session.clear()
    times: list[float] = []

    def sink(event: Event) -> None:
        if isinstance(event, TextDelta):
            times.append(time.perf_counter())

    turn = session.send(PROMPT, sink).result(timeout=600)
    if turn.error:
        raise RuntimeError(f"{session.role} pane: {turn.error}")
    return decode_rate(times), turn.metrics.tokens


def _duet_rate(pane: PaneSession) -> float:
    return _timed_answer(pane)[0]


def _bare_rate(bare, sampling: SamplingSettings) -> float:
    return decode_rate(bare_stream(bare, PROMPT, sampling)["times"])


def measure(path: Path, repeats: int, max_tokens: int) -> dict:
    sampling, threads = SamplingSettings(max_tokens=max_tokens), default_threads_per_model()
    # the same thread count on both sides: a lone Duet pane would otherwise take every core, which on
    # a 2-core CPU with a tiny model is slower than one thread (ggml's threads spin-wait for each other)
    spec = ModelSpec(source=str(path), n_threads=threads)
    panes = [PaneSession(role, spec, "raw", sampling) for role in ("base", "chat")]
    for pane in panes:
        pane.load().result(timeout=600)
    bares = [bare_llama(path, threads) for _ in panes]
    try:
        per_pane = {}
        for pane, bare in zip(panes, bares):
            duet, plain = interleave(repeats, partial(_duet_rate, pane), partial(_bare_rate, bare, sampling))
            per_pane[pane.role] = {
                "duet_tok_s": median(duet),
                "bare_tok_s": median(plain),
                "ratio": ratio(median(duet), median(plain)),
                "samples": {"duet": duet, "bare": plain},
            }
        together, apart = interleave(
            repeats, lambda: _both_at_once(panes), lambda: _one_after_the_other(bares, sampling)
        )
        placement = [p.info.placement if p.info else None for p in panes]
    finally:
        for pane in panes:
            pane.close()
        for bare in bares:
            bare.close()
    return {
        "model": path.name,
        "max_tokens": max_tokens,
        "placement": placement,
        "panes": per_pane,
        "two_panes_at_once_s": median(together),
        "bare_one_after_the_other_s": median(apart),
        "two_panes_speedup": ratio(median(apart), median(together)),
    }


def _both_at_once(panes: list[PaneSession]) -> float:
    for pane in panes:
        pane.clear()
    started = time.perf_counter()
    futures = [pane.send(PROMPT) for pane in panes]
    for future in futures:
        future.result(timeout=600)
    return time.perf_counter() - started


def _one_after_the_other(bares, sampling: SamplingSettings) -> float:
    started = time.perf_counter()
    for bare in bares:
        bare_stream(bare, PROMPT, sampling)
    return time.perf_counter() - started


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.gpu_speed", description=__doc__.splitlines()[0])
    parser.add_argument("model", type=Path)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--max-tokens", type=int, default=128)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    result = measure(args.model, args.repeats, args.max_tokens)
    for role, pane in result["panes"].items():
        print(
            f"{role} pane: Duet {pane['duet_tok_s']:.1f} tok/s, bare {pane['bare_tok_s']:.1f} tok/s, ratio {pane['ratio']:.3f}"
        )
    print(
        f"two panes at once {result['two_panes_at_once_s']:.2f} s, bare one after the other "
        f"{result['bare_one_after_the_other_s']:.2f} s: {result['two_panes_speedup']:.2f}x; placement {result['placement']}"
    )
    if args.json:
        args.json.write_text(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
