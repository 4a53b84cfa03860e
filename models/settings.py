"""Pydantic settings shared by every pane, so both sides of a comparison run identically."""

from __future__ import annotations

import os

from pydantic import BaseModel, ConfigDict, Field, field_validator

from models.errors import DuetError
from models.files.hub_spec import HF_PREFIX, parse_hf_spec
from models.placement.records import GpuPlan

DEFAULT_N_CTX = 2048
DEFAULT_MAX_TOKENS = 256
DEFAULT_SEED = 42


def machine_threads() -> int:
    """The CPU threads this machine has: the most a --threads option may ask for."""
    return os.cpu_count() or 1


def threads_the_machine_has(value: int | None) -> int | None:
    """A --threads count (a pane's, or duet tune's), refused past the machine's threads."""
    # 100000 threads crashed llama.cpp natively (SIGSEGV, std::bad_alloc) and 5000 never answered.
    most = machine_threads()
    if value is not None and value > most:
        raise ValueError(
            f"{value} is more than the {most} CPU threads this machine has; llama.cpp gets no faster past "
            f"one thread per core (and crashes with tens of thousands): use 1 to {most}"
        )
    return value


MAX_N_CTX = 1 << 20  # a million tokens; the load caps it at the model's own context anyway
MAX_GPU_LAYERS = 10_000  # more than any model has; llama.cpp takes a 32-bit count
MAX_TOKENS = 1 << 20  # an answer is bounded by the context, far below this


def default_threads_per_model() -> int:
    """Threads a model is loaded with; while it generates, models/threads.py sets its share."""
    return max(1, (os.cpu_count() or 2) // 2)


ADAPTER_SCALE_MAX = 4.0  # what a command line or preset may ask for; the live keys stay in 0..1.5


def _checked_source(value: str) -> str:
    """An hf: source goes through the one hub spec parser as it enters, wherever it comes from."""
    if value.strip().startswith(HF_PREFIX):
        try:
            parse_hf_spec(value)
        except DuetError as err:
            raise ValueError(str(err)) from None
    return value


class AdapterSpec(BaseModel):
    """One LoRA adapter on a pane's model, and how strongly it is applied (0: not at all)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    source: str = Field(min_length=1, description="a path to a LoRA adapter .gguf or hf:OWNER/REPO/FILE.gguf")
    scale: float = Field(
        1.0, ge=0.0, le=ADAPTER_SCALE_MAX, allow_inf_nan=False, description="0 gives exactly the base model's answers"
    )

    _source = field_validator("source")(_checked_source)


AMPLIFY_MIN, AMPLIFY_MAX = -1.0, 8.0  # a = -1 answers as the base model, 0 as the tuned one


class AmplifySpec(BaseModel):
    """An amplified pane (models/amplify/): decode from tuned + a * (tuned - base), where the tuned
    model is the pane's own spec and the base is this one, fed the same tokens in lockstep."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    base: str = Field(min_length=1, description="the base model's source (same forms as ModelSpec.source)")
    base_adapters: tuple[AdapterSpec, ...] = Field((), description="LoRA adapters on the base model")
    factor: float = Field(1.0, ge=AMPLIFY_MIN, le=AMPLIFY_MAX, description="a: 0 the tuned model, -1 the base")


class ModelSpec(BaseModel):
    """Where a pane's GGUF comes from and how llama.cpp should load it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    source: str = Field(description="embedded:NAME or a path to a .gguf file")
    n_ctx: int = Field(DEFAULT_N_CTX, ge=64, le=MAX_N_CTX, description="context size; capped at the model's own")
    n_gpu_layers: int | None = Field(
        None,
        ge=-1,
        le=MAX_GPU_LAYERS,
        description="the user's layer count (-1: all); None: planned so every pane fits (models/placement)",
    )
    gpu_memory: int | None = Field(
        None,
        gt=0,
        le=1 << 50,  # a pebibyte: far past any GPU; more is a typo
        description="bytes of GPU memory all panes may use (--gpu-memory); None: what the GPU has free",
    )
    gpu_plan: GpuPlan | None = Field(None, description="the planner's decision for this pane, made before the load")
    n_threads: int | None = Field(
        None, ge=1, description="None: a share of the cores while generating (models/threads.py)"
    )
    chat_format: str | None = Field(
        None, description="a llama-cpp-python chat format name to use instead of the GGUF template"
    )
    adapters: tuple[AdapterSpec, ...] = Field((), description="LoRA adapters applied on top (models/adapters.py)")
    amplify: AmplifySpec | None = Field(None, description="an amplified pane over this base (models/amplify/)")

    _source = field_validator("source")(_checked_source)

    _threads = field_validator("n_threads")(threads_the_machine_has)


class SamplingSettings(BaseModel):
    """Every knob llama-cpp-python defaults differently for completion and chat, set explicitly."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    # allow_inf_nan=False: nan compares false with every bound, and pydantic then named the wrong
    # one ("--temperature nan: less than or equal to 5"); nan and inf are refused as not finite.
    temperature: float = Field(0.0, ge=0.0, le=5.0, allow_inf_nan=False)
    top_p: float = Field(0.95, gt=0.0, le=1.0, allow_inf_nan=False)
    top_k: int = Field(40, ge=0, le=1_000_000)  # a vocabulary is at most a few hundred thousand tokens
    min_p: float = Field(0.05, ge=0.0, le=1.0, allow_inf_nan=False)
    repeat_penalty: float = Field(1.0, gt=0.0, le=10.0, allow_inf_nan=False)
    max_tokens: int = Field(DEFAULT_MAX_TOKENS, ge=1, le=MAX_TOKENS)
    seed: int = Field(DEFAULT_SEED, ge=0, lt=2**32)
    stop: tuple[str, ...] = ()
