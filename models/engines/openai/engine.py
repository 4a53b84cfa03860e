"""A pane backed by an OpenAI-compatible HTTP server (llama.cpp's llama-server, llama_cpp.server, ...).

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

Modes: ``raw`` and ``inst`` send the mode's text to ``/v1/completions``; ``chat`` sends the
conversation as messages to ``/v1/chat/completions`` and the server applies its own template.
"""

from __future__ import annotations

import json
import os
import queue
import socket
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from urllib.parse import parse_qs, unquote, urlsplit

import httpx

from models.engines.base import AnswerClock, Engine, RenderedPrompt
from models.errors import DuetError
from models.events import Event, Finished, TextDelta
from models.files.info import ModelInfo
from models.prompts import Exchange, PromptMode, PromptText
from models.settings import ModelSpec, SamplingSettings
from models.threads import Lease

DEFAULT_CONNECT_TIMEOUT = 5.0
DEFAULT_READ_TIMEOUT = 120.0
API_KEY_ENV_VAR = "DUET_API_KEY_ENV"  # names the variable that holds the key
DEFAULT_KEY_VAR = "OPENAI_API_KEY"
_POLL_S = 0.05  # how often a waiting stream looks at the cancel flag
_MAX_SERVER_MESSAGE = 200


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
        var = self.key_env or os.environ.get(API_KEY_ENV_VAR) or None
        if var:
            value = os.environ.get(var)
            if not value:
                raise DuetError(
                    f"the API key variable {var} for the server at {self.server} is not set; "
                    f"export {var}=... or point key_env= / {API_KEY_ENV_VAR} at another variable"
                )
            return value
        return os.environ.get(DEFAULT_KEY_VAR) or None


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
    unknown = sorted(set(query) - {"key_env", "connect_timeout", "read_timeout"})
    if unknown:
        raise DuetError(
            f"unknown option(s) {', '.join(unknown)} in {label}; known: key_env, connect_timeout, read_timeout"
        )
    key_env = query.get("key_env") or None
    if key_env is not None and not key_env.replace("_", "").isalnum():
        raise DuetError(f"key_env in {label} must name an environment variable (letters, digits, _)")
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
    model = unquote(parts.fragment) or None
    return RemoteSource(source, base_url, model, key_env, connect, read)


@dataclass(frozen=True)
class RemotePrompt(RenderedPrompt):
    """A RenderedPrompt that also carries the request it stands for.

    ``text`` is exactly the prompt sent (raw/inst) or a readable transcript of the messages (chat).
    ``token_count_estimated`` is True when the server could not count the tokens exactly.
    """

    endpoint: str = ""  # "completions" or "chat/completions"
    prompt: str = ""  # what /v1/completions receives
    messages: tuple[tuple[str, str], ...] = ()  # (role, content) for /v1/chat/completions


def chat_transcript(messages: Sequence[dict], url: str) -> str:
    lines = [
        f"# {len(messages)} message(s) sent as JSON to {url}",
        "# the server applies its own chat template to them",
    ]
    for message in messages:
        lines.append("")
        lines.append(f"[{message['role']}]")
        lines.append(message["content"])
    return "\n".join(lines)


def _one_line(text: str, limit: int = _MAX_SERVER_MESSAGE) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _server_message(body: bytes | str) -> str:
    """The human part of an error body: OpenAI's {"error": {"message"}} or FastAPI's {"detail"}."""
    if isinstance(body, bytes):
        body = body.decode("utf-8", errors="replace")
    try:
        data = json.loads(body)
    except ValueError:
        return _one_line(body)
    if isinstance(data, dict):
        err = data.get("error", data.get("detail", data))
        if isinstance(err, dict):
            err = err.get("message") or err
        return _one_line(err if isinstance(err, str) else json.dumps(err))
    return _one_line(body)


def _is_context_error(status: int, body: bytes | str) -> bool:
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


class _StreamError(Exception):
    """Ends a stream with a message for the user (the partial answer is kept)."""


class OpenAIEngine(Engine):
    """The Engine interface over an OpenAI-compatible server, streaming server-sent events."""

    def __init__(self, spec: ModelSpec, transport: httpx.BaseTransport | None = None):
        super().__init__(spec)
        self.remote: RemoteSource | None = None  # parsed in load(), so a bad address is a load error
        self.model: str | None = None
        self._transport = transport
        self._client: httpx.Client | None = None
        self._tokenizer: str | None = None  # "llama.cpp", "llama_cpp.server", "" (none), None (unknown)

    # -- HTTP plumbing -------------------------------------------------------------------------------
    def _http(self) -> httpx.Client:
        if self._client is None:
            r = self.remote
            self._client = httpx.Client(
                timeout=httpx.Timeout(
                    connect=r.connect_timeout, read=r.read_timeout, write=30.0, pool=r.connect_timeout
                ),
                transport=self._transport,
                follow_redirects=False,
                # Proxy/CA settings from the environment apply to remote servers, never to this machine's.
                trust_env=not r.is_loopback,
            )
        return self._client

    def _headers(self) -> dict[str, str]:
        headers = {"Accept": "application/json"}
        key = self.remote.api_key()
        if key:
            headers["Authorization"] = f"Bearer {key}"
        return headers

    def _scrub(self, text: str) -> str:
        """Make sure no error text ever carries the API key, even if a server echoes it."""
        try:
            key = self.remote.api_key()
        except DuetError:
            key = None
        if key and len(key) >= 4:
            text = text.replace(key, "***")
        return text

    def _where(self) -> str:
        return f"the server at {self.remote.server}"

    def _connection_error(self, err: httpx.HTTPError) -> DuetError:
        r = self.remote
        if isinstance(err, httpx.ConnectTimeout):
            return DuetError(
                f"{self._where()} did not accept a connection within {r.connect_timeout:g} s; check that it is running and reachable"
            )
        if isinstance(err, httpx.ConnectError):
            reason = (
                "connection refused"
                if "refused" in str(err).lower()
                else _one_line(self._scrub(str(err)) or "cannot connect")
            )
            return DuetError(
                f"cannot reach {self._where()} ({reason}); start the server or fix the address {r.base_url}"
            )
        if isinstance(err, httpx.ReadTimeout):
            return DuetError(
                f"{self._where()} sent nothing for {r.read_timeout:g} s; it may be overloaded (raise read_timeout= in the source)"
            )
        return DuetError(f"talking to {self._where()} failed: {_one_line(self._scrub(str(err)) or type(err).__name__)}")

    def _status_error(self, status: int, body: bytes | str, what: str) -> DuetError:
        where = self._where()
        if status in (401, 403):
            var = self.remote.key_env or os.environ.get(API_KEY_ENV_VAR) or DEFAULT_KEY_VAR
            return DuetError(
                f"{where} rejected the API key (HTTP {status}); put a valid key in the environment "
                f"variable {var} (or name another with key_env= in the source or {API_KEY_ENV_VAR})"
            )
        message = self._scrub(_server_message(body))
        if _is_context_error(status, body):
            return DuetError(
                f"the prompt is too long for the context of {where} ({message}); clear the "
                "conversation or shorten the prompt, or restart the server with a larger context"
            )
        if status == 404:
            return DuetError(
                f"{where} has no {what} endpoint or model (HTTP 404: {message}); check the address {self.remote.base_url} and the model id"
            )
        if status >= 500:
            return DuetError(f"{where} failed with HTTP {status} ({message}); check the server's log and retry")
        return DuetError(f"{where} refused the {what} request (HTTP {status}: {message})")

    # -- loading ---------------------------------------------------------------------------------------
    def load(self) -> ModelInfo:
        self.remote = parse_remote_source(self.spec.source)
        self.model = self.remote.model
        self.close()
        url = f"{self.remote.base_url}/models"
        try:
            response = self._http().get(url, headers=self._headers())
        except httpx.HTTPError as err:
            raise self._connection_error(err) from None
        if response.status_code != 200:
            raise self._status_error(response.status_code, response.content, "models")
        try:
            listing = response.json()
            entries = [m for m in listing.get("data", []) if isinstance(m, dict) and m.get("id")]
        except (ValueError, AttributeError):
            raise DuetError(
                f"{self._where()} answered GET {url} with something that is not a model list; is it an OpenAI-compatible server?"
            ) from None
        ids = [str(m["id"]) for m in entries]
        if self.model is None:
            if len(ids) != 1:
                available = ", ".join(ids) or "none"
                raise DuetError(
                    f"{self._where()} serves {len(ids)} models; pick one with #MODEL at the end of the address (available: {available})"
                )
            self.model = ids[0]
        if self.model not in ids:
            available = ", ".join(ids) or "none"
            raise DuetError(f"{self._where()} has no model '{self.model}'; available: {available}")
        entry = entries[ids.index(self.model)]
        meta = entry.get("meta") if isinstance(entry.get("meta"), dict) else {}
        n_ctx_train = meta.get("n_ctx_train") if isinstance(meta.get("n_ctx_train"), int) else None
        short = self.model.rsplit("/", 1)[-1]
        self.info = ModelInfo(
            path=self.remote.base_url,
            label=f"{short} @ {self.remote.server}",
            architecture="remote",
            name=self.model,
            size_label=None,
            quantization=None,
            context_length=n_ctx_train,
            n_layers=None,
            has_chat_template=True,  # the server applies its own template
            chat_template=None,
            file_size=0,
            gpu_offload_supported=None,
            gpu_layers=None,
            n_ctx=None,
            n_threads=None,
        )
        return self.info

    def _require(self) -> str:
        if self.info is None or self.model is None:
            raise DuetError("the model is not loaded yet; wait for it to finish loading")
        return self.model

    # -- prompts ---------------------------------------------------------------------------------------
    def _post_json(self, url: str, payload: dict) -> dict | None:
        """POST for a small JSON answer; None when the endpoint is missing or fails."""
        try:
            response = self._http().post(url, json=payload, headers=self._headers())
        except httpx.HTTPError:
            return None
        if response.status_code != 200:
            return None
        try:
            data = response.json()
        except ValueError:
            return None
        return data if isinstance(data, dict) else None

    def count_tokens(self, text: str) -> int | None:
        """Tokens in ``text`` (BOS included) by the server's own tokenizer, or None if it has no endpoint."""
        model = self._require()
        root = self.remote.root_url
        candidates = {
            "llama.cpp": (f"{root}/tokenize", {"content": text, "add_special": True}),
            "llama_cpp.server": (f"{root}/extras/tokenize", {"input": text, "model": model}),
        }
        order = [self._tokenizer] if self._tokenizer else list(candidates)
        if self._tokenizer == "":
            return None
        for kind in order:
            url, payload = candidates[kind]
            data = self._post_json(url, payload)
            tokens = data.get("tokens") if data else None
            if isinstance(tokens, list):
                self._tokenizer = kind
                return len(tokens)
        if self._tokenizer is None:
            self._tokenizer = ""  # neither exists: estimate from now on
        return None

    def _chat_prompt_text(self, messages: list[dict]) -> str | None:
        """llama.cpp's server can show the exact templated prompt (POST /apply-template)."""
        if self._tokenizer != "llama.cpp":
            return None
        data = self._post_json(f"{self.remote.root_url}/apply-template", {"messages": messages})
        prompt = data.get("prompt") if data else None
        return prompt if isinstance(prompt, str) else None

    def render(
        self, mode: PromptMode, text: str, history: Sequence[Exchange], sampling: SamplingSettings
    ) -> RenderedPrompt:
        self._require()
        captured: list[list[dict]] = []
        chat_url = f"{self.remote.base_url}/chat/completions"

        def renderer(messages: list[dict]) -> PromptText:
            captured.append(messages)
            return PromptText(text=chat_transcript(messages, chat_url), add_bos=False, uses_context=True)

        built = mode.build(text, list(history), renderer)
        if captured:
            messages = captured[-1]
            contents = self.count_tokens("\n".join(m["content"] for m in messages))
            templated = self._chat_prompt_text(messages)  # only llama.cpp's server can say exactly
            exact = self.count_tokens(templated) if templated is not None else None
            if exact is not None:
                count, estimated = exact, False
            else:
                if contents is None:
                    contents = _estimate("\n".join(m["content"] for m in messages))
                # Every message costs a few template tokens (role markers, separators) on top.
                count, estimated = contents + 4 * len(messages) + 2, True
            return RemotePrompt(
                mode=mode.name,
                text=built.text,
                token_count=count or 0,
                context_used=len(history),
                dropped_turns=0,
                add_bos=False,
                stop=built.stop,
                endpoint="chat/completions",
                messages=tuple((m["role"], m["content"]) for m in messages),
                token_count_estimated=estimated,
            )
        exact = self.count_tokens(built.text)
        return RemotePrompt(
            mode=mode.name,
            text=built.text,
            token_count=exact if exact is not None else _estimate(built.text),
            context_used=0,
            dropped_turns=0,
            add_bos=built.add_bos,
            stop=built.stop,
            endpoint="completions",
            prompt=built.text,
            token_count_estimated=exact is None,
        )

    # -- generation ------------------------------------------------------------------------------------
    def request_body(self, prompt: RenderedPrompt, sampling: SamplingSettings) -> tuple[str, dict]:
        """The endpoint URL and JSON body for ``prompt`` (sampling settings mapped to request fields)."""
        model = self._require()
        stops = [s for s in (*sampling.stop, *prompt.stop) if s]
        body: dict = {
            "model": model,
            "stream": True,
            "stream_options": {"include_usage": True},
            "temperature": sampling.temperature,
            "top_p": sampling.top_p,
            "max_tokens": sampling.max_tokens,
            "seed": sampling.seed,
            # Not in OpenAI's API; llama.cpp servers honour them.
            "top_k": sampling.top_k,
            "min_p": sampling.min_p,
            "repeat_penalty": sampling.repeat_penalty,
        }
        if stops:
            body["stop"] = stops
        if isinstance(prompt, RemotePrompt) and prompt.endpoint == "chat/completions":
            body["messages"] = [{"role": r, "content": c} for r, c in prompt.messages]
            return f"{self.remote.base_url}/chat/completions", body
        body["prompt"] = prompt.prompt if isinstance(prompt, RemotePrompt) else prompt.text
        return f"{self.remote.base_url}/completions", body

    def stream(
        self, prompt: RenderedPrompt, sampling: SamplingSettings, cancel: threading.Event, lease: Lease | None = None
    ) -> Iterator[Event]:
        url, body = self.request_body(prompt, sampling)
        headers = {**self._headers(), "Accept": "text/event-stream"}
        chat = "messages" in body
        clock = AnswerClock()
        text = ""
        chunks = 0
        usage: dict = {}
        timings: dict = {}
        finish: str | None = None
        error: str | None = None
        cancelled = False
        seen_data = False
        reader = _SSEReader(self._http(), url, body, headers)
        reader.start()
        try:
            for kind, payload in reader.events(cancel):
                if kind == "cancelled":
                    cancelled = True
                    break
                if kind == "http_error":
                    status, content = payload
                    raise _StreamError(str(self._status_error(status, content, "chat" if chat else "completion")))
                if kind == "error":
                    if text and isinstance(payload, httpx.ReadTimeout):
                        raise _StreamError(
                            f"{self._where()} sent nothing for {self.remote.read_timeout:g} s mid-answer; the "
                            "partial answer is kept; the server may be overloaded (raise read_timeout= in the source)"
                        )
                    if text:
                        raise _StreamError(
                            f"{self._where()} cut the answer off mid-stream ({_one_line(self._scrub(str(payload)) or type(payload).__name__)}); "
                            "the partial answer is kept; check that the server is still running"
                        )
                    raise _StreamError(str(self._connection_error(payload)))
                if kind == "end":
                    if finish is None and not seen_data:
                        # llama_cpp.server reports a prompt that does not fit by ending the stream.
                        raise _StreamError(
                            f"{self._where()} ended the stream without an answer; the prompt is "
                            f"{'about ' if prompt.token_count_estimated else ''}"
                            f"{prompt.token_count} tokens plus {sampling.max_tokens} to generate: if that is "
                            "more than the server's context, shorten the prompt, clear the conversation or "
                            "lower max tokens; otherwise see the server's log"
                        )
                    if finish is None:
                        raise _StreamError(
                            f"{self._where()} ended the stream before the answer was finished; the partial "
                            "answer is kept; check the server's log"
                        )
                    break
                # kind == "data": one SSE event's data
                seen_data = True
                if payload == "[DONE]":
                    finish = finish or "stop"
                    break
                try:
                    data = json.loads(payload)
                except ValueError:
                    raise _StreamError(f"{self._where()} sent a malformed event ({_one_line(payload, 80)})") from None
                if not isinstance(data, dict):
                    continue
                if "error" in data:
                    err = data["error"]
                    message = err.get("message") if isinstance(err, dict) else err
                    raise _StreamError(
                        f"{self._where()} reported an error mid-answer: {self._scrub(_one_line(str(message)))}"
                    )
                if isinstance(data.get("usage"), dict):
                    usage = data["usage"]
                if isinstance(data.get("timings"), dict):
                    timings = data["timings"]
                for choice in data.get("choices") or []:
                    if not isinstance(choice, dict):
                        continue
                    piece = (choice.get("delta") or {}).get("content") if chat else choice.get("text")
                    if piece:
                        clock.last = clock.tick()
                        chunks += 1
                        text += piece
                        yield TextDelta(piece)
                    if choice.get("finish_reason"):
                        finish = choice["finish_reason"]
            else:  # the reader stopped without saying why
                if finish is None:
                    raise _StreamError(f"{self._where()} ended the stream before the answer was finished")
        except _StreamError as err:
            error = str(DuetError(str(err)))
        finally:
            reader.close()
        if cancelled:
            stop_reason = "cancelled"
        elif error is not None:
            stop_reason = "error"
        else:
            stop_reason = _stop_reason(finish, bool(body.get("stop")))
        tokens = _int(usage.get("completion_tokens")) or _int(timings.get("predicted_n")) or chunks
        prompt_tokens = _int(usage.get("prompt_tokens")) or prompt.token_count
        metrics = clock.metrics(tokens, stop_reason, prompt_tokens)
        yield Finished(text, metrics, error)

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None


def _int(value) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else 0


def _estimate(text: str) -> int:
    """About four characters a token: only used when the server cannot tokenize."""
    return max(1, round(len(text) / 4)) if text else 0


def _stop_reason(finish: str | None, had_stops: bool) -> str:
    if finish == "length":
        return "length"
    if finish == "stop" or finish is None:
        # OpenAI says "stop" both for end-of-sequence and for a stop string; with no stop strings
        # sent it can only have been the end of the sequence.
        return "stop" if had_stops else "eos"
    return "stop"


class _SSEReader(threading.Thread):
    """Runs one streaming request on its own thread so the pane can stop waiting at once.

    The pane's thread takes ("data", str) / ("http_error", (status, body)) / ("error", exc) /
    ("end", None) items from a queue, checking its cancel flag between them; close() shuts the socket
    down so the server notices the client is gone and the read here ends immediately.
    """

    def __init__(self, client: httpx.Client, url: str, body: dict, headers: dict[str, str]):
        super().__init__(daemon=True, name="duet-sse")
        self._client, self._url, self._body, self._headers = client, url, body, headers
        self._queue: queue.Queue = queue.Queue()
        self._closed = threading.Event()
        self._response: httpx.Response | None = None
        self._lock = threading.Lock()

    def run(self) -> None:
        try:
            with self._client.stream("POST", self._url, json=self._body, headers=self._headers) as response:
                with self._lock:
                    self._response = response
                if self._closed.is_set():
                    return
                if response.status_code != 200:
                    self._queue.put(("http_error", (response.status_code, response.read()[:4096])))
                    return
                data: list[str] = []
                for line in response.iter_lines():
                    if self._closed.is_set():
                        return
                    if line == "":
                        if data:
                            self._queue.put(("data", "\n".join(data)))
                            data = []
                        continue
                    if line.startswith(":"):
                        continue  # an SSE comment (keep-alive)
                    field, _, value = line.partition(":")
                    if value.startswith(" "):
                        value = value[1:]
                    if field == "data":
                        data.append(value)
                    elif field == "error":  # llama.cpp's server sends `error: {...}` lines mid-stream
                        try:
                            detail = json.loads(value)
                        except ValueError:
                            detail = value
                        data.append(json.dumps({"error": detail}))
                if data:
                    self._queue.put(("data", "\n".join(data)))
                self._queue.put(("end", None))
        except Exception as err:  # noqa: BLE001 - any failure ends the stream with a message
            if not self._closed.is_set():
                self._queue.put(("error", err))

    def events(self, cancel: threading.Event) -> Iterator[tuple[str, object]]:
        while True:
            if cancel.is_set():
                yield ("cancelled", None)
                return
            try:
                item = self._queue.get(timeout=_POLL_S)
            except queue.Empty:
                if not self.is_alive() and self._queue.empty():
                    return
                continue
            yield item
            if item[0] in ("end", "error", "http_error"):
                return

    def close(self) -> None:
        """Stop reading and drop the connection (so a llama.cpp server stops generating)."""
        self._closed.set()
        with self._lock:
            response = self._response
        if response is None:
            return
        stream = response.extensions.get("network_stream")
        sock = stream.get_extra_info("socket") if stream is not None else None
        if isinstance(sock, socket.socket):
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        if not self.is_alive():
            response.close()
