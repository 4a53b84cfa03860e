"""One exception type whose message is a complete, user-facing sentence."""


class DuetError(Exception):
    """An error the user can act on. ``str(err)`` is one line that names the thing and the fix."""

    def __init__(self, message: str):
        super().__init__(" ".join(message.split()))
