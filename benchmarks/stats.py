"""Small helpers shared by the figures: medians, percentiles, interleaved A/B runs, ratios."""

from __future__ import annotations

import math
import statistics
from collections.abc import Callable
from typing import TypeVar

from models.worker import on_own_thread

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
