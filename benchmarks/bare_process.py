"""Bare llama-cpp-python in a process of its own, driven over a pipe.

Figures 2 and 3 alternate app turns with bare runs. Running the bare side inside the app's process
would give it the app's extra threads and allocator state to live with; in its own process it
runs exactly as a script without Duet would, while the app waits idle.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from typing import Any

from benchmarks.bare import bare_llama, bare_stream


class PipedChild:
    """A Python child process running ``module`` (plus ``args``) that reads one JSON request per
    line on stdin and writes one JSON reply per line; a reply with "error" raises RuntimeError.
    ``what`` names it in those errors. The bare sides of figures 2, 3 and 18b are such children."""

    def __init__(self, module: str, what: str, args: tuple[str, ...] = (), env=None, cwd=None) -> None:
        self.what = what
        self._proc = subprocess.Popen(
            [sys.executable, "-m", module, *args],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            bufsize=1,
            env=env,
            cwd=cwd,
        )
        if self._proc.stdin is None or self._proc.stdout is None:  # never, with PIPE for both
            raise RuntimeError(f"the {what} has no pipes")
        self._stdin, self._stdout = self._proc.stdin, self._proc.stdout

    def request(self, message: dict) -> dict:
        self._stdin.write(json.dumps(message) + "\n")
        self._stdin.flush()
        line = self._stdout.readline()
        if not line:
            during = f" during '{message['op']}'" if "op" in message else ""
            raise RuntimeError(f"the {self.what} died{during}")
        reply = json.loads(line)
        if "error" in reply:
            raise RuntimeError(f"{self.what}: {reply['error']}")
        return reply

    def close(self) -> None:
        if self._proc.poll() is None:
            self._stdin.close()
            self._proc.wait(timeout=30)

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class BareProcess(PipedChild):
    def __init__(self, models: dict[str, int]):
        """``models``: embedded model name -> n_threads, loaded once in the child."""
        super().__init__("benchmarks.bare_process", "bare benchmark process")
        self.call("load", models=models)

    def call(self, op: str, **args) -> dict:
        return self.request({"op": op, **args})

    def stream(self, name: str, prompt: str, sampling) -> dict:
        """One cold streamed completion, as bare_stream gives it."""
        return self.call("stream", names=[name], prompt=prompt, sampling=sampling.model_dump())["runs"][0]

    def sequential(self, names: list[str], prompt: str, sampling) -> float:
        """Wall time of one cold completion per model, one after the other."""
        return self.call("stream", names=names, prompt=prompt, sampling=sampling.model_dump())["wall_s"]


def _serve() -> None:
    from models.files.embedded import embedded_path
    from models.settings import SamplingSettings

    models = {}
    for line in sys.stdin:
        request = json.loads(line)
        reply: dict[str, Any]
        try:
            if request["op"] == "load":
                for name, threads in request["models"].items():
                    models[name] = bare_llama(embedded_path(name), threads)
                reply = {"loaded": sorted(models)}
            elif request["op"] == "stream":
                sampling = SamplingSettings(**request["sampling"])
                started = time.perf_counter()
                runs = [bare_stream(models[name], request["prompt"], sampling) for name in request["names"]]
                reply = {"wall_s": time.perf_counter() - started, "runs": runs}
            else:
                reply = {"error": f"unknown op {request['op']!r}"}
        except Exception as err:  # reported to the parent, which raises it
            reply = {"error": f"{type(err).__name__}: {err}"}
        print(json.dumps(reply), flush=True)


if __name__ == "__main__":
    _serve()
