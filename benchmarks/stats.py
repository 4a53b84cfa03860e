"""Small helpers shared by the figures: medians, percentiles, interleaved A/B runs, ratios."""

from __future__ import annotations

import math
import statistics
import threading
from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100)."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = max(1, min(len(ordered), math.ceil(q / 100 * len(ordered))))
    return ordered[rank - 1]


def on_own_thread(fn: Callable[[], T]) -> T:
    """``fn()`` on a thread that ends with it (its result returned, its exception raised here).

    Why: llama.cpp's OpenMP team belongs to the thread that first decoded with more than one
    thread, and lives as long as that thread. A bare side decoding on the benchmark's main thread
    would leave one behind for the rest of the run; once the process holds more OpenMP threads
    than cores, libgomp throttles its barrier spin and every later figure in this process decodes
    slower (Duet's panes avoid it the same way: models/worker.py). Measured 2026-12-07 on a 2-core
    Xeon: figure 18b's lens took 1.70 s after one two-thread decode on the main thread, 1.13 s
    without (bare, in its own process: 1.08-1.17 s)."""
    box: dict[str, Any] = {}

    def run() -> None:
        try:
            box["value"] = fn()
        except BaseException as err:  # raised again on the caller's thread
            box["error"] = err

    thread = threading.Thread(target=run, name="benchmark-sample")
    thread.start()
    thread.join()
    if "error" in box:
        raise box["error"]
    return box["value"]


def interleave(repeats: int, a: Callable[[], T], b: Callable[[], T]) -> tuple[list[T], list[T]]:
    """Run a, b, b, a, a, b... so drift on a noisy machine hits both sides alike; each run on a
    thread of its own (on_own_thread), so no run leaves an OpenMP team behind for the next."""
    got_a: list[T] = []
    got_b: list[T] = []
    for i in range(repeats):
        first, second = (a, b) if i % 2 == 0 else (b, a)
        x, y = on_own_thread(first), on_own_thread(second)
        if first is a:
            got_a.append(x)
            got_b.append(y)
        else:
            got_b.append(x)
            got_a.append(y)
    return got_a, got_b


def ratio(duet: float, bare: float) -> float:
    return duet / bare if bare else float("nan")


def decode_rate(token_times: list[float]) -> float:
    """Tokens per second from the arrival times of generated tokens, first to last."""
    if len(token_times) < 2 or token_times[-1] <= token_times[0]:
        return 0.0
    return (len(token_times) - 1) / (token_times[-1] - token_times[0])


def figure_result(name, duet, bare, value_ratio, target, ok, unit, **extra) -> dict:
    return {
        "figure": name,
        "duet": duet,
        "bare": bare,
        "ratio": value_ratio,
        "target": target,
        "pass": bool(ok),
        "unit": unit,
        **extra,
    }
