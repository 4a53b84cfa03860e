"""What the lesson layout's aligned pane costs: a second pane on the same model file, in aligned mode.

    python -m benchmarks.lesson_memory [--model SOURCE ...] [--json FILE]

Per model: opens one pane (raw mode) and lets it answer, reads this process's proportional set
size (PSS, /proc/self/smaps_rollup: a page mapped twice counts once in all, where RSS counts it
twice), then opens a second pane on the same file in aligned mode, lets it warm its prefix and
answer, and reads PSS again. llama.cpp maps the weights from the file, so the second pane shares
those pages and pays for its own KV cache, compute buffers and the saved prefix state
(models/engines/llama/prefix_cache.py). Each model is measured in a fresh process, so the first
one's freed memory does not hide the second one's. Linux only (smaps_rollup).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

MODELS = ("embedded:gemma-3-270m", "embedded:smollm2-135m-instruct")
QUESTION = "What is the capital of France?"
MIB = 1024 * 1024


def _open(role: str, source: str, mode: str):
    from models.session import PaneSession
    from models.settings import ModelSpec, SamplingSettings

    session = PaneSession(role, ModelSpec(source=source), mode, SamplingSettings(max_tokens=16))
    session.load().result(timeout=300)
    session.warm().result(timeout=300)  # aligned: the prefix evaluated and saved (raw: nothing)
    turn = session.send(QUESTION).result(timeout=300)
    if turn.error:
        raise SystemExit(f"{role} pane: {turn.error}")
    session.warm().result(timeout=300)  # aligned: the saved prefix copied back, as after every answer
    return session


def measure(source: str) -> dict:
    from benchmarks.adapter_memory import pss

    start = pss()
    first = _open("base", source, "raw")
    one = pss()
    second = _open("aligned", source, "aligned")
    two = pss()
    engine = second._engine
    saved = engine._prefix._saved if engine is not None else None
    try:
        return {
            "model": source,
            "model_file": first.info.path,
            "model_file_bytes": Path(first.info.path).stat().st_size,
            "same_file_in_both_panes": first.info.path == second.info.path,
            "n_ctx": first.info.n_ctx,
            "pss_before": start,
            "pss_one_pane": one,
            "pss_two_panes": two,
            "first_pane_pss_bytes": one["Pss"] - start["Pss"],
            "second_pane_pss_bytes": two["Pss"] - one["Pss"],
            "second_pane_rss_bytes": two["Rss"] - one["Rss"],
            "saved_prefix_bytes": len(saved.cells) if saved is not None else 0,
            "saved_prefix_tokens": len(saved.tokens) if saved is not None else 0,
        }
    finally:
        first.close()
        second.close()


def report(r: dict) -> str:
    def mib(n: int) -> str:
        return f"{n / MIB:.1f} MiB"

    return "\n".join(
        [
            f"{r['model']}: {r['model_file']} ({mib(r['model_file_bytes'])}), n_ctx {r['n_ctx']}",
            f"  first pane (raw)       PSS +{mib(r['first_pane_pss_bytes'])}",
            f"  second pane (aligned)  PSS +{mib(r['second_pane_pss_bytes'])}, RSS +{mib(r['second_pane_rss_bytes'])}"
            f" (same file: {r['same_file_in_both_panes']}; of it the saved prefix {mib(r['saved_prefix_bytes'])}"
            f" for {r['saved_prefix_tokens']} tokens)",
        ]
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.lesson_memory", description=__doc__.split("\n")[0])
    parser.add_argument("--model", action="append", default=None, help="a model source (default: both embedded)")
    parser.add_argument("--json", default=None, metavar="FILE", help="also write the figures as JSON")
    parser.add_argument("--one", default=None, help=argparse.SUPPRESS)  # the child process for one model
    args = parser.parse_args(argv)
    if args.one:
        print(json.dumps(measure(args.one)))
        return 0
    results = []
    for source in args.model or MODELS:
        child = subprocess.run(
            [sys.executable, "-m", "benchmarks.lesson_memory", "--one", source],
            capture_output=True,
            text=True,
            check=True,
        )
        results.append(json.loads(child.stdout.strip().splitlines()[-1]))
        print(report(results[-1]), flush=True)
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
