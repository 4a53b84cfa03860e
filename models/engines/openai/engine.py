"""A pane backed by an OpenAI-compatible HTTP server (llama.cpp's llama-server, llama_cpp.server, ...).

The source syntax (``http://HOST:PORT/v1#MODEL``, the API key and the timeouts) is described and
parsed in `source`; one-line error messages are built in `server_errors`, the event stream is read
by `sse` and turned into one answer by `answer`.

Modes: ``raw`` and ``inst`` send the mode's text to ``/v1/completions``; ``chat`` sends the
conversation as messages to ``/v1/chat/completions`` and the server applies its own template.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import httpx

from models.engines.base import Engine, RenderedPrompt
from models.engines.openai.answer import RemoteAnswer, StreamError
from models.engines.openai.server_errors import connection_error, status_error, where
from models.engines.openai.source import RemoteSource, parse_remote_source
from models.engines.openai.sse import SSECancelled, SSEReader
from models.errors import DuetError
from models.events import Event
from models.files.info import ModelInfo
from models.prompts import Exchange, PromptMode, PromptText
from models.settings import ModelSpec, SamplingSettings
from models.threads import Lease

_NOT_LOADED = "the model is not loaded yet; wait for it to finish loading"


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
    @property
    def _remote(self) -> RemoteSource:
        if self.remote is None:
            raise DuetError(_NOT_LOADED)
        return self.remote

    def _http(self) -> httpx.Client:
        if self._client is None:
            r = self._remote
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
        key = self._remote.api_key()
        if key:
            headers["Authorization"] = f"Bearer {key}"
        return headers

    # -- loading ---------------------------------------------------------------------------------------
    def load(self) -> ModelInfo:
        self.remote = parse_remote_source(self.spec.source)
        self.model = self.remote.model
        self.close()
        entries = self._list_models()
        ids = [str(m["id"]) for m in entries]
        if self.model is None:
            if len(ids) != 1:
                available = ", ".join(ids) or "none"
                raise DuetError(
                    f"{where(self.remote)} serves {len(ids)} models; pick one with #MODEL at the end of the address (available: {available})"
                )
            self.model = ids[0]
        if self.model not in ids:
            available = ", ".join(ids) or "none"
            raise DuetError(f"{where(self.remote)} has no model '{self.model}'; available: {available}")
        self.info = self._model_info(self.model, entries[ids.index(self.model)])
        return self.info

    def _list_models(self) -> list[dict]:
        """The entries of GET /v1/models that have an id."""
        remote = self._remote
        url = f"{remote.base_url}/models"
        try:
            response = self._http().get(url, headers=self._headers())
        except httpx.HTTPError as err:
            raise connection_error(remote, err) from None
        if response.status_code != 200:
            raise status_error(remote, response.status_code, response.content, "models")
        try:
            listing = response.json()
            return [m for m in listing.get("data", []) if isinstance(m, dict) and m.get("id")]
        except (ValueError, AttributeError):
            raise DuetError(
                f"{where(remote)} answered GET {url} with something that is not a model list; is it an OpenAI-compatible server?"
            ) from None

    def _model_info(self, model: str, entry: dict) -> ModelInfo:
        remote = self._remote
        meta = entry.get("meta")
        if not isinstance(meta, dict):
            meta = {}
        n_ctx_train = meta.get("n_ctx_train") if isinstance(meta.get("n_ctx_train"), int) else None
        short = model.rsplit("/", 1)[-1]
        return ModelInfo(
            path=remote.base_url,
            label=f"{short} @ {remote.server}",
            architecture="remote",
            name=model,
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

    def _require(self) -> str:
        if self.info is None or self.model is None:
            raise DuetError(_NOT_LOADED)
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
        root = self._remote.root_url
        candidates: dict[str, tuple[str, dict]] = {
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
        data = self._post_json(f"{self._remote.root_url}/apply-template", {"messages": messages})
        prompt = data.get("prompt") if data else None
        return prompt if isinstance(prompt, str) else None

    def render(
        self,
        mode: PromptMode,
        text: str,
        history: Sequence[Exchange],
        sampling: SamplingSettings,
        cancel: threading.Event | None = None,  # the server renders: nothing long happens here
    ) -> RenderedPrompt:
        self._require()
        captured: list[list[dict]] = []
        chat_url = f"{self._remote.base_url}/chat/completions"

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
                prompt_file=built.prompt_file,
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
            prompt_file=built.prompt_file,
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
            return f"{self._remote.base_url}/chat/completions", body
        body["prompt"] = prompt.prompt if isinstance(prompt, RemotePrompt) else prompt.text
        return f"{self._remote.base_url}/completions", body

    def stream(
        self, prompt: RenderedPrompt, sampling: SamplingSettings, cancel: threading.Event, lease: Lease | None = None
    ) -> Iterator[Event]:
        url, body = self.request_body(prompt, sampling)
        headers = {**self._headers(), "Accept": "text/event-stream"}
        answer = RemoteAnswer(self._remote, prompt, sampling, chat="messages" in body)
        error: str | None = None
        cancelled = False
        reader = SSEReader(self._http(), url, body, headers)
        reader.start()
        try:
            for item in reader.events(cancel):
                if isinstance(item, SSECancelled):
                    cancelled = True
                    break
                yield from answer.take(item)
                if answer.done:
                    break
            else:  # the reader stopped without saying why
                answer.stopped_early()
        except StreamError as err:
            error = str(DuetError(str(err)))
        finally:
            reader.close()
        yield answer.finished(cancelled, error, had_stops=bool(body.get("stop")))

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None


def _estimate(text: str) -> int:
    """About four characters a token: only used when the server cannot tokenize."""
    return max(1, round(len(text) / 4)) if text else 0
