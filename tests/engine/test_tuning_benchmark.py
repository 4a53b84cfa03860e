"""Figure 12 measures what it says: Duet's loop and the bare llama_opt_epoch loop train the same
windows, alternating, and each reports its tokens and time (benchmarks/tuning_loops.py)."""

import json
import os
import subprocess
import sys

from models.files.embedded import embedded_path
from tests.support.duet_process import ROOT


def test_both_loops_train_the_same_tokens_and_are_timed(tmp_path):
    job = {
        "source": str(embedded_path("smollm2-135m-instruct")),
        "context": 256,
        "learning_rate": 1e-5,
        "last_blocks": 1,
        "n_layer": 30,
        "threads": 2,
        "seed": 1,
        "rounds": 1,
        "train": [list(range(1000, 1100)), list(range(2000, 2120))],  # 220 tokens: one window an epoch
    }
    (tmp_path / "job.json").write_text(json.dumps(job))
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks.tuning_loops", str(tmp_path)],
        capture_output=True,
        text=True,
        env=env,
        timeout=240,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report["duet"]["tokens"] == report["bare"]["tokens"] == 256
    assert report["duet"]["seconds"] > 0 and report["bare"]["seconds"] > 0
    assert set(report["rounds"][0]) == {"duet", "bare"}
    # the warm-up epoch before the rounds is reported apart and counted in neither side
    assert report["warm_up"]["tokens"] == 256 and report["warm_up"]["seconds"] > 0
