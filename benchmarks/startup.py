"""Figure 6: start-up until both models are loaded and the app is ready, and peak memory, each in a
fresh child process (the app as `duet` starts it, and bare llama-cpp-python loading the same pair)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

from benchmarks.stats import figure_result, interleave, median, ratio
from models.files.embedded import embedded_path

ROOT = Path(__file__).resolve().parent.parent


_CHILD_PRELUDE = """
import json, sys, time
t0 = float(sys.argv[1])

def peak_rss_kb():
    # VmHWM is this process's own peak; ru_maxrss would carry the parent's peak across fork+exec.
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    import resource
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
"""

_APP_STARTUP = (
    _CHILD_PRELUDE
    + """
from tui.cli.start_up import begin_start_up
begin_start_up()  # what the `duet` entry point does before its first import (tui/cli/entry.py)
import asyncio
from tui.cli.main import parse_arguments
from tui.cli.launch import build_app
async def main():
    app = build_app(parse_arguments([]))  # what `duet` with no arguments runs
    async with app.run_test(size=(120, 40)) as pilot:
        while not all(p.info for p in app.panes):
            await pilot.pause(0.005)
        ready = time.time() - t0
    print(json.dumps({"ready_s": ready, "rss_kb": peak_rss_kb()}))
asyncio.run(main())
"""
)

_BARE_STARTUP = (
    _CHILD_PRELUDE
    + """
from concurrent.futures import ThreadPoolExecutor
from models.files.embedded import embedded_path
from models.engines.llama.runtime import llama_cpp
paths = [embedded_path("gemma-3-270m"), embedded_path("smollm2-135m-instruct")]
def load(p):
    return llama_cpp().Llama(model_path=str(p), n_ctx=2048, n_threads=1, verbose=False)
with ThreadPoolExecutor(2) as pool:
    models = list(pool.map(load, paths))
print(json.dumps({"ready_s": time.time() - t0, "rss_kb": peak_rss_kb()}))
"""
)


def child_env(data_dir: str) -> dict[str, str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "DUET_DATA_DIR": data_dir, "HF_HUB_OFFLINE": "1"}
    # An installed duet imports its modules from byte-code that pip compiled; these children import
    # them from the source tree, so they must be allowed to cache it there too. Where the
    # environment forbids it (PYTHONDONTWRITEBYTECODE, set on some CI machines) every start
    # compiled ~130 modules again, 0.14 s of CPU before the loads, which no user pays.
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    return env


def _child(script: str, data_dir: str) -> dict:
    env = child_env(data_dir)
    t0 = time.time()
    out = subprocess.run(
        [sys.executable, "-c", script, repr(t0)], capture_output=True, text=True, env=env, check=True, timeout=120
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def startup(repeats: int, data_dir: str) -> dict:
    # One untimed start of each side first: byte-code cached, the files in the page cache.
    _child(_APP_STARTUP, data_dir)
    _child(_BARE_STARTUP, data_dir)
    duet_runs, bare_runs = interleave(
        repeats, lambda: _child(_APP_STARTUP, data_dir), lambda: _child(_BARE_STARTUP, data_dir)
    )
    d = median([r["ready_s"] for r in duet_runs])
    b = median([r["ready_s"] for r in bare_runs])
    gguf_bytes = sum(embedded_path(n).stat().st_size for n in ("gemma-3-270m", "smollm2-135m-instruct"))
    rss = median([r["rss_kb"] * 1024 for r in duet_runs])
    return figure_result(
        "6. start-up to both models loaded and the app ready",
        d,
        b,
        ratio(d, b),
        "<= 1.3x bare",
        ratio(d, b) <= 1.3,
        "s",
        peak_rss_bytes=rss,
        gguf_bytes=gguf_bytes,
        rss_over_gguf=rss / gguf_bytes,
        bare_peak_rss_bytes=median([r["rss_kb"] * 1024 for r in bare_runs]),
    )
