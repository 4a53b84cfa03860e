"""plan(settings): everything about a fine-tune that is known before it starts, cheaply.

Every refusal comes from here, each one line, before any weight is read: a server or adapters,
a model llama.cpp cannot train, a name taken, bad or empty data, examples too long for the
context, not enough memory or disk. What it returns is what --dry-run and the Tune screen show:
the first example rendered with what is trained marked, the token counts and the estimates.
"""

from __future__ import annotations

import random
import threading
from dataclasses import dataclass, field
from pathlib import Path

import models.tuning.estimate as estimate
import models.tuning.lesson as lesson
import models.tuning.store as store
from models.errors import DuetError
from models.files.gguf import read_header
from models.files.gguf_header import GGUFHeader
from models.files.sources import is_remote_source, resolve_source
from models.hub.disk import format_bytes, free_space
from models.tuning.data import DataFile, Example, read_data
from models.tuning.estimate import Estimate, ModelCounts
from models.tuning.lineage import NO_LABEL_MASK
from models.tuning.render import ExampleRenderer, RenderedExample, Vocab, marked
from models.tuning.settings import TuneSettings

# Architectures whose feed-forward is GEGLU, which llama.cpp's backward pass does not implement
# ("ggml.c: unsupported glu op for backward pass: GEGLU", then an abort): refused by name; any
# other op without a backward pass aborts the training child's first step (runner.py).
UNTRAINABLE = {
    "gemma": "GEGLU",
    "gemma2": "GEGLU",
    "gemma3": "GEGLU",
    "gemma3n": "GEGLU",
    "gemma-embedding": "GEGLU",
}


@dataclass
class TunePlan:
    settings: TuneSettings
    source_path: Path
    source_label: str
    source_name: str
    architecture: str
    counts: ModelCounts
    data_label: str  # the data file's path, or "the lesson set"
    data_sha256: str
    formats: list[str]
    train: list[RenderedExample]
    held_out: list[RenderedExample]
    dropped: int  # examples longer than the context
    estimate: Estimate
    notes: list[str] = field(default_factory=list)

    @property
    def train_tokens(self) -> int:
        return sum(len(e.tokens) for e in self.train)

    @property
    def steps_per_epoch(self) -> int:
        return steps_per_epoch(self.train_tokens, self.settings.context)

    @property
    def total_steps(self) -> int:
        return self.steps_per_epoch * self.settings.epochs

    @property
    def first_example(self) -> RenderedExample:
        return self.train[0]

    def first_example_marked(self) -> str:
        return marked(self.first_example)

    def summary_lines(self) -> list[str]:
        s, e = self.settings, self.estimate
        blocks = "all blocks" if s.last_blocks is None else f"the last {s.last_blocks} blocks"
        avail = format_bytes(e.memory_available) if e.memory_available is not None else "unknown"
        return [
            f"model: {self.source_label} ({self.architecture}, {self.counts.total / 1e6:.0f}M weights), "
            f"training {blocks}: {self.counts.trainable / 1e6:.1f}M weights",
            f"data: {self.data_label} ({', '.join(self.formats)}): {len(self.train)} examples to train, "
            f"{len(self.held_out)} held out, {self.dropped} dropped (longer than {s.context} tokens)",
            f"tokens: {self.train_tokens} to train ({sum(x.answer_tokens for x in self.train)} of them answers), "
            f"{sum(x.answer_tokens for x in self.held_out)} held-out answer tokens",
            f"steps: {self.steps_per_epoch} per epoch x {s.epochs} epochs = {self.total_steps} "
            f"({s.context} tokens each), learning rate {s.learning_rate:g}, seed {s.seed}",
            f"memory: about {format_bytes(e.memory_bytes)} needed, {avail} available",
            f"disk: about {format_bytes(e.disk_bytes)} while training, {format_bytes(e.disk_free)} free",
            f"time: about {_duration(e.seconds)} on {estimate.cores()} cores; saved as {s.output.upper()} "
            f"as tuned:{s.name}",
        ]


def steps_per_epoch(train_tokens: int, context: int) -> int:
    """The examples of an epoch are packed end to end into windows of ``context`` tokens (the last
    one completed from the start of the epoch), so no padding token is ever trained on."""
    return max(1, -(-train_tokens // context))


def plan(settings: TuneSettings, cancel: threading.Event | None = None) -> TunePlan:
    """What a fine-tune with ``settings`` will do; DuetError (one line) when it must not start."""
    source = settings.model.strip()
    if is_remote_source(source):
        raise DuetError(
            f"{source} is a server: Duet can only fine-tune a GGUF file on this machine; pick a local model"
        )
    if settings.adapters:
        raise DuetError(
            "this model has LoRA adapters on it: Duet fine-tunes the model itself; remove the adapters first"
        )
    if store.exists(settings.name):
        raise DuetError(
            f"a tuned model named '{settings.name}' exists; pick another --name or remove it: "
            f"duet models remove tuned:{settings.name}"
        )
    resolved = resolve_source(source)
    header = read_header(resolved.path)
    architecture = str(header.get("general.architecture") or "unknown")
    refuse_untrainable(architecture, resolved.label)
    template = header.get("tokenizer.chat_template")
    if not isinstance(template, str) or not template.strip():
        raise DuetError(
            f"{resolved.label} has no chat template, so its examples cannot be rendered as it will be asked; "
            "fine-tune a chat model (e.g. embedded:smollm2-135m-instruct)"
        )
    counts = estimate.count_weights(header, settings.last_blocks)
    _check_blocks(settings, counts, resolved.label)
    data, held_data = _read_examples(settings)
    vocab = Vocab(resolved.path)
    renderer = ExampleRenderer(template, resolved.path, vocab)
    try:
        train, held, dropped = _render_all(renderer, data, held_data, settings, cancel)
    finally:
        renderer.close()
        vocab.close()
    result = TunePlan(
        settings=settings,
        source_path=resolved.path,
        source_label=resolved.label,
        source_name=str(header.get("general.name") or resolved.label),
        architecture=architecture,
        counts=counts,
        data_label=lesson.LESSON_LABEL if settings.lesson else str(data.path),
        data_sha256=data.sha256 if held_data is None else _lesson_sha(data, held_data),
        formats=sorted({e.format for e in data.examples}),
        train=train,
        held_out=held,
        dropped=dropped,
        estimate=_estimate(settings, counts, train, header),
        notes=[NO_LABEL_MASK],
    )
    _check_resources(result)
    return result


def refuse_untrainable(architecture: str, label: str) -> None:
    op = UNTRAINABLE.get(architecture)
    if op is not None:
        raise DuetError(
            f"llama.cpp cannot fine-tune {label} ({architecture}): its {op} feed-forward has no backward pass "
            "in llama.cpp; fine-tune a Llama-style model such as embedded:smollm2-135m-instruct"
        )


def _check_blocks(settings: TuneSettings, counts: ModelCounts, label: str) -> None:
    n = settings.last_blocks
    if n is not None and n > counts.n_layer:
        raise DuetError(
            f"--blocks last:{n} asks for more blocks than {label} has ({counts.n_layer}); use all or a smaller N"
        )
    if counts.trainable == 0:
        raise DuetError(f"{label} has no tensors llama.cpp can train; pick another model")


def _read_examples(settings: TuneSettings) -> tuple[DataFile, DataFile | None]:
    if settings.lesson:
        return read_data(lesson.lesson_file(lesson.TRAIN_FILE)), read_data(lesson.lesson_file(lesson.HELD_OUT_FILE))
    assert settings.data is not None  # TuneSettings asks for one of the two
    return read_data(Path(settings.data).expanduser()), None


def split(examples: tuple[Example, ...], fraction: float, seed: int) -> tuple[list[Example], list[Example]]:
    """Held-out examples drawn with the seed; at least one when a fraction is asked and two exist."""
    order = list(range(len(examples)))
    random.Random(seed).shuffle(order)
    n_held = round(len(examples) * fraction)
    if fraction > 0 and len(examples) >= 2:
        n_held = max(1, min(n_held, len(examples) - 1))
    held = set(order[:n_held])
    return [e for i, e in enumerate(examples) if i not in held], [e for i, e in enumerate(examples) if i in held]


def _render_all(
    renderer: ExampleRenderer,
    data: DataFile,
    held_data: DataFile | None,
    settings: TuneSettings,
    cancel: threading.Event | None,
) -> tuple[list[RenderedExample], list[RenderedExample], int]:
    if held_data is None:
        train_examples, held_examples = split(data.examples, settings.validation, settings.seed)
    else:
        train_examples, held_examples = list(data.examples), list(held_data.examples)
    rendered = [renderer.render(e, cancel) for e in train_examples]
    held = [renderer.render(e, cancel) for e in held_examples]
    fits = [e for e in rendered if len(e.tokens) <= settings.context]
    held_fits = [e for e in held if len(e.tokens) <= settings.context]
    dropped = len(rendered) - len(fits) + len(held) - len(held_fits)
    if not fits:
        raise DuetError(
            f"every example of {data.path.name} is longer than the {settings.context}-token context "
            f"({dropped} dropped); raise --context (a multiple of 256) or shorten the examples"
        )
    return fits, held_fits, dropped


def _lesson_sha(train: DataFile, held: DataFile) -> str:
    import hashlib

    return hashlib.sha256((train.sha256 + held.sha256).encode()).hexdigest()


def _estimate(
    settings: TuneSettings, counts: ModelCounts, train: list[RenderedExample], header: GGUFHeader
) -> Estimate:
    steps = steps_per_epoch(sum(len(e.tokens) for e in train), settings.context) * settings.epochs
    threads = settings.threads or estimate.cores()
    per_step = estimate.seconds_per_step(counts, settings.context, threads)
    overhead = 15.0 + header.file_size / 50e6  # the F32 copy, loading it, saving and requantizing
    return Estimate(
        memory_bytes=estimate.training_memory(counts, settings.context, settings.last_blocks),
        memory_available=estimate.available_memory(),
        disk_bytes=estimate.disk_needed(counts, settings.output),
        disk_free=free_space(store.tuned_dir()),
        seconds=overhead + steps * per_step * 1.1,  # held-out scoring each epoch: about a tenth more
        steps=steps,
    )


def _check_resources(result: TunePlan) -> None:
    e, label = result.estimate, result.source_label
    if e.memory_available is not None and e.memory_bytes > e.memory_available:
        hint = "" if result.settings.last_blocks else "; train fewer blocks (--blocks last:6)"
        raise DuetError(
            f"not enough memory to fine-tune {label}: it needs about {format_bytes(e.memory_bytes)} but "
            f"{format_bytes(e.memory_available)} is available; close other programs{hint} or lower --context"
        )
    if e.disk_bytes > e.disk_free:
        raise DuetError(
            f"not enough disk space to fine-tune {label}: it needs about {format_bytes(e.disk_bytes)} but "
            f"{format_bytes(e.disk_free)} is free in {store.tuned_dir()}; free some space or set DUET_DATA_DIR"
        )


def _duration(seconds: float) -> str:
    minutes, secs = divmod(int(round(seconds)), 60)
    return f"{minutes} min {secs:02d} s" if minutes else f"{secs} s"
