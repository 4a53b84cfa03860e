"""One exception type whose message is a complete, user-facing sentence, and the one way to turn a
pydantic validation error into the field and reason such a sentence names."""

from __future__ import annotations

from typing import NamedTuple

from pydantic import ValidationError


class DuetError(Exception):
    """An error the user can act on. ``str(err)`` is one line that names the thing and the fix."""

    def __init__(self, message: str):
        super().__init__(" ".join(message.split()))


class FieldError(NamedTuple):
    field: str  # dotted path of the offending field ("" when the whole object is wrong)
    message: str  # pydantic's reason, without its "Value error, " prefix


def first_field_error(err: ValidationError) -> FieldError:
    """The first problem pydantic found: every message about a bad file or option names just one."""
    first = err.errors()[0]
    field = ".".join(str(part) for part in first["loc"])
    return FieldError(field, str(first["msg"]).removeprefix("Value error, "))


class Cancelled(DuetError):
    """The user stopped the work in progress (Esc, Ctrl+C); nothing is wrong with the pane."""

    def __init__(self, message: str = "stopped") -> None:
        super().__init__(message)
