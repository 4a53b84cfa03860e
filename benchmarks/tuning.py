"""Figures 12-14 of issue 24: fine-tuning the embedded SmolLM2 on the built-in lesson set.

- 12. training throughput: tokens per second of `duet tune`'s training loop (one llama_opt_epoch
  per window, with packing, stop checks and progress between steps) against a bare loop, one
  llama_opt_epoch over a dataset of the same windows, on the same F32 model, data and settings,
  epochs alternating between the two in one process (benchmarks/tuning_loops.py). Target >= 0.95.
- 13. `duet tune --lesson` end to end (F32 copy, training, held-out scoring, requantizing,
  saving): wall time and the peak resident size of the processes it ran, every block and the
  last 6. Targets (issue 24, 2 cores): <= 3 min and <= 2.6 GB for every block.
- 14. the effect: held-out answer loss before and after (every block), and the greedy answers to
  the probe questions before (the source) and after (tuned:NAME), in chat mode.

python -m benchmarks.tuning [--quick] [--json FILE]; --quick trains one epoch of the last 6 blocks.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.stats import figure_result, ratio

ROOT = Path(__file__).resolve().parents[1]
MAX_WALL_S, MAX_RSS = 180.0, 2.6e9
LAST_N = 6

# Measures the peak resident size of everything the command runs (RUSAGE_CHILDREN counts the
# descendants each process waited for: duet and its training child).
_WRAPPER = (
    "import resource, subprocess, sys, time; t = time.perf_counter(); r = subprocess.run(sys.argv[1:]); "
    "print(f'##{time.perf_counter() - t} {resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024} "
    "{r.returncode}', file=sys.stderr)"
)


def _env(data_dir: str) -> dict:
    env = dict(os.environ, DUET_DATA_DIR=data_dir)
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    return env


def tune_lesson(name: str, blocks: str, epochs: int | None, data_dir: str) -> dict:
    """`duet tune --lesson` in a fresh process: its lineage, wall time and peak RSS."""
    command = [sys.executable, "-m", "tui.cli", "tune", "--lesson", "--name", name, "--blocks", blocks, "--json"]
    command += ["--epochs", str(epochs)] if epochs else []
    done = subprocess.run(
        [sys.executable, "-c", _WRAPPER, *command], capture_output=True, text=True, env=_env(data_dir)
    )
    marker = [line for line in done.stderr.splitlines() if line.startswith("##")]
    if done.returncode != 0 or not marker:
        raise RuntimeError(f"duet tune failed: {done.stderr[-2000:]}")
    wall, rss, code = marker[-1][2:].split()
    if int(code) != 0:
        raise RuntimeError(f"duet tune failed: {done.stderr[-2000:]}")
    return {"lineage": json.loads(done.stdout), "wall_s": float(wall), "peak_rss": int(rss)}


def training_loops(lineage: dict, rounds: int) -> dict:
    """Duet's loop and the bare loop, alternating epochs in one child (benchmarks/tuning_loops.py)."""
    from models.tuning import TuneSettings, plan

    settings = TuneSettings.model_validate(lineage["settings"] | {"name": "loops-plan"})
    the_plan = plan(settings)
    job = {
        "source": str(the_plan.source_path),
        "context": settings.context,
        "learning_rate": settings.learning_rate,
        "last_blocks": settings.last_blocks,
        "n_layer": the_plan.counts.n_layer,
        "threads": settings.threads or os.cpu_count() or 1,
        "seed": settings.seed,
        "rounds": rounds,
        "train": [list(e.tokens) for e in the_plan.train],
    }
    with tempfile.TemporaryDirectory(prefix="duet-tune-loops-") as work:
        Path(work, "job.json").write_text(json.dumps(job))
        done = subprocess.run(
            [sys.executable, "-m", "benchmarks.tuning_loops", work], capture_output=True, text=True, env=_env(work)
        )
    if done.returncode != 0:
        raise RuntimeError(f"the training loops failed: {done.stderr[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def probe_answers(source: str, data_dir: str) -> dict:
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks.tuning_probes", source], capture_output=True, text=True, env=_env(data_dir)
    )
    if done.returncode != 0:
        raise RuntimeError(f"the probes of {source} failed: {done.stderr[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def run(quick: bool, data_dir: str | None = None) -> list[dict]:
    data_dir = data_dir or tempfile.mkdtemp(prefix="duet-bench-tune-")
    stamp = str(int(time.time()))
    runs = {}
    if not quick:
        runs["all"] = tune_lesson(f"bench-all-{stamp}", "all", None, data_dir)
    runs[f"last:{LAST_N}"] = tune_lesson(f"bench-last-{stamp}", f"last:{LAST_N}", 1 if quick else None, data_dir)
    main = runs["all"] if not quick else runs[f"last:{LAST_N}"]
    return [
        throughput_figure(main, 2 if quick else 3),
        end_to_end_figure(runs),
        effect_figure(main, data_dir),
    ]


def throughput_figure(main: dict, rounds: int) -> dict:
    lineage = main["lineage"]
    loops = training_loops(lineage, rounds)
    duet = loops["duet"]["tokens"] / loops["duet"]["seconds"]
    bare = loops["bare"]["tokens"] / loops["bare"]["seconds"]
    value = ratio(duet, bare)
    return figure_result(
        f"12. training tokens/s: duet tune's loop vs a bare llama_opt_epoch loop ({lineage['settings']['blocks']} blocks)",
        duet,
        bare,
        value,
        ">= 0.95",
        value >= 0.95,
        "tok/s",
        rounds=loops["rounds"],
        warm_up_tokens_per_s=loops["warm_up"]["tokens"] / loops["warm_up"]["seconds"],
        tokens=loops["bare"]["tokens"],
        duet_tune_tokens_per_s=lineage["train_tokens_per_second"],
    )


def end_to_end_figure(runs: dict) -> dict:
    first = runs.get("all") or next(iter(runs.values()))
    rows = {
        blocks: {
            "wall_s": round(r["wall_s"], 1),
            "peak_rss_gb": round(r["peak_rss"] / 1e9, 2),
            "epochs": r["lineage"]["settings"]["epochs"],
            "steps": r["lineage"]["steps"],
            "train_s": round(r["lineage"]["train_seconds"], 1),
        }
        for blocks, r in runs.items()
    }
    ok = first["wall_s"] <= MAX_WALL_S and first["peak_rss"] <= MAX_RSS
    return figure_result(
        "13. duet tune --lesson end to end (wall; bare: the issue's 3 min target)",
        first["wall_s"],
        MAX_WALL_S,
        ratio(first["wall_s"], MAX_WALL_S),
        "<= 180 s and <= 2.6 GB",
        ok,
        "s",
        runs=rows,
    )


def effect_figure(main: dict, data_dir: str) -> dict:
    from models.tuning.lesson import PROBES

    lineage = main["lineage"]
    before = probe_answers(lineage["source"]["source"], data_dir)
    after = probe_answers(f"tuned:{lineage['name']}", data_dir)
    loss_before = lineage["held_out_loss_before"]
    loss_after = lineage["epochs"][-1]["held_out_loss"]
    named = "Sharon" in after[PROBES[0]]
    return figure_result(
        "14. held-out answer loss after vs before, and the probes' greedy answers",
        loss_after,
        loss_before,
        ratio(loss_after, loss_before),
        "< 1 and 'What's your name?' -> Sharon",
        loss_after < loss_before and named,
        "nats",
        epochs=[(e["epoch"], e["train_loss"], e["held_out_loss"]) for e in lineage["epochs"]],
        answers={q: {"before": before[q], "after": after[q]} for q in PROBES},
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.tuning", description=__doc__)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--json", metavar="FILE")
    args = parser.parse_args(argv)
    results = run(args.quick)
    for r in results:
        print(json.dumps(r, default=str, indent=2))
    if args.json:
        Path(args.json).write_text(json.dumps(results, default=str, indent=2), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
