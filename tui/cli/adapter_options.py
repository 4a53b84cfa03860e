"""--base-lora, --chat-lora, --third-lora ADAPTER[@SCALE]: LoRA adapters on a pane's model."""

from __future__ import annotations

import argparse

from models.adapters import parse_adapter
from models.errors import DuetError
from models.settings import AdapterSpec

LORA_ROLES = ("base", "chat", "third")


def add_adapter_options(parser: argparse.ArgumentParser) -> None:
    for role in LORA_ROLES:
        parser.add_argument(
            f"--{role}-lora",
            action="append",
            default=None,
            metavar="ADAPTER[@SCALE]",
            help=f"a LoRA adapter .gguf (a path or hf:OWNER/REPO/FILE.gguf) on the {role} pane's model, at SCALE "
            "(default 1; 0 gives the model's own answers); repeat it for several",
        )


def adapters_for(args: argparse.Namespace, role: str) -> tuple[AdapterSpec, ...]:
    """The adapters given for ``role``'s pane; DuetError for a malformed one."""
    return tuple(parse_adapter(text) for text in getattr(args, f"{role}_lora", None) or ())


def check_lora_roles(args: argparse.Namespace, roles: tuple[str, ...]) -> None:
    """DuetError when an adapter is given for a pane that is not open (--third-lora without --third)."""
    for role in LORA_ROLES:
        if getattr(args, f"{role}_lora", None) and role not in roles:
            raise DuetError(f"--{role}-lora needs a {role} pane; add --{role} SPEC")
