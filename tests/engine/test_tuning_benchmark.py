"""Figure 12's bare side measures what it says: llama.cpp's own loop trains the given windows and
reports their tokens and time (benchmarks/tuning_bare.py, on a one-window job)."""

import json
import os
import subprocess
import sys

from models.files.embedded import embedded_path
from tests.support.duet_process import ROOT


def test_the_bare_loop_trains_every_window_and_times_it(tmp_path):
    window = list(range(1000, 1257))  # 257 tokens: 256 inputs and their next tokens
    job = {
        "source": str(embedded_path("smollm2-135m-instruct")),
        "context": 256,
        "learning_rate": 1e-5,
        "last_blocks": 1,
        "n_layer": 30,
        "threads": 2,
        "epochs": [[window], [window]],
    }
    (tmp_path / "job.json").write_text(json.dumps(job))
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks.tuning_bare", str(tmp_path)],
        capture_output=True,
        text=True,
        env=env,
        timeout=240,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report["tokens"] == 2 * 256
    assert report["seconds"] > 0 and report["tokens_per_second"] == report["tokens"] / report["seconds"]
