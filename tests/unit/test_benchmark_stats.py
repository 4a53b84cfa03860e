"""The benchmarks' arithmetic and table, on made-up numbers."""

from benchmarks.stats import decode_rate, interleave, median, percentile, ratio


def test_stats_helpers():
    assert median([3.0, 1.0, 2.0]) == 2.0
    assert percentile(list(range(1, 101)), 95) == 95
    assert percentile([5.0], 50) == 5.0
    assert ratio(1.0, 2.0) == 0.5
    assert decode_rate([0.0, 0.5, 1.0]) == 2.0 and decode_rate([1.0]) == 0.0
    order = []
    a, b = interleave(4, lambda: order.append("a") or 1.0, lambda: order.append("b") or 2.0)
    assert a == [1.0] * 4 and b == [2.0] * 4
    assert order == ["a", "b", "b", "a", "a", "b", "b", "a"]  # neither side always goes first
