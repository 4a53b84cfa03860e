"""What the second pane costs when it runs the same base file as the first, with a LoRA adapter.

    python -m benchmarks.adapter_memory [--model SOURCE] [--adapter FILE.gguf] [--json FILE]

Opens one pane on the model and lets it answer, reads this process's proportional set size (PSS,
/proc/self/smaps_rollup: every page counted once, a page shared by two mappings half in each), then
opens a second pane on the same file with the adapter, lets it answer too, and reads PSS again.
The difference is what the second pane costs: llama.cpp maps the weights from the file (mmap), so
both panes read the same pages and the second pays only for its KV cache, compute buffers and the
adapter's tensors. Then it changes the adapter's scale live a few times and reports how long a
change takes (LoRA set, KV cache forgotten; the re-warm of the prefix is its own job after it).

Without --adapter a rank-8 adapter for SmolLM2 135M is written to a temporary folder
(tests/support/lora_gguf.py). Linux only (smaps_rollup).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

PROMPT = "The capital of France is"
MIB = 1024 * 1024


def pss() -> dict[str, int]:
    """This process's Pss, Pss_Anon and Pss_File in bytes, from /proc/self/smaps_rollup."""
    values = {}
    for line in Path("/proc/self/smaps_rollup").read_text().splitlines():
        key, _, rest = line.partition(":")
        if key in ("Pss", "Pss_Anon", "Pss_File", "Rss"):
            values[key] = int(rest.split()[0]) * 1024
    return values


def _open(role: str, source: str, adapters=()):
    from models.session import PaneSession
    from models.settings import ModelSpec, SamplingSettings

    session = PaneSession(role, ModelSpec(source=source, adapters=adapters), "raw", SamplingSettings(max_tokens=16))
    session.load().result(timeout=300)
    turn = session.send(PROMPT).result(timeout=300)
    if turn.error:
        raise SystemExit(f"{role} pane: {turn.error}")
    return session


def _scale_changes(session, count: int = 10) -> list[float]:
    """Seconds each live scale change took (alternating 0.5 and 1.0; the re-warm is waited for between)."""
    times = []
    first = session.spec.adapters[0]
    for i in range(count):
        scale = 0.5 if i % 2 == 0 else 1.0
        times.append(session.set_adapters((first.model_copy(update={"scale": scale}),)).result(timeout=60))
        session.warming.result(timeout=60)
    return times


def measure(model: str, adapter: str) -> dict:
    from models.settings import AdapterSpec

    start = pss()
    plain = _open("base", model)
    one = pss()
    tuned = _open("chat", model, (AdapterSpec(source=adapter, scale=1.0),))
    two = pss()
    try:
        same_file = plain.info.path == tuned.info.path
        changes = _scale_changes(tuned)
    finally:
        plain.close()
        tuned.close()
    return {
        "model": model,
        "model_file": plain.info.path,
        "model_file_bytes": Path(plain.info.path).stat().st_size,
        "adapter": adapter,
        "adapter_bytes": Path(adapter).stat().st_size,
        "same_file_in_both_panes": same_file,
        "n_ctx": plain.info.n_ctx,
        "pss_before": start,
        "pss_one_pane": one,
        "pss_two_panes": two,
        "first_pane_pss_bytes": one["Pss"] - start["Pss"],
        "second_pane_pss_bytes": two["Pss"] - one["Pss"],
        "scale_change_ms": [round(t * 1000, 3) for t in changes],
        "scale_change_median_ms": round(statistics.median(changes) * 1000, 3),
    }


def report(r: dict) -> str:
    def mib(n: int) -> str:
        return f"{n / MIB:.1f} MiB"

    return "\n".join(
        [
            f"model file      {r['model_file']} ({mib(r['model_file_bytes'])}), n_ctx {r['n_ctx']}",
            f"adapter         {r['adapter']} ({mib(r['adapter_bytes'])})",
            f"first pane      PSS +{mib(r['first_pane_pss_bytes'])}",
            f"second pane     PSS +{mib(r['second_pane_pss_bytes'])} (same file: {r['same_file_in_both_panes']};"
            f" anon +{mib(r['pss_two_panes']['Pss_Anon'] - r['pss_one_pane']['Pss_Anon'])},"
            f" file +{mib(r['pss_two_panes']['Pss_File'] - r['pss_one_pane']['Pss_File'])})",
            f"scale change    median {r['scale_change_median_ms']:.2f} ms"
            f" (max {max(r['scale_change_ms']):.2f} ms over {len(r['scale_change_ms'])})",
        ]
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.adapter_memory", description=__doc__.split("\n")[0])
    parser.add_argument("--model", default="embedded:smollm2-135m-instruct", help="the base model, in both panes")
    parser.add_argument("--adapter", default=None, help="a LoRA adapter .gguf for that model (default: a test one)")
    parser.add_argument("--json", default=None, metavar="FILE", help="also write the figures as JSON")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as folder:
        adapter = args.adapter
        if adapter is None:
            from tests.support.lora_gguf import write_lora

            adapter = str(write_lora(Path(folder) / "demo-lora.gguf"))
        result = measure(args.model, adapter)
    print(report(result))
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
