"""Each example rendered with the model's own chat template, and which of its tokens are answers.

The template runs in Duet's sandbox (engines/llama/template_sandbox.py), as in chat mode. For every
assistant message the prompt before it is rendered as chat mode sends it (with the generation
prompt) and the conversation up to and including it without one; the difference is the answer as
the model should write it, end-of-turn marker included. The prompt and answer pieces are tokenized
one by one, so the answer tokens are exactly known: llama.cpp's training API has no label mask and
trains on every token, and Duet uses the marks for the held-out answer loss and the --dry-run view.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path

from models.engines.llama import runtime
from models.engines.llama.template_sandbox import SandboxedTemplate
from models.errors import DuetError
from models.tuning.data import Example


@dataclass(frozen=True)
class RenderedExample:
    segments: tuple[tuple[str, bool], ...]  # (text, is an answer) in order
    tokens: tuple[int, ...]
    answer: tuple[bool, ...]  # per token: part of an assistant answer
    where: str

    @property
    def answer_tokens(self) -> int:
        return sum(self.answer)


class Vocab:
    """A model's vocabulary alone (llama.cpp loads no weights for it): tokenizing and special texts."""

    def __init__(self, path: Path) -> None:
        lib = runtime.llama_cpp()
        from llama_cpp._internals import LlamaModel

        params = lib.llama_model_default_params()
        params.vocab_only = True
        try:
            self._model = LlamaModel(path_model=str(path), params=params, verbose=False)
        except (ValueError, RuntimeError, OSError) as err:
            reason = runtime.recent_log_error() or str(err)
            raise DuetError(f"llama.cpp could not read the vocabulary of {path.name}: {reason}") from None
        self.n_vocab = self._model.n_vocab()

    def tokenize(self, text: str, add_bos: bool = False) -> list[int]:
        return self._model.tokenize(text.encode("utf-8"), add_bos=add_bos, special=True)

    def special_text(self, token: int) -> str:
        return self._model.token_get_text(token) if token != -1 else ""

    def bos_eos(self) -> tuple[str, str]:
        return self.special_text(self._model.token_bos()), self.special_text(self._model.token_eos())

    def close(self) -> None:
        self._model.close()


class ExampleRenderer:
    """Renders examples for one model: its template in the sandbox, its vocabulary."""

    def __init__(self, template: str, path: Path, vocab: Vocab) -> None:
        self.vocab = vocab
        self.template = SandboxedTemplate(template, str(path))
        self.template.bos, self.template.eos = vocab.bos_eos()

    def _render(self, messages: list[dict], generation: bool, cancel: threading.Event | None) -> str:
        return self.template(messages, cancel, generation_prompt=generation).text

    def segments(self, example: Example, cancel: threading.Event | None = None) -> list[tuple[str, bool]]:
        """The example's text cut into prompt and answer pieces (True: an answer)."""
        messages = [dict(m) for m in example.messages]
        full = self._render(messages, False, cancel)
        pieces: list[tuple[str, bool]] = []
        done = 0
        for k, message in enumerate(messages):
            if message["role"] != "assistant":
                continue
            prompt = self._render(messages[:k], True, cancel)
            through = self._render(messages[: k + 1], False, cancel)
            if not (through.startswith(prompt) and full.startswith(through) and len(prompt) >= done):
                raise DuetError(
                    f"{example.where}: this model's chat template does not render an answer after its prompt, "
                    "so Duet cannot tell the answer apart; use a model whose template does (e.g. SmolLM2)"
                )
            pieces += [(prompt[done:], False), (through[len(prompt) :], True)]
            done = len(through)
        if done < len(full):
            pieces.append((full[done:], False))
        return [(text, answer) for text, answer in pieces if text]

    def render(self, example: Example, cancel: threading.Event | None = None) -> RenderedExample:
        segments = self.segments(example, cancel)
        tokens: list[int] = []
        answer: list[bool] = []
        for text, is_answer in segments:
            ids = self.vocab.tokenize(text)
            tokens += ids
            answer += [is_answer] * len(ids)
        return RenderedExample(tuple(segments), tuple(tokens), tuple(answer), example.where)

    def close(self) -> None:
        self.template.close()


def marked(example: RenderedExample, answer_open: str = "[[", answer_close: str = "]]") -> str:
    """The example's text with the answer pieces between markers (the --dry-run view)."""
    return "".join(f"{answer_open}{text}{answer_close}" if answer else text for text, answer in example.segments)
