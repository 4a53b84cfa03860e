"""Which two models an amplified pane runs, taken from the panes the user opened, and the pairs it
refuses.

The tuned model is the chat pane's spec (its file, adapters, context and template: the rendered
prompt is the tuned model's). The base is, in this order:

1. the same file without the adapters, when the chat pane has LoRA adapters: a model and the same
   model with a LoRA (the engine then loads the weights once and opens two contexts);
2. the base pane's model (with its adapters): a catalog pair of one family (--pair), a Duet
   fine-tune and its source (--chat tuned:NAME --base SOURCE), any two files.

Refused, in one line each: a server on either side (its logits cannot be read per step), two
identical sides (nothing to amplify), and, once both are loaded, two vocabularies that differ
(the lens's vocabulary digest, models/lens/vocabulary.py: token ids would mean different things).
"""

from __future__ import annotations

from pathlib import PurePath

from models.adapters import adapters_label
from models.errors import DuetError
from models.lens.vocabulary import Vocabulary
from models.settings import AmplifySpec, ModelSpec


def amplify_base(tuned: ModelSpec, base: ModelSpec | None) -> AmplifySpec:
    """The base side for ``tuned`` (see the module docstring); factor 1 until the caller sets it."""
    if tuned.adapters:
        return AmplifySpec(base=tuned.source)
    if base is None:
        raise DuetError(
            "an amplified pane needs a base model: give the chat pane a LoRA adapter (--chat-lora) "
            "or a base pane of the same family (--base or --pair)"
        )
    return AmplifySpec(base=base.source, base_adapters=base.adapters)


def base_spec(spec: ModelSpec) -> ModelSpec:
    """The base side as a spec of its own: loaded like the tuned one (context, GPU, threads)."""
    amplify = _amplify_of(spec)
    return spec.model_copy(
        update={"source": amplify.base, "adapters": amplify.base_adapters, "amplify": None, "chat_format": None}
    )


def tuned_spec(spec: ModelSpec) -> ModelSpec:
    return spec.model_copy(update={"amplify": None})


def shares_file(spec: ModelSpec) -> bool:
    """Whether the base is the tuned model's own file without adapters: one model, two contexts."""
    amplify = _amplify_of(spec)
    return amplify.base.strip() == spec.source.strip() and not amplify.base_adapters


def check_pair(spec: ModelSpec) -> None:
    """DuetError for a pair that cannot be amplified before anything is loaded."""
    from models.files.sources import is_remote_source  # sources imports much; a record needs none of it

    amplify = _amplify_of(spec)
    for side, source in (("tuned", spec.source), ("base", amplify.base)):
        if is_remote_source(source):
            raise DuetError(
                f"cannot amplify with the server {source} as the {side} model: amplification reads both "
                "models' logits at every token; use local GGUF files"
            )
    if amplify.base.strip() == spec.source.strip() and tuple(amplify.base_adapters) == tuple(spec.adapters):
        raise DuetError(
            f"the tuned and base models are the same ({spec.source}, same adapters): there is nothing to amplify; "
            "give the chat pane a LoRA adapter or another base model"
        )


def check_vocabularies(tuned: str, base: str, tuned_vocab: Vocabulary, base_vocab: Vocabulary) -> None:
    """DuetError in one line when the two models' token ids do not mean the same."""
    if tuned_vocab != base_vocab:
        raise DuetError(
            f"cannot amplify {tuned} over {base}: their vocabularies differ ({tuned_vocab.size} and "
            f"{base_vocab.size} tokens, different texts), so their logits cannot be combined; "
            "pair a fine-tune with its own base model"
        )


def base_name(spec: ModelSpec) -> str:
    """The base side's short name for a header: its file's (the same as the tuned model's for a
    LoRA pair, whose adapters the header shows beside it), with the base's own adapters."""
    amplify = _amplify_of(spec)
    adapters = adapters_label(amplify.base_adapters)
    return f"{source_name(amplify.base)} {adapters}" if adapters else source_name(amplify.base)


def source_name(source: str) -> str:
    """A model source's short name: embedded:NAME -> NAME, a path -> its file name without .gguf."""
    text = source.strip()
    for prefix in ("embedded:", "tuned:"):
        if text.startswith(prefix):
            return text[len(prefix) :]
    name = PurePath(text.split("@")[0] if text.startswith("hf:") else text).name
    return name[:-5] if name.lower().endswith(".gguf") else name


def _amplify_of(spec: ModelSpec) -> AmplifySpec:
    if spec.amplify is None:
        raise DuetError(f"{spec.source} is not an amplified pane")
    return spec.amplify
