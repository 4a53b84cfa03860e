"""duet info: what each pane's model is and where it runs, from its metadata and llama.cpp."""

from __future__ import annotations

import argparse
import json
import sys

from models.adapters import adapter_records
from models.files.describe import describe_pane
from models.files.info import ModelInfo
from models.pair import open_sessions
from models.placement.records import gigabytes
from models.session import CLOSE_TIMEOUT_S, close_sessions
from models.settings import SamplingSettings
from tui.cli.options import pane_configs, prepare_embedded_models, wait_for_load
from tui.cli.tuned_models import describe_lineage, tuned_lineage_record
from tui.text.safe_text import neutralize


def info(args: argparse.Namespace) -> int:
    configs = pane_configs(args)
    prepare_embedded_models(configs)
    sessions = open_sessions(configs, SamplingSettings())
    results = []
    try:
        for session in sessions:
            error = wait_for_load(session)
            results.append((session, error))
    finally:
        close_sessions(sessions, CLOSE_TIMEOUT_S)
    if args.json:
        payload = [
            {
                "role": s.role,
                "source": s.spec.source,
                "adapters": adapter_records(s.spec.adapters),
                "error": e,
                "info": s.info.model_dump(exclude={"chat_template"}) if s.info else None,
                "tuned": tuned_lineage_record(s.spec.source),  # tuned:NAME: its lineage (models/tuning)
            }
            for s, e in results
        ]
        print(json.dumps({"models": payload}, ensure_ascii=True, indent=2))
    else:
        for session, error in results:
            print(f"[{session.role}] {session.spec.source}")
            if error or session.info is None:
                print(f"  error: {neutralize(error or 'the model did not load')}")
                continue
            for key, value in (
                describe(session.info, session.spec.source)
                + describe_adapters(session)
                + describe_lineage(session.spec.source)
            ):
                print(f"  {key:<16} {neutralize(str(value))}")
    failed = [(s, e) for s, e in results if e]
    for session, error in failed:
        print(f"duet: {session.role} pane: {error}", file=sys.stderr)
    return 1 if failed else 0


def display_name(info: ModelInfo, source: str | None = None) -> str:
    """The pane header's name (the label), then the catalog's title or the file's own name, size
    and quantization: ``smollm2-135m-instruct · SmolLM2 135M Instruct (chat, Q4_1)``."""
    title = describe_pane(source, info).title if source else info.summary()
    return info.label if title in ("", info.label) else f"{info.label} · {title}"


def describe(info: ModelInfo, source: str | None = None) -> list[tuple[str, str]]:
    if info.architecture == "remote":
        return [
            ("name", info.name),
            ("server", info.path),
            ("runs on", "the server (its own template, context and hardware)"),
        ]
    offload = "yes" if info.gpu_offload_supported else "no (CPU-only llama.cpp build)"
    return [
        ("name", display_name(info, source)),
        ("file", info.path),
        ("architecture", info.architecture),
        ("size", info.size_label or "?"),
        ("quantization", info.quantization or "?"),
        ("file size", f"{info.file_size / 1e6:,.1f} MB"),
        ("context", f"{info.n_ctx} of {info.context_length or '?'} tokens"),
        ("chat template", "yes" if info.has_chat_template else "no"),
        ("GPU offload", offload),
        ("placement", info.placement),
        *describe_plan(info),
        (
            "threads",
            str(info.n_threads) if info.n_threads else f"shared: up to {info.cpu_cores} cores while generating",
        ),
    ]


def describe_plan(info: ModelInfo) -> list[tuple[str, str]]:
    """The GPU plan behind the placement: what was asked for, and why (models/placement)."""
    plan = info.gpu_plan
    if plan is None:
        return []
    asked = "every layer" if plan.layers >= plan.total_layers else f"{plan.layers}/{plan.total_layers} layers"
    pane = f"this pane {gigabytes(plan.pane_bytes)} GB"
    return [("GPU plan", f"{asked}, {plan.note()} ({plan.budget_from}; {pane})")]


def placement_record(info: ModelInfo | None) -> dict | None:
    """Where a pane's model runs, for `duet ask --json`: llama.cpp's layer count and the plan behind it."""
    if info is None or info.architecture == "remote":
        return None
    return {
        "where": info.placement,
        "gpu_layers": info.gpu_layers,
        "total_layers": (info.n_layers or 0) + 1,
        "requested": info.gpu_layers_requested,
        "plan": info.gpu_plan.model_dump() if info.gpu_plan else None,
    }


def describe_adapters(session) -> list[tuple[str, str]]:
    """One row per LoRA adapter (its scale, file, alpha, the base model it names), then the warnings."""
    info = session.info
    loaded = {a.source: a for a in info.adapters} if info else {}
    rows = []
    for adapter in session.spec.adapters:
        about = loaded.get(adapter.source)
        details = ""
        if about is not None:
            alpha = f"alpha {about.alpha:g}, " if about.alpha is not None else ""
            base = f", trained on {about.base_model}" if about.base_model else ""
            details = f" ({alpha}{about.tensors} tensors{base}): {about.path}"
        rows.append(("LoRA adapter", f"scale {adapter.scale:g}{details}"))
    rows.extend(("warning", warning) for warning in (info.warnings if info else []))
    return rows
