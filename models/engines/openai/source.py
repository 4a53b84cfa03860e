"""Where a server pane's model lives: the ``http(s)://HOST:PORT/v1#MODEL`` source, parsed.

Source syntax (what users type after --base/--chat/--third)::

    http://HOST:PORT/v1#MODEL
    https://HOST/v1?key_env=MY_KEY_VAR&connect_timeout=5&read_timeout=120#MODEL

* ``#MODEL`` is a model id from the server's ``GET /v1/models``; it may be left out when the
  server offers exactly one model.
* A missing or bare ``/`` path means ``/v1``.
* The API key is never part of the source. It is read from an environment variable: the one named
  by ``key_env=`` in the source, else the one named by ``DUET_API_KEY_ENV``, else ``OPENAI_API_KEY``
  when that is set (no key at all is fine for local servers). A key written into the URL
  (``http://user:key@host``) is refused. The key is sent only as ``Authorization: Bearer`` and never
  logged or put into an error message.
* ``connect_timeout`` / ``read_timeout`` (seconds) default to ``DUET_HTTP_CONNECT_TIMEOUT`` /
  ``DUET_HTTP_READ_TIMEOUT`` or 5 and 120. The read timeout is the longest wait for the next bytes
  of an answer (a long prompt on a slow server needs it generous).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from urllib.parse import parse_qs, unquote, urlsplit

from models.errors import DuetError

DEFAULT_CONNECT_TIMEOUT = 5.0
DEFAULT_READ_TIMEOUT = 120.0
API_KEY_ENV_VAR = "DUET_API_KEY_ENV"  # names the variable that holds the key
DEFAULT_KEY_VAR = "OPENAI_API_KEY"
_OPTIONS = ("key_env", "connect_timeout", "read_timeout")


@dataclass(frozen=True)
class RemoteSource:
    """A parsed ``http(s)://HOST:PORT/v1#MODEL`` source. Holds the *name* of the key variable only."""

    source: str
    base_url: str  # e.g. http://127.0.0.1:8080/v1 (no query, fragment or credentials)
    model: str | None
    key_env: str | None  # None: no explicit choice (DUET_API_KEY_ENV / OPENAI_API_KEY apply)
    connect_timeout: float
    read_timeout: float

    @property
    def server(self) -> str:
        """host:port, for labels and error messages."""
        parts = urlsplit(self.base_url)
        return parts.netloc

    @property
    def is_loopback(self) -> bool:
        host = (urlsplit(self.base_url).hostname or "").lower()
        return host in ("localhost", "::1") or host.startswith("127.")

    @property
    def root_url(self) -> str:
        """The server root, where llama.cpp keeps its non-OpenAI endpoints (/tokenize, /extras/...)."""
        base = self.base_url
        return base[: -len("/v1")] if base.endswith("/v1") else base

    def api_key(self) -> str | None:
        """The key from the environment, read when needed and never stored on the engine."""
        var = self.key_env_var()
        if var:
            value = os.environ.get(var)
            if not value:
                raise DuetError(
                    f"the API key variable {var} for the server at {self.server} is not set; "
                    f"export {var}=... or point key_env= / {API_KEY_ENV_VAR} at another variable"
                )
            return value
        return os.environ.get(DEFAULT_KEY_VAR) or None

    def key_env_var(self) -> str | None:
        """The variable explicitly chosen to hold the key (key_env=, else DUET_API_KEY_ENV), if any."""
        return self.key_env or os.environ.get(API_KEY_ENV_VAR) or None


def parse_remote_source(source: str) -> RemoteSource:
    source = source.strip()
    parts = urlsplit(source)
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https") or not parts.hostname:
        raise DuetError(f"'{source}' is not a server address; use http://HOST:PORT/v1#MODEL")
    if parts.username is not None or parts.password is not None:
        # Do not echo the source: it holds a credential.
        raise DuetError(
            f"the server address for {parts.hostname} has credentials in it; remove them and put the "
            f"API key in an environment variable instead (default {DEFAULT_KEY_VAR}, or name one with "
            f"key_env= or {API_KEY_ENV_VAR})"
        )
    try:
        port = parts.port
    except ValueError:
        raise DuetError(f"'{source}' has an invalid port; use http://HOST:PORT/v1#MODEL") from None
    path = parts.path.rstrip("/") or "/v1"
    host = parts.hostname if ":" not in parts.hostname else f"[{parts.hostname}]"
    netloc = f"{host}:{port}" if port else host
    base_url = f"{scheme}://{netloc}{path}"
    label = f"{scheme}://{netloc}{path}"
    query = {k: v[-1] for k, v in parse_qs(parts.query, keep_blank_values=True).items()}
    unknown = sorted(set(query) - set(_OPTIONS))
    if unknown:
        raise DuetError(f"unknown option(s) {', '.join(unknown)} in {label}; known: {', '.join(_OPTIONS)}")
    key_env = query.get("key_env") or None
    if key_env is not None and not key_env.replace("_", "").isalnum():
        raise DuetError(f"key_env in {label} must name an environment variable (letters, digits, _)")
    connect, read = _timeouts(query, label)
    model = unquote(parts.fragment) or None
    return RemoteSource(source, base_url, model, key_env, connect, read)


def _timeouts(query: dict[str, str], label: str) -> tuple[float, float]:
    """(connect, read) seconds: the source's options, else the environment's, else the defaults."""
    env = os.environ
    connect = _timeout_value(
        query.get("connect_timeout"),
        _timeout_value(
            env.get("DUET_HTTP_CONNECT_TIMEOUT"),
            DEFAULT_CONNECT_TIMEOUT,
            "DUET_HTTP_CONNECT_TIMEOUT",
            "the environment",
        ),
        "connect_timeout",
        label,
    )
    read = _timeout_value(
        query.get("read_timeout"),
        _timeout_value(
            env.get("DUET_HTTP_READ_TIMEOUT"), DEFAULT_READ_TIMEOUT, "DUET_HTTP_READ_TIMEOUT", "the environment"
        ),
        "read_timeout",
        label,
    )
    return connect, read


def _timeout_value(raw: str | None, default: float, name: str, source_label: str) -> float:
    if raw is None or raw == "":
        return default
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if not value > 0:
        raise DuetError(f"{name} in {source_label} must be a positive number of seconds, not '{raw}'")
    return value
