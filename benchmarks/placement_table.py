"""The README's table of the catalog pairs on 6, 8, 12 and 24 GB GPUs, made by the planner.

    python -m benchmarks.placement_table            # print it
    python -m benchmarks.placement_table --write README.md   # replace the table in the README

Each cell is what `duet --pair NAME --gpu-memory N GB` plans at the default n_ctx (2048): the
layers of the base and of the chat model on the GPU (the output layer counted, as llama.cpp
does), and the GPU memory the plan uses. tests/unit/test_placement_table.py keeps the README's copy
equal to this output.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from models.files.catalog import load_catalog
from models.placement.catalog_shapes import PairPlan, plan_pair
from models.placement.records import GIB, gigabytes

GPU_SIZES_GB = (6, 8, 12, 24)
START, END = "<!-- gpu-placement-table:start -->", "<!-- gpu-placement-table:end -->"


def table() -> str:
    catalog = load_catalog()
    lines = [
        "| pair | " + " | ".join(f"{gb} GB" for gb in GPU_SIZES_GB) + " |",
        "| --- | " + " | ".join("---" for _ in GPU_SIZES_GB) + " |",
    ]
    for name, pair in catalog.pairs.items():
        cells = []
        for gb in GPU_SIZES_GB:
            planned = plan_pair(pair, gb * GIB)
            cells.append(_cell(planned) if planned else "?")
        lines.append(f"| `{name}` | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _cell(planned: PairPlan) -> str:
    (base, chat), (a, b) = planned.shapes, planned.allotments
    return f"{a.layers}/{base.total_layers} + {b.layers}/{chat.total_layers} ({gigabytes(a.bytes + b.bytes)} GB)"


def replace_table(text: str, new_table: str) -> str:
    """``text`` with what lies between the table's markers replaced by ``new_table``."""
    if START not in text or END not in text:
        raise SystemExit(f"the file has no {START} ... {END} markers")
    head, rest = text.split(START, 1)
    _, tail = rest.split(END, 1)
    return f"{head}{START}\n{new_table}\n{END}{tail}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.placement_table", description=__doc__.splitlines()[0])
    parser.add_argument("--write", type=Path, metavar="README", help="replace the table between its markers there")
    args = parser.parse_args(argv)
    made = table()
    if args.write:
        args.write.write_text(replace_table(args.write.read_text(), made))
    else:
        print(made)
    return 0


if __name__ == "__main__":
    sys.exit(main())
