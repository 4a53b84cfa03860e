"""Stop strings in a streamed answer: where one ends it, and which tail must wait before it is shown.

A stop string can arrive split over several tokens, so the last characters that could still
become one are held back until the next token says whether they did.
"""

from __future__ import annotations


def find_stop(text: str, stops: tuple[str, ...], emitted: int) -> int | None:
    """Index of the earliest stop string in the not-yet-emitted tail of ``text``."""
    if not stops:
        return None
    window_start = max(0, emitted - max(len(s) for s in stops))
    hits = [i for s in stops if (i := text.find(s, window_start)) != -1]
    return min(hits) if hits else None


def held_back(text: str, stops: tuple[str, ...]) -> int:
    """How many trailing characters could still become a stop string, so must not be shown yet."""
    longest = 0
    for stop in stops:
        for n in range(min(len(stop) - 1, len(text)), longest, -1):
            if text.endswith(stop[:n]):
                longest = n
                break
    return longest
