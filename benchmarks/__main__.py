"""python -m benchmarks [--quick] [--json FILE]"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile

os.environ.setdefault("HF_HUB_OFFLINE", "1")


def machine() -> dict:
    import importlib.metadata

    from models.engines.llama.runtime import gpu_offload_supported

    return {
        "cpus": os.cpu_count(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "llama_cpp_python": importlib.metadata.version("llama-cpp-python"),
        "textual": importlib.metadata.version("textual"),
        "gpu_offload": gpu_offload_supported(),
    }


def table(results: list[dict]) -> str:
    rows = [("figure", "duet", "bare", "ratio", "target", "ok")]
    for r in results:
        rows.append(
            (
                r["figure"],
                f"{r['duet']:.3g} {r['unit']}",
                f"{r['bare']:.3g} {r['unit']}",
                f"{r['ratio']:.3f}",
                r["target"],
                "yes" if r["pass"] else "NO",
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return "\n".join("  ".join(cell.ljust(w) for cell, w in zip(row, widths)) for row in rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="fewer repetitions and tokens (under 2 minutes)")
    parser.add_argument("--json", metavar="FILE", help="also write the results as JSON")
    args = parser.parse_args(argv)
    from benchmarks.aligned_ttft import timed_figure
    from benchmarks.amplify import figure as amplify_figure
    from benchmarks.figures import run_all
    from benchmarks.lens_latency import figure as lens_latency_figures
    from benchmarks.quit_latency import quit_latency
    from benchmarks.tune_keypress import tune_keypress
    from benchmarks.tuning import run as tuning_figures

    info = machine()
    results = run_all(args.quick)
    results.append(timed_figure(args.quick))  # 11. aligned mode's cached prefix
    results.append(quit_latency(2 if args.quick else 5, tempfile.mkdtemp(prefix="duet-bench-")))  # 17. ctrl+q
    results.append(tune_keypress(20 if args.quick else 60))  # 16. keys while a fine-tune trains
    results.extend(tuning_figures(args.quick))  # issue 24's 12-14: training speed, duet tune --lesson, the effect
    results.append(amplify_figure(args.quick))  # 15. the amplified pane vs a bare two-context lockstep loop
    results.extend(lens_latency_figures(args.quick))  # 18. the lens: duet ask --shift, and F8 in the app
    print(
        f"machine: {info['cpus']} CPUs, {info['platform']}, Python {info['python']}, "
        f"llama-cpp-python {info['llama_cpp_python']}, GPU offload {'yes' if info['gpu_offload'] else 'no'}"
    )
    print(table(results))
    for r in results:
        extra = {
            k: v
            for k, v in r.items()
            if k not in ("figure", "duet", "bare", "ratio", "target", "pass", "unit", "samples", "elapsed_s")
        }
        if extra:
            print(f"  {r['figure'].split('.')[0]}: {json.dumps(extra, default=str)}")
    if args.json:
        with open(args.json, "w", encoding="utf-8") as fh:
            json.dump({"machine": info, "quick": args.quick, "results": results}, fh, indent=2, default=str)
    return 0


if __name__ == "__main__":
    sys.exit(main())
