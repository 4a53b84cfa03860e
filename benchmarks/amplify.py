"""Figure 15: an amplified pane's decode speed against a bare two-context lockstep loop written with
llama-cpp-python, in the same run; and the memory of the adapter case against one pane.

    python -m benchmarks.amplify [--quick] [--json FILE]

The pair is the embedded SmolLM2 135M and the same model with a rank-8 LoRA adapter written to a
temporary folder (tests/support/lora_gguf.py), at a = 2, greedy, from a chat-template prompt:

- duet: the amplified pane's engine (models/engines/llama/amplified.py): one model, two contexts,
  both fed every token, the rows combined, sampled, and its KL and raised tokens recorded per step;
  tokens per second as every pane reports it (first token to last).
- bare: the same arithmetic and nothing else, as a script would write it with llama-cpp-python:
  one ``Llama`` with its adapter set on its own context, a second context from
  ``llama_init_from_model``, ``llama_decode`` of each token in both, numpy argmax of
  ``t + a * (t - b)``, stopping at an end-of-generation token.

Both sides run on the same thread count, interleaved; the figure is the median duet rate over the
median bare rate (target >= 0.9). Memory: one process per side, after its answer, reads its own
resident set size (VmRSS, and the peak VmHWM): a plain pane on the tuned model with the adapter,
against the amplified pane on the same pair (the second context and its KV cache, no second copy
of the weights); the target is at most +15 %, after a one-line question (the figure) and, reported
beside it, after a prompt near the context's end (the base side's context grows with the
conversation, so a long one pays its whole KV cache).
"""

from __future__ import annotations

import argparse
import ctypes
import json
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from benchmarks.stats import decode_rate, figure_result, interleave, median, ratio
from models.threads import available_cores

MODEL = "embedded:smollm2-135m-instruct"
PROMPT = "Write a short story about a lighthouse keeper."
FACTOR = 2.0
SPEED_TARGET = 0.9
MEMORY_TARGET = 1.15


def _adapter(folder: str) -> str:
    from tests.support.lora_gguf import write_lora

    return str(write_lora(Path(folder) / "bench-lora.gguf"))


def _engine(adapter: str, threads: int, amplified: bool = True):
    from models.engines import make_engine
    from models.settings import AdapterSpec, AmplifySpec, ModelSpec

    spec = ModelSpec(
        source=MODEL,
        n_threads=threads,
        adapters=(AdapterSpec(source=adapter),),
        amplify=AmplifySpec(base=MODEL, factor=FACTOR) if amplified else None,
    )
    engine = make_engine(spec)
    engine.load()
    return engine


def duet_rate(engine, tokens: int) -> float:
    from models.events import Finished
    from models.prompts import get_mode
    from models.settings import SamplingSettings

    sampling = SamplingSettings(max_tokens=tokens)
    prompt = engine.render(get_mode("chat"), PROMPT, [], sampling)
    engine._forget()  # a cold prompt, as the bare side gets
    finished = list(engine.stream(prompt, sampling, threading.Event()))[-1]
    if not isinstance(finished, Finished) or finished.error:
        raise RuntimeError(f"the amplified pane failed: {finished}")
    return finished.metrics.tokens_per_s


class BareLockstep:
    """The bare loop: one Llama with the adapter on its context, a second context without it."""

    def __init__(self, adapter: str, threads: int, prompt: list[int]) -> None:
        from benchmarks.bare import bare_llama
        from models.engines.llama.runtime import llama_cpp
        from models.files.embedded import embedded_path

        self.lib = llama_cpp().llama_cpp
        self.llama = bare_llama(embedded_path(MODEL.removeprefix("embedded:")), threads)
        self.lora = self.lib.llama_adapter_lora_init(self.llama.model, adapter.encode())
        array = (self.lib.llama_adapter_lora_p_ctypes * 1)(self.lora)
        scales = (ctypes.c_float * 1)(1.0)
        self.lib.llama_set_adapters_lora(self.llama.ctx, array, 1, scales)
        self.other = self.lib.llama_init_from_model(self.llama.model, self.llama.context_params)
        self.lib.llama_set_n_threads(self.other, threads, threads)
        self.batch = self.lib.llama_batch_init(512, 0, 1)
        self.prompt = prompt

    def _decode(self, tokens: list[int], pos: int) -> None:
        batch = self.batch
        for i, token in enumerate(tokens):
            batch.token[i], batch.pos[i], batch.n_seq_id[i] = token, pos + i, 1
            batch.seq_id[i][0] = 0
            batch.logits[i] = i == len(tokens) - 1
        batch.n_tokens = len(tokens)
        for ctx in (self.llama.ctx, self.other):
            if self.lib.llama_decode(ctx, batch) != 0:
                raise RuntimeError("llama_decode failed")

    def rate(self, tokens: int) -> float:
        import numpy as np

        lib, n_vocab = self.lib, self.llama.n_vocab()
        vocab = self.llama._model.vocab
        for ctx in (self.llama.ctx, self.other):
            lib.llama_memory_clear(lib.llama_get_memory(ctx), True)
        self._decode(self.prompt, 0)
        pos, times = len(self.prompt), []
        self.tokens: list[int] = []
        for _ in range(tokens):
            t = np.ctypeslib.as_array(lib.llama_get_logits_ith(self.llama.ctx, -1), shape=(n_vocab,))
            b = np.ctypeslib.as_array(lib.llama_get_logits_ith(self.other, -1), shape=(n_vocab,))
            token = int(np.argmax((1.0 + FACTOR) * t - FACTOR * b))  # the engine's arithmetic (mix.combine)
            times.append(time.perf_counter())
            self.tokens.append(token)
            if lib.llama_vocab_is_eog(vocab, token):
                break
            self._decode([token], pos)
            pos += 1
        return decode_rate(times)

    def close(self) -> None:
        self.lib.llama_batch_free(self.batch)
        self.lib.llama_free(self.other)
        self.lib.llama_set_adapters_lora(self.llama.ctx, None, 0, None)
        self.lib.llama_adapter_lora_free(self.lora)
        self.llama.close()


def speed(adapter: str, repeats: int, tokens: int, threads: int) -> dict:
    engine = _engine(adapter, threads)
    from models.prompts import get_mode
    from models.settings import SamplingSettings

    prompt = engine.render(get_mode("chat"), PROMPT, [], SamplingSettings(max_tokens=tokens))
    bare = BareLockstep(adapter, threads, list(prompt.tokens))
    try:
        duet_rates, bare_rates = interleave(repeats, lambda: duet_rate(engine, tokens), lambda: bare.rate(tokens))
    finally:
        bare.close()
        engine.close()
    return {"duet": median(duet_rates), "bare": median(bare_rates), "duet_all": duet_rates, "bare_all": bare_rates}


_CHILD = r"""
import json, sys, threading
sys.path.insert(0, sys.argv[4])
from benchmarks.amplify import _engine
from models.events import Finished
from models.prompts import get_mode
from models.settings import SamplingSettings

def status(field):
    for line in open("/proc/self/status"):
        if line.startswith(field + ":"):
            return int(line.split()[1]) * 1024

engine = _engine(sys.argv[2], int(sys.argv[3]), amplified=(sys.argv[1] == "amplified"))
sampling = SamplingSettings(max_tokens=64)
text = "Write a short story about a lighthouse keeper."
if sys.argv[5] == "full":  # a conversation near the context's end: the second KV cache at its largest
    text = " ".join(["The sea is wide and the ships on it are slow."] * 150) + " " + text
prompt = engine.render(get_mode("chat"), text, [], sampling)
finished = list(engine.stream(prompt, sampling, threading.Event()))[-1]
assert isinstance(finished, Finished) and finished.error is None, finished
print(json.dumps({"rss": status("VmRSS"), "peak": status("VmHWM")}))
"""


def memory(adapter: str, threads: int, length: str = "short") -> dict:
    """RSS after one answer: one plain pane on the tuned model, and the amplified pane. ``length``
    "short" is a one-line question; "full" a prompt of about 1,800 tokens, where the base side's
    context (it opens at 512 and doubles as the conversation grows) has reached its full size."""
    root = str(Path(__file__).resolve().parent.parent)
    found = {}
    for side in ("pane", "amplified"):
        out = subprocess.run(
            [sys.executable, "-c", _CHILD, side, adapter, str(threads), root, length],
            capture_output=True,
            text=True,
            timeout=600,
            check=True,
        )
        found[side] = json.loads(out.stdout.strip().splitlines()[-1])
    return found


def figure(quick: bool) -> dict:
    threads = available_cores()
    with tempfile.TemporaryDirectory(prefix="duet-amplify-") as folder:
        adapter = _adapter(folder)
        rates = speed(adapter, 2 if quick else 5, 48 if quick else 128, threads)
        rss = memory(adapter, threads)
        full = memory(adapter, threads, "full")
    value = ratio(rates["duet"], rates["bare"])
    growth = rss["amplified"]["rss"] / rss["pane"]["rss"]
    return figure_result(
        "15. amplified pane tok/s vs bare two-context lockstep (adapter pair, a=2)",
        round(rates["duet"], 2),
        round(rates["bare"], 2),
        round(value, 3),
        f">= {SPEED_TARGET} (memory <= +{(MEMORY_TARGET - 1) * 100:.0f}% RSS)",
        value >= SPEED_TARGET and growth <= MEMORY_TARGET,
        "tok/s",
        threads=threads,
        duet_rates=[round(r, 2) for r in rates["duet_all"]],
        bare_rates=[round(r, 2) for r in rates["bare_all"]],
        rss_one_pane_mib=round(rss["pane"]["rss"] / 2**20, 1),
        rss_amplified_mib=round(rss["amplified"]["rss"] / 2**20, 1),
        rss_growth=round(growth, 3),
        peak_one_pane_mib=round(rss["pane"]["peak"] / 2**20, 1),
        peak_amplified_mib=round(rss["amplified"]["peak"] / 2**20, 1),
        full_context_rss_one_pane_mib=round(full["pane"]["rss"] / 2**20, 1),
        full_context_rss_amplified_mib=round(full["amplified"]["rss"] / 2**20, 1),
        full_context_rss_growth=round(full["amplified"]["rss"] / full["pane"]["rss"], 3),
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.amplify", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--json", metavar="FILE")
    args = parser.parse_args(argv)
    result = figure(args.quick)
    print(json.dumps(result, indent=2))
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
