"""The README's memory figure for a second pane on the same file (benchmarks/adapter_memory.py)
measures what it says: PSS from /proc/self/smaps_rollup, the weights' pages not mapped twice."""

from __future__ import annotations

import sys

import pytest

from benchmarks.adapter_memory import measure, pss, report
from tests.support.panes import SMOLLM2

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="smaps_rollup is Linux's")


def test_pss_reads_this_process():
    before = pss()
    block = bytearray(64 * 1024 * 1024)
    block[::4096] = b"x" * len(block[::4096])  # touch every page
    after = pss()
    assert set(before) == {"Rss", "Pss", "Pss_Anon", "Pss_File"}
    assert after["Pss_Anon"] - before["Pss_Anon"] >= 60 * 1024 * 1024
    del block


def test_the_second_pane_on_the_same_file_shares_its_weights(lora_adapter):
    result = measure(SMOLLM2, lora_adapter)
    assert result["same_file_in_both_panes"]
    file_pages = result["pss_two_panes"]["Pss_File"] - result["pss_one_pane"]["Pss_File"]
    assert file_pages < result["model_file_bytes"] // 4  # the weights are read from the same pages
    assert 0 < result["second_pane_pss_bytes"] < result["first_pane_pss_bytes"]
    assert len(result["scale_change_ms"]) == 10 and all(t > 0 for t in result["scale_change_ms"])
    assert "second pane     PSS +" in report(result)
