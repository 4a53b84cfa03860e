"""The GPU check's results read back and judged, one PASS or FAIL line each (benchmarks/gpu_check.sh).

    python -m benchmarks.gpu_summary OUT_DIR cuda|cpu BUDGET_MB

With `cpu` (the script proven on a machine without a GPU) every count llama.cpp reports must be 0,
whatever was planned or asked: the truth of a CPU-only build.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from models.placement.records import MIB


def _panes(out: Path, name: str) -> list[dict]:
    return json.loads((out / name).read_text())["models"]


def _line(ok: bool, what: str, detail: str) -> tuple[bool, str]:
    return ok, f"{'PASS' if ok else 'FAIL'} {what}: {detail}"


def checks(out: Path, gpu: bool, budget_mb: int) -> list[tuple[bool, str]]:
    results = []
    every = _panes(out, "info_all.json")
    want = [((p["info"]["n_layers"] + 1) if gpu else 0) for p in every]
    results.append(
        _line([p["info"]["gpu_layers"] for p in every] == want, "every layer on the GPU when asked", _all(every))
    )
    partial = _panes(out, "info_partial.json")
    want_partial = 5 if gpu else 0
    ok = all(p["info"]["gpu_layers"] == want_partial and p["info"]["gpu_layers_requested"] == 5 for p in partial)
    results.append(_line(ok, "--gpu-layers 5 reported as llama.cpp placed it", _all(partial)))
    results.append(_budget(_panes(out, "info_budget.json"), gpu, budget_mb))
    asked = json.loads((out / "ask.json").read_text())["panes"]
    ok = all(p["error"] is None and p["metrics"]["tokens"] > 0 and p["placement"] for p in asked)
    detail = ", ".join(
        f"{p['role']} {p['metrics']['tokens']} tokens at {p['metrics']['tokens_per_s']:.0f} tok/s, {p['placement']['where']}"
        for p in asked
    )
    results.append(_line(ok, "duet ask: both panes answered at once", detail))
    results.extend(_formulas(json.loads((out / "placement_check.json").read_text()), gpu))
    results.extend(_speed(json.loads((out / "speed.json").read_text())))
    return results


def _all(panes: list[dict]) -> str:
    return ", ".join(f"{p['role']} {p['info']['gpu_layers']}/{p['info']['n_layers'] + 1}" for p in panes)


def _budget(panes: list[dict], gpu: bool, budget_mb: int) -> tuple[bool, str]:
    plans = [p["info"]["gpu_plan"] for p in panes]
    if not all(plans):
        return _line(False, "--gpu-memory plan", "a pane has no plan")
    split = all(0 < plan["layers"] < plan["total_layers"] for plan in plans)
    planned = sum(plan["pane_bytes"] for plan in plans)
    followed = all(p["info"]["gpu_layers"] == (plan["layers"] if gpu else 0) for p, plan in zip(panes, plans))
    detail = (
        ", ".join(
            f"{p['role']} planned {plan['layers']}/{plan['total_layers']}, placed {p['info']['gpu_layers']}"
            for p, plan in zip(panes, plans)
        )
        + f"; plan {planned / MIB:.0f} of {budget_mb} MiB"
    )
    return _line(
        split and planned <= budget_mb * MIB and followed, f"--gpu-memory {budget_mb}MB splits both models", detail
    )


def _formulas(rows: list[dict], gpu: bool) -> list[tuple[bool, str]]:
    results = []
    for row in rows:
        asked = row["n_gpu_layers"]
        want = (row["total_layers"] if asked < 0 else min(asked, row["total_layers"])) if gpu else 0
        parts, ok = [], row["llama_cpp_gpu_layers"] == want
        for kind in ("model", "KV", "compute"):
            formula, real = row["formula_mib"][kind], row["llama_cpp_mib"].get(kind, 0.0)
            parts.append(f"{kind} {formula:.1f}/{real:.1f}")
            ok = ok and (real <= formula + 0.05 if kind == "compute" else abs(formula - real) <= max(1.0, 0.02 * real))
        layers = f"{row['llama_cpp_gpu_layers']}/{row['total_layers']} placed"
        results.append(
            _line(ok, f"formula/llama.cpp MiB, n_ctx {row['n_ctx']}, asked {asked}", f"{layers}; " + ", ".join(parts))
        )
    return results


def _speed(speed: dict) -> list[tuple[bool, str]]:
    results = [
        _line(pane["ratio"] >= 0.97, f"{role} pane tokens/s against bare llama-cpp-python (>= 0.97)",
              f"{pane['duet_tok_s']:.1f} vs {pane['bare_tok_s']:.1f}: {pane['ratio']:.3f}")
        for role, pane in speed["panes"].items()
    ]  # fmt: skip
    results.append(
        _line(
            speed["two_panes_speedup"] > 1.0,
            "both panes at once against the bare runs one after the other",
            f"{speed['two_panes_at_once_s']:.2f} s vs {speed['bare_one_after_the_other_s']:.2f} s: {speed['two_panes_speedup']:.2f}x",
        )
    )
    return results


def main(argv: list[str] | None = None) -> int:
    args = argv if argv is not None else sys.argv[1:]
    out, backend, budget_mb = Path(args[0]), args[1], int(args[2])
    results = checks(out, backend == "cuda", budget_mb)
    for _, line in results:
        print(line)
    failed = sum(1 for ok, _ in results if not ok)
    print(f"{len(results) - failed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
