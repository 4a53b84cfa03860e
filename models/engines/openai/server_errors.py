"""What went wrong with a server, in one line: HTTP statuses, error bodies and connection failures
turned into DuetError messages that name the server and the fix, and never carry the API key."""

from __future__ import annotations

import json

import httpx

from models.engines.openai.source import API_KEY_ENV_VAR, DEFAULT_KEY_VAR, RemoteSource
from models.errors import DuetError

_MAX_SERVER_MESSAGE = 200


def one_line(text: str, limit: int = _MAX_SERVER_MESSAGE) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def server_message(body: bytes | str) -> str:
    """The human part of an error body: OpenAI's {"error": {"message"}} or FastAPI's {"detail"}."""
    if isinstance(body, bytes):
        body = body.decode("utf-8", errors="replace")
    try:
        data = json.loads(body)
    except ValueError:
        return one_line(body)
    if isinstance(data, dict):
        err = data.get("error", data.get("detail", data))
        if isinstance(err, dict):
            err = err.get("message") or err
        return one_line(err if isinstance(err, str) else json.dumps(err))
    return one_line(body)


def is_context_error(status: int, body: bytes | str) -> bool:
    if isinstance(body, bytes):
        body = body.decode("utf-8", errors="replace")
    low = body.lower()
    return status in (400, 413) and (
        "context_length_exceeded" in low
        or "context length" in low
        or "exceed_context_size" in low
        or "exceeds the available context" in low
        or "context size" in low
    )


def where(remote: RemoteSource) -> str:
    return f"the server at {remote.server}"


def scrub(remote: RemoteSource, text: str) -> str:
    """Make sure no error text ever carries the API key, even if a server echoes it."""
    try:
        key = remote.api_key()
    except DuetError:
        key = None
    if key and len(key) >= 4:
        text = text.replace(key, "***")
    return text


def _reason(remote: RemoteSource, err: Exception) -> str:
    return one_line(scrub(remote, str(err)) or type(err).__name__)


def connection_error(remote: RemoteSource, err: Exception) -> DuetError:
    """A request that got no HTTP answer at all (refused, timed out, dropped)."""
    if isinstance(err, httpx.ConnectTimeout):
        return DuetError(
            f"{where(remote)} did not accept a connection within {remote.connect_timeout:g} s; check that it is running and reachable"
        )
    if isinstance(err, httpx.ConnectError):
        reason = (
            "connection refused"
            if "refused" in str(err).lower()
            else one_line(scrub(remote, str(err)) or "cannot connect")
        )
        return DuetError(
            f"cannot reach {where(remote)} ({reason}); start the server or fix the address {remote.base_url}"
        )
    if isinstance(err, httpx.ReadTimeout):
        return DuetError(
            f"{where(remote)} sent nothing for {remote.read_timeout:g} s; it may be overloaded (raise read_timeout= in the source)"
        )
    return DuetError(f"talking to {where(remote)} failed: {_reason(remote, err)}")


def cut_off_error(remote: RemoteSource, err: Exception) -> DuetError:
    """A stream that failed after part of the answer had arrived (the partial answer is kept)."""
    if isinstance(err, httpx.ReadTimeout):
        return DuetError(
            f"{where(remote)} sent nothing for {remote.read_timeout:g} s mid-answer; the "
            "partial answer is kept; the server may be overloaded (raise read_timeout= in the source)"
        )
    return DuetError(
        f"{where(remote)} cut the answer off mid-stream ({_reason(remote, err)}); "
        "the partial answer is kept; check that the server is still running"
    )


def status_error(remote: RemoteSource, status: int, body: bytes | str, what: str) -> DuetError:
    """A non-200 answer to the ``what`` request ("models", "chat", "completion")."""
    if status in (401, 403):
        var = remote.key_env_var() or DEFAULT_KEY_VAR
        return DuetError(
            f"{where(remote)} rejected the API key (HTTP {status}); put a valid key in the environment "
            f"variable {var} (or name another with key_env= in the source or {API_KEY_ENV_VAR})"
        )
    message = scrub(remote, server_message(body))
    if is_context_error(status, body):
        return DuetError(
            f"the prompt is too long for the context of {where(remote)} ({message}); clear the "
            "conversation or shorten the prompt, or restart the server with a larger context"
        )
    if status == 404:
        return DuetError(
            f"{where(remote)} has no {what} endpoint or model (HTTP 404: {message}); check the address {remote.base_url} and the model id"
        )
    if status >= 500:
        return DuetError(f"{where(remote)} failed with HTTP {status} ({message}); check the server's log and retry")
    return DuetError(f"{where(remote)} refused the {what} request (HTTP {status}: {message})")
