"""Tuned models (tuned:NAME, made by duet tune) in `duet models list/info/rm` and `duet info`."""

from __future__ import annotations

import json
import sys

from models.errors import DuetError
from models.files.sources import TUNED_PREFIX
from models.tuning import Lineage, list_tuned, load_lineage, remove_tuned
from tui.text.safe_text import neutralize


def lineage_lines(lineage: Lineage) -> list[str]:
    """The lineage record as lines of text: what `duet models info tuned:NAME` and `duet info` show."""
    s, d = lineage.settings, lineage.data
    blocks = "all blocks" if s.last_blocks is None else f"the last {s.last_blocks} blocks"
    lines = [
        f"tuned:{lineage.name}: {lineage.summary()}",
        f"  source      {lineage.source.source} ({lineage.source.name}), sha256 {lineage.source.sha256}",
        f"  data        {d.file}, sha256 {d.sha256}: {d.train_examples} trained, {d.held_out_examples} held out, "
        f"{d.dropped_examples} dropped",
        f"  settings    {s.epochs} epochs, learning rate {s.learning_rate:g}, context {s.context}, {blocks}, "
        f"seed {s.seed}, saved as {lineage.output.upper()}",
        f"  trained     {lineage.trained_weights / 1e6:.1f}M of {lineage.total_weights / 1e6:.1f}M weights "
        f"({lineage.trained_tensors} tensors), {lineage.steps} steps",
        f"  time        {lineage.wall_seconds:.0f} s in all, {lineage.train_seconds:.0f} s training "
        f"({lineage.train_tokens_per_second:.0f} tokens/s), llama.cpp (ggml {lineage.ggml_version}, "
        f"{lineage.ggml_commit}, llama-cpp-python {lineage.llama_cpp_python})",
        f"  file        {lineage.file} ({lineage.file_size / 1e6:.1f} MB), sha256 {lineage.file_sha256}",
        "  loss        epoch   train   held-out answers",
    ]
    lines += [f"              {epoch:<7} {train:<7} {held}" for epoch, train, held in lineage.loss_table()]
    lines.append(f"  note        {lineage.label_mask}")
    return [neutralize(line) for line in lines]


def list_rows() -> list[tuple[str, str, str, str]]:
    return [(f"{TUNED_PREFIX}{t.name}", t.summary(), f"{t.file_size / 1e6:.0f} MB", t.created) for t in list_tuned()]


def tuned_dicts() -> list[dict]:
    return [t.model_dump(mode="json") for t in list_tuned()]


def print_list() -> None:
    if not list_tuned():
        return
    print("\ntuned models (duet tune; open one beside its source with duet --tuned NAME):")
    for name, summary, size, created in list_rows():
        print(neutralize(f"  {name:<24} {size:>8}  {created}  {summary}"))


def print_info(spec: str, as_json: bool) -> int:
    try:
        lineage = load_lineage(spec.removeprefix(TUNED_PREFIX))
    except DuetError as err:
        print(f"duet: {neutralize(str(err))}", file=sys.stderr)
        return 1
    if as_json:
        print(json.dumps({"tuned": lineage.model_dump(mode="json")}, ensure_ascii=True, indent=2))
    else:
        print("\n".join(lineage_lines(lineage)))
    return 0


def remove(spec: str) -> str:
    """Remove tuned:NAME; the line to print. DuetError when there is none."""
    freed = remove_tuned(spec.removeprefix(TUNED_PREFIX))
    return neutralize(f"{spec}: removed, {freed / 1e6:.1f} MB freed")


def lineage_of(source: str) -> Lineage | None:
    """The lineage of a tuned:NAME pane's model; None for any other source (or a damaged record)."""
    if not source.strip().startswith(TUNED_PREFIX):
        return None
    try:
        return load_lineage(source.strip().removeprefix(TUNED_PREFIX))
    except DuetError:
        return None


def describe_lineage(source: str) -> list[tuple[str, str]]:
    """duet info's rows for a tuned model: what it is a fine-tune of, on what, and how it went."""
    lineage = lineage_of(source)
    if lineage is None:
        return []
    last = lineage.epochs[-1] if lineage.epochs else None
    held = (
        f"{lineage.held_out_loss_before:.3f} -> {last.held_out_loss:.3f}"
        if last and last.held_out_loss is not None and lineage.held_out_loss_before is not None
        else "-"
    )
    s = lineage.settings
    return [
        ("fine-tune of", f"{lineage.source.source} (sha256 {lineage.source.sha256[:16]}...)"),
        (
            "trained on",
            f"{lineage.data.file}: {lineage.data.train_examples} examples, {lineage.data.held_out_examples} held out",
        ),
        ("tuning", f"{s.epochs} epochs, lr {s.learning_rate:g}, context {s.context}, blocks {s.blocks}, seed {s.seed}"),
        ("held-out loss", f"{held} (answer tokens; duet models info tuned:{lineage.name} for every epoch)"),
    ]


def tuned_lineage_record(source: str) -> dict | None:
    lineage = lineage_of(source)
    return lineage.model_dump(mode="json") if lineage is not None else None
