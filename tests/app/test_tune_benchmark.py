"""Figure 16 (benchmarks/tune_keypress.py) measures what it says: keys typed into the real app
while a real fine-tune is training, across a step boundary, and the stopped run saves nothing
(no timing asserted)."""

import os

import pytest

from benchmarks.tune_keypress import tune_keypress


def test_the_keypress_figure_types_while_a_fine_tune_trains_and_saves_nothing(tmp_path, monkeypatch):
    monkeypatch.setenv("DUET_CONFIG_DIR", str(tmp_path / "config"))
    before = os.environ.get("DUET_DATA_DIR")
    result = tune_keypress(keys=3, data_dir=str(tmp_path))
    assert os.environ.get("DUET_DATA_DIR") == before  # the benchmark's store was its own, and is undone
    assert result["unit"] == "ms" and result["duet"] > 0 and result["bare"] > 0
    assert result["keys"] >= 3 and len(result["samples"]["duet"]) == result["keys"]
    assert len(result["samples"]["bare"]) == 3
    assert result["training_steps_while_typing"] >= 1  # a step ended while the keys were typed
    assert result["ratio"] == pytest.approx(result["duet"] / result["bare"])
    tuned = tmp_path / "tuned"
    assert not tuned.exists() or not [p for p in tuned.iterdir() if not p.name.startswith(".")]
