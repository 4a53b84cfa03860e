"""Figure 17 measures what it says: ctrl+q to the end of a `duet` process whose two panes are
streaming, beside bare llama-cpp-python stopping the same pair (no timing assertion: issue 23)."""

from benchmarks.quit_latency import quit_latency


def test_quit_figure_times_both_children_from_their_cue_to_their_end(tmp_path):
    result = quit_latency(repeats=1, data_dir=str(tmp_path))
    assert result["figure"].startswith("17. quit") and result["unit"] == "s"
    duet, bare = result["samples"]["duet"], result["samples"]["bare"]
    assert len(duet) == len(bare) == 1 and duet[0] > 0 and bare[0] > 0  # both children quit with status 0
    assert result["ratio"] == duet[0] / bare[0]
