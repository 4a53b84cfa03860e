"""The program that renders chat templates, in a process of its own (template_sandbox.py starts it).

A GGUF's chat template is code from a stranger: rendered in the app, a template that loops or
repeats a string ten billion times freezes the pane and eats the machine's memory, and nothing
inside one process can stop a single C-level operation. Here it runs where it can be limited and
killed: an address-space limit, a CPU-time limit per render, an output cap checked while the
output is produced, no files written, no processes started, an environment holding nothing.

It imports only the standard library and Jinja2 (about 70 ms to start, 25 MB). It owns the short
formatter llama-cpp-python's Jinja2ChatFormatter would use (the same sandboxed environment,
options, filters and variables), because that class builds its environment privately.

The protocol, on stdin and stdout: each message is a 4-byte big-endian length and that many
bytes of UTF-8 JSON. Requests: {"op": "compile", "template": str} and {"op": "render",
"messages": [...], "bos": str, "eos": str}. Replies: {"ok": true[, "prompt": str]} or
{"error": KIND, "detail": str}; after a "memory" error the process exits (the parent starts a
fresh one). It also exits at the end of its input, which is when the app exits or dies.
"""

from __future__ import annotations

import json
import struct
import sys
from datetime import datetime
from typing import Any

_HEADER = struct.Struct(">I")


def _limit(limits: dict) -> None:
    """Bounds the kernel enforces, whatever the template does (POSIX; elsewhere only the parent's
    deadline and the output cap apply)."""
    sys.dont_write_bytecode = True
    try:
        import resource
        import signal
    except ImportError:
        return
    if hasattr(signal, "SIGXFSZ"):  # a write past RLIMIT_FSIZE then fails instead of killing
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    wanted = {
        "RLIMIT_AS": limits["memory_bytes"],
        "RLIMIT_CORE": 0,
        "RLIMIT_FSIZE": 0,  # no file is ever written
        "RLIMIT_NPROC": 0,  # no process or thread is ever started
    }
    for name, value in wanted.items():
        kind = getattr(resource, name, None)
        if kind is None:
            continue
        try:
            resource.setrlimit(kind, (value, value))
        except (ValueError, OSError):  # not enforced on this system (RLIMIT_AS on macOS)
            pass


def _cpu_bound(seconds: int) -> None:
    """A CPU-time limit for the next render (SIGXCPU ends the process when it is hit): the
    parent's wall-clock deadline is the bound that counts, this one backs it up."""
    try:
        import resource
    except ImportError:
        return
    used = resource.getrusage(resource.RUSAGE_SELF)
    try:
        resource.setrlimit(resource.RLIMIT_CPU, (int(used.ru_utime + used.ru_stime) + seconds, resource.RLIM_INFINITY))
    except (ValueError, OSError):
        pass


def _environment():
    import jinja2
    import jinja2.ext
    from jinja2.sandbox import ImmutableSandboxedEnvironment

    class IgnoreGenerationTags(jinja2.ext.Extension):
        """Pass-through for HuggingFace's ``{% generation %}`` chat-template tag."""

        tags = {"generation"}

        def parse(self, parser):
            parser.stream.skip(1)
            return parser.parse_statements(("name:endgeneration",), drop_needle=True)

    environment = ImmutableSandboxedEnvironment(
        loader=jinja2.BaseLoader(),
        trim_blocks=True,
        lstrip_blocks=True,
        extensions=[IgnoreGenerationTags, jinja2.ext.loopcontrols],
    )
    environment.filters["tojson"] = _tojson
    return environment


def _tojson(x: Any, ensure_ascii: bool = False, indent=None, separators=None, sort_keys: bool = False) -> str:
    return json.dumps(x, ensure_ascii=ensure_ascii, indent=indent, separators=separators, sort_keys=sort_keys)


def _raise_exception(message: str):
    raise ValueError(message)


def _strftime_now(f: str) -> str:
    return datetime.now().strftime(f)


class _Renderer:
    def __init__(self, limits: dict) -> None:
        self.limits = limits
        self.environment = _environment()
        self.template = None

    def handle(self, request: dict) -> dict:
        from jinja2 import TemplateSyntaxError
        from jinja2.exceptions import SecurityError

        try:
            if request["op"] == "compile":
                self.template = self.environment.from_string(request["template"])
                return {"ok": True}
            return self.render(request)
        except MemoryError:
            return {"error": "memory", "detail": ""}
        except RecursionError:
            return {"error": "recursion", "detail": ""}
        except TemplateSyntaxError as err:
            return {"error": "syntax", "detail": f"line {err.lineno}: {err.message}"}
        except SecurityError as err:
            return {"error": "security", "detail": str(err)}
        except Exception as err:  # the template's own raise_exception, a type error, ...
            return {"error": "template", "detail": f"{type(err).__name__}: {err}"}

    def render(self, request: dict) -> dict:
        if self.template is None:
            return {"error": "template", "detail": "no template was compiled"}
        _cpu_bound(self.limits["cpu_seconds"])
        chunks, size, cap = [], 0, self.limits["output_chars"]
        for chunk in self.template.generate(
            messages=request["messages"],
            eos_token=request["eos"],
            bos_token=request["bos"],
            raise_exception=_raise_exception,
            add_generation_prompt=request.get("add_generation_prompt", True) is not False,
            functions=None,
            function_call=None,
            tools=None,
            tool_choice=None,
            strftime_now=_strftime_now,
        ):
            size += len(chunk)
            if size > cap:
                return {"error": "output", "detail": ""}
            chunks.append(chunk)
        return {"ok": True, "prompt": "".join(chunks)}


def _read(stream) -> dict | None:
    header = stream.read(_HEADER.size)
    if len(header) < _HEADER.size:
        return None
    (length,) = _HEADER.unpack(header)
    body = stream.read(length)
    return json.loads(body) if len(body) == length else None


def _write(stream, reply: dict) -> None:
    body = json.dumps(reply).encode("ascii")
    stream.write(_HEADER.pack(len(body)) + body)
    stream.flush()


def main() -> None:
    stdin, stdout = sys.stdin.buffer, sys.stdout.buffer
    limits = json.loads(sys.argv[1])
    renderer = _Renderer(limits)  # Jinja2 imported before the limits: nothing is loaded later
    _limit(limits)
    _write(stdout, {"ok": True, "ready": True})
    while (request := _read(stdin)) is not None:
        reply = renderer.handle(request)
        _write(stdout, reply)
        if reply.get("error") == "memory":
            return


if __name__ == "__main__":
    main()
