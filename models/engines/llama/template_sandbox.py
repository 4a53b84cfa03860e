"""A model's chat template, rendered in a helper process that Duet can limit and kill.

The helper (template_child.py) is a fresh interpreter started with subprocess (never a fork of the
app, which holds the models and the screen) at the template's first render, and reused for every
render of that model, so a normal render only pays a round trip through two pipes (about 0.3 ms,
measured: see README's Speed section). The first render is in practice the pane's warm-up
(models/session.py), which waits until every model has loaded: starting Python and Jinja2 (70 ms
of CPU) while the other pane's model still loads would slow that load, and the app's start-up
with it. Its bounds:

- time: the parent waits ``deadline_s`` for each reply, then kills the helper. 1 s: SmolLM2's
  template renders a 40-exchange conversation in under 2 ms, so only a template that loops gets
  near it, and the pane's turn ends well inside the 2 s Duet promises.
- memory: the helper's address space is limited to ``memory_mib`` (RLIMIT_AS; a Python with
  Jinja2 loaded is 25 MB of it), so ``"x" * 10**10`` fails there with MemoryError.
- output: the rendered text is counted while the template produces it and stopped past
  ``output_chars`` (4 million characters: far more than any context Duet loads holds).
- CPU time (RLIMIT_CPU per render), no files written, no processes started, and an empty
  environment, behind Jinja2's ImmutableSandboxedEnvironment, which still blocks attribute access.

A template that hits the time, memory or crash bound is not run again for that model (each try
would cost the bound again): chat mode then fails at once with the same line, and raw and inst
mode, which never render the template, keep working. Esc during a render kills the helper at
once and starts a fresh one for the next render.
"""

from __future__ import annotations

import json
import os
import queue
import signal
import struct
import subprocess
import sys
import threading
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from models.errors import Cancelled, DuetError
from models.prompts import PromptText

_HEADER = struct.Struct(">I")
STARTUP_DEADLINE_S = 15.0  # starting Python and importing Jinja2: 70 ms idle, seconds when swapping
WAY_OUT = (
    "switch the pane to raw or inst mode, or give it another chat format with --chat-template FORMAT "
    "(--base-template for the base pane; e.g. chatml)"
)


@dataclass(frozen=True)
class TemplateLimits:
    deadline_s: float = 1.0
    memory_mib: int = 256
    output_chars: int = 4_000_000
    cpu_seconds: int = 3  # per render, a backstop for the deadline (RLIMIT_CPU counts whole seconds)

    def child_arguments(self) -> str:
        values = asdict(self) | {"memory_bytes": self.memory_mib << 20}
        return json.dumps(values)


LIMITS = TemplateLimits()


class _OverTime(Exception):
    pass


class _Ended(Exception):
    """The helper is gone: it crashed, was killed by the kernel, or replied with garbage."""


class _CancelledWhileStarting(Cancelled):
    """Esc while the helper was still starting: nothing was sent to it, so it is kept."""


class _Helper:
    """One helper process, and the daemon thread that reads its replies into a queue (so that a
    wait can have a deadline and hear Esc)."""

    def __init__(self, limits: TemplateLimits) -> None:
        self.limits = limits
        env = {"PYTHONPATH": os.pathsep.join(p for p in sys.path if p), "PYTHONDONTWRITEBYTECODE": "1"}
        if "SYSTEMROOT" in os.environ:  # Python cannot start on Windows without it
            env["SYSTEMROOT"] = os.environ["SYSTEMROOT"]
        self.process = subprocess.Popen(
            [sys.executable, "-B", "-m", "models.engines.llama.template_child", limits.child_arguments()],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            env=env,
            cwd=Path(__file__).anchor or None,  # the file system root: nothing of the user's
            close_fds=True,
        )
        self._replies: queue.Queue[dict | None] = queue.Queue()
        self._max_reply = limits.output_chars * 12 + 4096  # JSON-escaped astral characters
        threading.Thread(target=self._read, name="duet-template-reader", daemon=True).start()
        self.ready = False

    def _read(self) -> None:
        stream = self.process.stdout
        assert stream is not None
        try:
            while len(header := stream.read(_HEADER.size)) == _HEADER.size:
                (length,) = _HEADER.unpack(header)
                if length > self._max_reply:
                    break
                body = stream.read(length)
                if len(body) < length:
                    break
                self._replies.put(json.loads(body))
        except (OSError, ValueError):
            pass
        self._replies.put(None)

    def ask(self, request: dict, cancel, deadline_s: float) -> dict:
        """Send one request and wait for its reply; _OverTime, Cancelled or _Ended."""
        if not self.ready:
            try:
                self._wait(cancel, STARTUP_DEADLINE_S)  # the {"ready": true} line
            except Cancelled:
                raise _CancelledWhileStarting() from None
            self.ready = True
        body = json.dumps(request).encode("ascii")
        try:
            assert self.process.stdin is not None
            self.process.stdin.write(_HEADER.pack(len(body)) + body)
            self.process.stdin.flush()
        except (OSError, ValueError):
            raise _Ended from None
        return self._wait(cancel, deadline_s)

    def _wait(self, cancel, deadline_s: float) -> dict:
        deadline = time.monotonic() + deadline_s
        while True:
            if cancel is not None and cancel.is_set():
                raise Cancelled()
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise _OverTime
            try:
                reply = self._replies.get(timeout=min(remaining, 0.05))
            except queue.Empty:
                continue
            if reply is None:
                raise _Ended
            return reply

    def ended_by(self) -> str:
        """What ended the helper, once it is gone: 'time' (its CPU limit) or 'crash'."""
        try:
            code = self.process.wait(timeout=1)
        except subprocess.TimeoutExpired:
            return "crash"
        return "time" if code == -getattr(signal, "SIGXCPU", -1) else "crash"

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        try:
            self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:  # pragma: no cover - a kill that did not take
            pass
        for pipe in (self.process.stdin, self.process.stdout):
            if pipe is not None:
                try:
                    pipe.close()
                except OSError:
                    pass


class SandboxedTemplate:
    """A model's Jinja chat template as a ChatRenderer: ``template(messages, cancel)`` renders
    in the helper process within ``limits``; DuetError (one line naming the file, the bound and
    the way out) when it cannot, Cancelled when ``cancel`` is set meanwhile."""

    def __init__(self, template: str, model_path: str, limits: TemplateLimits = LIMITS) -> None:
        self.template = template
        self.file = Path(model_path).name or model_path
        self.limits = limits
        self.bos, self.eos = "", ""  # set once llama.cpp has loaded the vocabulary
        self._helper: _Helper | None = None  # started by the first render (see the module's docstring)
        self._helper_lock = threading.Lock()  # the pane's worker renders; tests ask for helper_pid
        self._compiled = False
        self._failure: str | None = None  # a bound was hit: chat mode fails at once from now on

    def __call__(
        self, messages: list[dict], cancel: threading.Event | None = None, generation_prompt: bool = True
    ) -> PromptText:
        """``generation_prompt=False`` renders a conversation that ends with an answer as it would
        be trained on (models/tuning/render.py), without the next answer's opening."""
        if self._failure is not None:
            raise DuetError(self._failure)
        request = {"op": "render", "messages": messages, "bos": self.bos, "eos": self.eos}
        reply = self._ask(request | {"add_generation_prompt": generation_prompt}, cancel)
        return PromptText(text=reply["prompt"], add_bos=False, uses_context=True, stop=(self.eos,) if self.eos else ())

    def _started(self) -> _Helper:
        with self._helper_lock:
            if self._helper is None:
                self._helper = _Helper(self.limits)
                self._compiled = False
            return self._helper

    def _ask(self, request: dict, cancel) -> dict:
        helper = self._started()
        try:
            if not self._compiled:
                self._check(helper.ask({"op": "compile", "template": self.template}, cancel, self.limits.deadline_s))
                self._compiled = True
            return self._check(helper.ask(request, cancel, self.limits.deadline_s))
        except _CancelledWhileStarting:  # it was only starting: the next render uses it
            raise Cancelled() from None
        except Cancelled:  # Esc: the helper may be deep in a long render; a fresh one is started
            self._restart()
            raise
        except _OverTime:
            raise self._fail("time") from None
        except _Ended:
            raise self._fail(helper.ended_by()) from None

    def _check(self, reply: dict) -> dict:
        kind = reply.get("error")
        if kind is None:
            return reply
        if kind == "memory":
            raise self._fail("memory")
        if kind in ("output", "recursion"):
            self._restart()  # the helper is fine, but free what the render held
        raise DuetError(f"the chat template in {self.file} {self._bound(kind, reply.get('detail', ''))}; {WAY_OUT}")

    def _bound(self, kind: str, detail: str) -> str:
        limits = self.limits
        return {
            "time": f"ran past the {limits.deadline_s:g} s Duet allows a template render, so it was stopped",
            "memory": f"needed more than the {limits.memory_mib} MiB of memory Duet allows a template render",
            "output": f"produced over {limits.output_chars:,} characters, the most Duet accepts from a template",
            "recursion": "recursed too deeply",
            "crash": "crashed the process that renders it",
            "security": f"tried to reach Python internals, which Duet's sandbox forbids ({detail})",
            "syntax": f"is not a valid Jinja template ({detail})",
        }.get(kind, f"failed to render ({detail})")

    def _fail(self, kind: str) -> DuetError:
        """A bound that costs its full price on every try: remember it, stop the helper."""
        self._failure = f"the chat template in {self.file} {self._bound(kind, '')}; {WAY_OUT}"
        self.close()
        return DuetError(self._failure)

    def _restart(self) -> None:
        self.close()
        self._started()

    @property
    def helper_pid(self) -> int | None:
        """The helper process's id, started now if it was not yet (tests watch its memory); None
        once a bound has closed it for good."""
        return None if self._failure is not None else self._started().process.pid

    def close(self) -> None:
        with self._helper_lock:
            helper, self._helper = self._helper, None
        if helper is not None:
            helper.kill()
