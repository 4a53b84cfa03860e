"""An amplified pane in the plain-dict records (`--json`, history, exports, `duet run` reports):
the factor a and the two models, and for an answer what it pushed.

    "amplify": {"factor": 2.0,
                "tuned": {"source": ..., "adapters": [{"source": ..., "scale": ...}]},
                "base": {"source": ..., "adapters": [...]},
                "pushes": {...}}   # trace.AmplifyTrace.record(); --json only, not stored

The history keeps the record without ``pushes`` (one JSON column, schema v6).
"""

from __future__ import annotations

from collections.abc import Sequence

from models.adapters import adapter_records, records_label
from models.amplify.pairing import source_name
from models.amplify.steps import label
from models.amplify.trace import AmplifyTrace
from models.settings import AdapterSpec, AmplifySpec


def amplify_record(
    amplify: AmplifySpec | None, source: str, adapters: Sequence[AdapterSpec], trace: AmplifyTrace | None = None
) -> dict | None:
    """The record of a pane whose spec is ``source`` with ``adapters`` amplified by ``amplify``
    (None for a pane that is not amplified)."""
    if amplify is None:
        return None
    record = {
        "factor": amplify.factor,
        "tuned": {"source": source, "adapters": adapter_records(adapters)},
        "base": {"source": amplify.base, "adapters": adapter_records(amplify.base_adapters)},
    }
    if trace is not None:
        record["pushes"] = trace.record()
    return record


def stored(record: dict | None) -> dict | None:
    """What the history keeps of a record: everything but the per-token pushes."""
    if not isinstance(record, dict):
        return None
    return {k: v for k, v in record.items() if k != "pushes"}


def record_label(record: object) -> str:
    """``amplified ×2 over NAME`` for a record ('' for none, or a malformed one from an edited file)."""
    if not isinstance(record, dict):
        return ""
    factor, base = record.get("factor"), record.get("base")
    if not isinstance(factor, (int, float)) or not isinstance(base, dict) or not isinstance(base.get("source"), str):
        return ""
    name = source_name(base["source"])
    adapters = records_label(base.get("adapters"))
    return label(float(factor), f"{name} {adapters}" if adapters else name)
