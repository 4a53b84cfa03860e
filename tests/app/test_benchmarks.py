"""The benchmarks measure what they claim (tiny runs; no timing assertions)."""

import json
import os
import threading
import time

import pytest

from benchmarks import figures, stats
from benchmarks.__main__ import machine, table


def test_engine_figure_compares_equal_work():
    result = figures.engine_overhead(repeats=2, max_tokens=8)
    assert result["tokens"] == {"duet": [8], "bare": [8]}  # the same number of tokens on both sides
    assert result["duet"] > 0 and result["bare"] > 0
    assert len(result["samples"]["duet"]) == len(result["samples"]["bare"]) == 2
    assert result["ratio"] == pytest.approx(result["duet"] / result["bare"])


def test_long_answer_figure_appends_to_a_real_pane():
    result = figures.long_answer(appends=3)
    assert result["unit"] == "ms/append" and result["duet"] > 0 and result["bare"] > 0
    assert result["ratio"] == pytest.approx(result["duet"] / result["bare"])


def test_uneven_answers_really_are_uneven(tmp_path):
    # The scenario that decides the default split: the chat pane stops on its own, the base pane
    # runs to the token limit, and each split is measured in its own app.
    result = figures.uneven_answers(repeats=2, max_tokens=48, data_dir=str(tmp_path), splits=[(None, None), (1, 1)])
    assert set(result) == {"auto", "1+1"}
    for split in result.values():
        assert split["tokens"]["base"] == 48
        assert 0 < split["tokens"]["chat"] < 48
        assert len(split["samples"]) == 2 and split["wall_s"] == figures.median(split["samples"]) > 0


def test_app_figure_streams_into_the_real_app(tmp_path):
    result = figures.app_overhead(repeats=2, max_tokens=8, data_dir=str(tmp_path))
    assert len(result["samples"]["duet"]) == len(result["samples"]["bare"]) == 2
    assert all(rate > 0 for side in result["samples"].values() for rate in side)
    assert result["ratio"] == pytest.approx(result["duet"] / result["bare"])


def test_two_pane_figure_times_both_answers_and_reports_both_ttfts(tmp_path):
    result = figures.two_panes(repeats=1, max_tokens=8, data_dir=str(tmp_path), splits=[(None, None), (1, 1)])
    assert set(result["splits"]) == {"auto", "1+1"} and result["default_split"] == "auto"
    auto = result["splits"]["auto"]
    assert result["duet"] == auto["wall_s"] > 0 and result["bare"] == auto["bare_sequential_s"] > 0
    assert result["ratio"] == pytest.approx(auto["wall_s"] / auto["bare_sequential_s"])
    assert all(ttft > 0 for ttft in result["ttft_s"].values()) and set(result["ttft_s"]) == {"base", "chat"}
    assert result["best_split_same_length"] in result["splits"]


def test_responsiveness_figure_measures_keys_while_both_stream(tmp_path):
    # figures.responsiveness itself asserts that the answers were still streaming when the keys ended.
    result = figures.responsiveness(keys=3, data_dir=str(tmp_path))
    assert result["unit"] == "ms" and result["duet"] > 0 and result["bare"] > 0
    assert result["p50_ms"]["streaming"] <= result["duet"]


def test_startup_figure_runs_the_real_app_and_reads_peak_rss(tmp_path):
    result = figures.startup(repeats=1, data_dir=str(tmp_path))
    assert 0 < result["duet"] < 60 and 0 < result["bare"] < 60
    # Both models are read in full while loading, so the peak holds at least most of their bytes.
    assert (
        result["peak_rss_bytes"] > 0.5 * result["gguf_bytes"]
        and result["bare_peak_rss_bytes"] > 0.5 * result["gguf_bytes"]
    )


def test_first_token_figure_reports_both_panes_and_what_was_warmed(tmp_path):
    result = figures.first_token(repeats=1, data_dir=str(tmp_path))
    assert set(result["duet_ttft_ms"]) == set(result["bare_ttft_ms"]) == {"base", "chat"}
    assert result["duet"] == max(result["duet_ttft_ms"].values()) > 0
    # SmolLM2's chat template prefix is read ahead; Gemma 3 (sliding-window attention) is not.
    assert result["warmed_prefix_tokens"]["chat"] > 0 and result["warmed_prefix_tokens"]["base"] == 0


def test_table_and_machine_info():
    info = machine()
    assert info["cpus"] >= 1 and isinstance(info["gpu_offload"], bool) and info["llama_cpp_python"]
    row = {"figure": "x", "duet": 1.0, "bare": 2.0, "ratio": 0.5, "target": ">= 0.97", "pass": False, "unit": "tok/s"}
    text = table([row])
    assert "x" in text and "0.500" in text and "NO" in text
    json.dumps({"machine": info, "results": [row]})


def test_startup_children_may_cache_byte_code_like_an_installed_duet(monkeypatch, tmp_path):
    from benchmarks.startup import child_env

    monkeypatch.setenv("PYTHONDONTWRITEBYTECODE", "1")
    env = child_env(str(tmp_path))
    assert "PYTHONDONTWRITEBYTECODE" not in env and env["DUET_DATA_DIR"] == str(tmp_path)


def _os_threads() -> int:
    return len(os.listdir("/proc/self/task"))


def _os_threads_settle(expected: int) -> int:
    """The process's thread count once it is ``expected``, or after 5 s: an ended thread's OpenMP
    pool is told to exit when the thread ends and leaves a moment later."""
    deadline = time.monotonic() + 5
    while _os_threads() != expected and time.monotonic() < deadline:
        time.sleep(0.02)
    return _os_threads()


def test_interleaved_runs_leave_no_openmp_team_behind():
    # A bare side that decodes with two threads on the benchmark's own thread would keep an
    # OpenMP team alive for the rest of the run and slow every later figure in the process
    # (libgomp throttles once it holds more threads than cores): each run gets a thread that ends.
    from benchmarks.bare import bare_llama
    from models.files.embedded import embedded_path

    llama = bare_llama(embedded_path("smollm2-135m-instruct"), n_threads=2, n_ctx=256)
    tokens = llama.tokenize(b"The history of the Roman Empire, told year by year.")
    before = _os_threads()

    def decode() -> int:
        llama.reset()
        llama.eval(tokens)
        return len(tokens)

    a, b = stats.interleave(2, decode, decode)
    assert a == b == [len(tokens)] * 2
    assert _os_threads_settle(before) == before
    # The same decode on a thread that stays alive does keep a team (so the check can fail); the
    # thread ends afterwards, so this test leaves none behind in the test process either.
    decoded, release = threading.Event(), threading.Event()

    def decode_and_stay() -> None:
        decode()
        decoded.set()
        release.wait(30)

    staying = threading.Thread(target=decode_and_stay)
    staying.start()
    try:
        assert decoded.wait(30)
        time.sleep(0.2)
        assert _os_threads() > before + 1  # the thread itself and its OpenMP pool
    finally:
        release.set()
        staying.join()
    llama.close()
