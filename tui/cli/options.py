"""The options every model command shares, and turning them into pane configs and sampling settings."""

from __future__ import annotations

import argparse
import sys

from pydantic import ValidationError

from models.errors import DuetError, first_field_error
from models.lesson import with_lesson_pane
from models.pair import DEFAULT_MODES, DEFAULT_SOURCES, ROLES, TUNED_MODE, PaneConfig, TunedPair, tuned_pair
from models.prompts import MODE_NAMES
from models.session import PaneSession
from models.settings import ModelSpec, SamplingSettings
from tui.cli.adapter_options import adapters_for, add_adapter_options, check_lora_roles


def add_model_options(parser: argparse.ArgumentParser, modes: bool = True) -> None:
    """Which model each pane runs (--base, --chat, --pair, --third), their modes, how they load."""
    parser.add_argument(
        "--base",
        metavar="SPEC",
        help="left pane's model: embedded:NAME, a catalog name (PAIR/base, PAIR/chat, NAME), "
        "hf:OWNER/REPO/FILE.gguf[@REV] or a .gguf path (default embedded:gemma-3-270m)",
    )
    parser.add_argument(
        "--chat", metavar="SPEC", help="right pane's model, same forms (default embedded:smollm2-135m-instruct)"
    )
    parser.add_argument(
        "--pair", metavar="NAME", help="both panes from a catalog pair (see: duet models list); --base/--chat win"
    )
    parser.add_argument(
        "--third",
        metavar="SPEC",
        help="a third pane after base and chat: any model source, e.g. a server http://HOST:PORT/v1#MODEL",
    )
    parser.add_argument(
        "--tuned",
        metavar="NAME",
        help="before and after: the model tuned:NAME was made from on the left, the fine-tune on the right, "
        "both in chat mode (duet tune makes one; the Tune screen, F10, too)",
    )
    parser.add_argument(
        "--lesson",
        action="store_true",
        help="prompting vs fine-tuning: a pane between base and chat that runs the base model aligned by "
        "a prompt alone (aligned mode); base raw | base aligned | chat",
    )
    if modes:
        _add_mode_options(parser)
    _add_load_options(parser)
    add_adapter_options(parser)
    parser.add_argument(
        "--amplify",
        type=float,
        default=None,
        metavar="A",
        help="add an amplified pane: decode from tuned + A*(tuned - base), the chat pane's model as tuned and as "
        "base the same file without its --chat-lora, else the base pane's model (A from -1, the base, through 0, "
        "the tuned model, to 8)",
    )


def _add_mode_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--base-mode",
        choices=MODE_NAMES,
        default=None,
        help="prompt mode of the base pane (default raw, or the pair's)",
    )
    parser.add_argument(
        "--chat-mode",
        choices=MODE_NAMES,
        default=None,
        help="prompt mode of the chat pane (default chat, or the pair's)",
    )
    parser.add_argument(
        "--third-mode", choices=MODE_NAMES, default=None, help="prompt mode of the third pane (default chat)"
    )


def _add_load_options(parser: argparse.ArgumentParser) -> None:
    """How each pane's model is loaded: chat format, context size, GPU layers, threads."""
    parser.add_argument(
        "--base-template",
        metavar="FORMAT",
        help="chat format for the base pane instead of its GGUF template (e.g. llama-2, chatml)",
    )
    parser.add_argument(
        "--chat-template", metavar="FORMAT", help="chat format for the chat pane instead of its GGUF template"
    )
    parser.add_argument(
        "--third-template", metavar="FORMAT", help="chat format for the third pane instead of its GGUF template"
    )
    parser.add_argument(
        "--n-ctx",
        type=int,
        default=None,
        metavar="N",
        help="context size for both models (default 2048, or the model's own if smaller)",
    )
    parser.add_argument(
        "--gpu-layers",
        type=int,
        default=None,
        metavar="N",
        help="layers to offload to the GPU when the build supports it, -1 = all (default: as many as fit "
        "beside the other panes' models)",
    )
    parser.add_argument(
        "--gpu-memory",
        metavar="SIZE",
        default=None,
        help="GPU memory all panes may use, e.g. 6GB (GB = GiB; default: what the GPU has free)",
    )
    parser.add_argument(
        "--threads",
        type=int,
        default=None,
        metavar="N",
        help="pin every model to N CPU threads (default: the generating panes share the cores, and one running alone takes them all)",
    )


def add_sampling_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--max-tokens", type=int, default=None, metavar="N", help="answer length limit (default 256)")
    parser.add_argument(
        "--temperature", type=float, default=None, metavar="T", help="sampling temperature for both panes (default 0)"
    )
    parser.add_argument("--seed", type=int, default=None, metavar="S", help="sampling seed for both panes (default 42)")


class UsageError(Exception):
    """A bad command-line value: reported in one line with exit status 2."""


_OPTION_OF_FIELD = {"n_threads": "threads", "n_gpu_layers": "gpu-layers", "gpu_memory": "gpu-memory"}


def _first_error_line(err: ValidationError) -> str:
    field, message = first_field_error(err)
    option = _OPTION_OF_FIELD.get(field, (field or "value").replace("_", "-"))
    return f"invalid {option}: {message}"


def pane_configs(args: argparse.Namespace) -> list[PaneConfig]:
    """Both panes from the options: --base/--chat win over --pair, which wins over the defaults.

    A catalog model may ask for a prompt mode and a chat format (Llama 2 Chat: inst, llama-2);
    explicit --*-mode and --*-template options win over those.
    """
    from models.files.catalog import load_catalog, pane_defaults

    pair = None
    if getattr(args, "pair", None):
        try:
            pair = load_catalog().pair(args.pair.strip())
        except DuetError as err:
            raise UsageError(str(err)) from None
    tuned = _tuned_pair(args)
    configs = []
    roles = ROLES + (("third",) if getattr(args, "third", None) else ())  # duet ask --third SPEC
    try:
        check_lora_roles(args, roles)
    except DuetError as err:
        raise UsageError(str(err)) from None
    for role in roles:
        source = getattr(args, role, None) or (tuned.sources.get(role) if tuned else None)
        if not source and pair is not None:
            member = pair.member(role)
            source = member.origin if member.embedded else member.name
        source = source or DEFAULT_SOURCES[role]
        catalog_mode, catalog_format = (TUNED_MODE, None) if tuned and role in ROLES else pane_defaults(source)
        values = {"source": source}
        for option, field in (("n_ctx", "n_ctx"), ("gpu_layers", "n_gpu_layers"), ("threads", "n_threads")):
            if getattr(args, option, None) is not None:
                values[field] = getattr(args, option)
        if getattr(args, "gpu_memory", None) is not None:
            values["gpu_memory"] = _gpu_memory(args.gpu_memory)
        template = getattr(args, f"{role}_template", None) or catalog_format
        if template:
            values["chat_format"] = template
        try:
            spec = ModelSpec(**values, adapters=adapters_for(args, role))
        except ValidationError as err:
            raise UsageError(_first_error_line(err)) from None
        except DuetError as err:  # a malformed --ROLE-lora
            raise UsageError(str(err)) from None
        mode = getattr(args, f"{role}_mode", None) or catalog_mode or DEFAULT_MODES.get(role, "chat")
        configs.append(PaneConfig(role, spec, mode))
    configs = with_lesson_pane(configs) if getattr(args, "lesson", False) else configs
    return _with_amplified(configs, getattr(args, "amplify", None))


def _with_amplified(configs: list[PaneConfig], factor: float | None) -> list[PaneConfig]:
    """--amplify A: the amplified pane after the others (models/amplify/panes.py)."""
    if factor is None:
        return configs
    from models.amplify.panes import with_amplified_pane
    from models.settings import AMPLIFY_MAX, AMPLIFY_MIN

    if not AMPLIFY_MIN <= factor <= AMPLIFY_MAX:  # nan too
        raise UsageError(f"invalid amplify: {factor:g} is outside {AMPLIFY_MIN:g} (the base) to {AMPLIFY_MAX:g}")
    try:
        return with_amplified_pane(configs, factor)
    except DuetError as err:
        raise UsageError(str(err)) from None


def _tuned_pair(args: argparse.Namespace) -> TunedPair | None:
    """--tuned NAME: the fine-tune and its source, which --base, --chat and --pair would contradict."""
    name = getattr(args, "tuned", None)
    if not name:
        return None
    if any(getattr(args, option, None) for option in ("base", "chat", "pair")):
        raise UsageError(
            "--tuned NAME opens both panes (its source and the fine-tune); leave out --base, --chat and --pair"
        )
    try:
        return tuned_pair(name)
    except DuetError as err:
        raise UsageError(str(err)) from None


def _gpu_memory(text: str) -> int:
    from models.placement.planner import parse_memory

    try:
        return parse_memory(text)
    except DuetError as err:
        raise UsageError(f"invalid gpu-memory: {err}") from None


def sampling_settings(args: argparse.Namespace) -> SamplingSettings:
    values = {
        name: getattr(args, name)
        for name in ("max_tokens", "temperature", "seed")
        if getattr(args, name, None) is not None
    }
    try:
        return SamplingSettings(**values)
    except ValidationError as err:
        raise UsageError(_first_error_line(err)) from None


def wait_for_load(session: PaneSession) -> str | None:
    """Block until the session's model is loaded; its load error, or None."""
    if session.loading is None:  # open_sessions starts every load; this one was never started
        return f"the {session.role} pane's model was never asked to load"
    try:
        session.loading.result()
    except DuetError as err:
        return str(err)
    return None


def use_user_prompt_file() -> None:
    """Aligned mode's prompt from the user's aligned.toml when it is valid; when it is broken, one
    line on stderr says why, and the built-in prompt is used (tui/config.py)."""
    from tui.config import use_aligned_prompt

    problem = use_aligned_prompt()
    if problem:
        print(f"duet: {problem}", file=sys.stderr)


def prepare_embedded_models(configs: list[PaneConfig]) -> None:
    """The first run after an install joins the embedded base model's four chunks into the cache
    (about a second, more on a slow disk): say so on the terminal, with progress, before the app
    or the command starts, instead of a silent pause."""
    from models.files.describe import catalog_model
    from models.files.embedded import EMBEDDED, GEMMA_NAME, assemble_gemma, gemma_needs_assembly

    def is_gemma(source: str) -> bool:
        entry = catalog_model(source)
        return source.strip() == f"embedded:{GEMMA_NAME}" or (entry is not None and entry.embedded == GEMMA_NAME)

    if not any(is_gemma(c.spec.source) for c in configs) or not gemma_needs_assembly():
        return
    title = EMBEDDED[GEMMA_NAME].title
    live = sys.stderr.isatty()

    def show(done: int, total: int) -> None:
        if live:
            print(
                f"\rduet: preparing {title} for its first run: {done * 100 // total}%",
                end="",
                file=sys.stderr,
                flush=True,
            )

    print(f"duet: preparing {title} for its first run (joining its parts into the model cache)", file=sys.stderr)
    try:
        assemble_gemma(on_progress=show)
    except DuetError:
        pass  # the pane's load reports it, in one line, and the other pane still opens
    if live:
        print(file=sys.stderr)
