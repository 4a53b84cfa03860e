"""What the bounds on hostile model files cost a normal model (issue 17), against the same work
done without them, in the same run.

- Figure 9, template render: SmolLM2's chat template rendered in Duet's helper process
  (models/engines/llama/template_sandbox.py: a round trip through two pipes) vs rendered in this
  process with Jinja2's ImmutableSandboxedEnvironment, the way llama-cpp-python's formatter does.
  Target: under 5 ms added per render.
- Figure 10, the abort switch: SmolLM2 greedy decoding with Duet's abort callback on the context
  (models/engines/llama/abort.py: llama.cpp calls it after every graph node) vs the same model
  loaded again without one, turns interleaved; decode tokens/s and a ~400-token prompt's
  evaluation. Target: >= 0.97 of the speed without it.
"""

from __future__ import annotations

import statistics
import threading
import time

from benchmarks.bare import bare_llama
from benchmarks.stats import figure_result, interleave, median, ratio
from models.files.embedded import DEFAULT_CHAT, embedded_path

MESSAGES = [
    {"role": "user", "content": "Tell me how to train my dog to sit"},
    {"role": "assistant", "content": "Hold a treat above its nose and say sit."},
    {"role": "user", "content": "And to stay?"},
]
LONG_PROMPT = "The history of the Roman Empire, told year by year. " * 40  # about 400 tokens


def _chat_path():
    return embedded_path(DEFAULT_CHAT.removeprefix("embedded:"))


def template_render(renders: int) -> dict:
    from jinja2.sandbox import ImmutableSandboxedEnvironment

    from models.engines.llama.template_sandbox import SandboxedTemplate
    from models.files.gguf import read_header

    path = _chat_path()
    template_text = str(read_header(path).metadata["tokenizer.chat_template"])
    sandboxed = SandboxedTemplate(template_text, str(path))
    sandboxed.bos, sandboxed.eos = "<|im_start|>", "<|im_end|>"
    in_process = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True).from_string(template_text)
    try:
        sandboxed(MESSAGES)  # the helper has started and compiled the template

        def duet() -> float:
            started = time.perf_counter()
            sandboxed(MESSAGES)
            return time.perf_counter() - started

        def bare() -> float:
            started = time.perf_counter()
            in_process.render(messages=MESSAGES, add_generation_prompt=True, bos_token="", eos_token="<|im_end|>")
            return time.perf_counter() - started

        d, b = interleave(renders, duet, bare)
    finally:
        sandboxed.close()
    added_ms = (median(d) - median(b)) * 1000
    return figure_result(
        "9. template render in the sandbox",
        median(d) * 1000,
        median(b) * 1000,
        ratio(median(d), median(b)),
        "< 5 ms added",
        added_ms < 5,
        "ms",
        added_ms=round(added_ms, 3),
        p95_ms={"duet": round(_p95(d) * 1000, 3), "bare": round(_p95(b) * 1000, 3)},
    )


def abort_switch(repeats: int, max_tokens: int, threads: int) -> dict:
    from models.engines.llama.abort import AbortSwitch
    from models.engines.llama.runtime import llama_cpp

    with_switch, without = bare_llama(_chat_path(), threads), bare_llama(_chat_path(), threads)
    switch = AbortSwitch(llama_cpp().llama_cpp, with_switch._ctx.ctx)
    cancel = threading.Event()

    def run(llama, switched: bool) -> tuple[float, float]:
        llama.reset()
        tokens = llama.tokenize(LONG_PROMPT.encode(), add_bos=False)
        with switch.on(cancel) if switched else _nothing():
            started = time.perf_counter()
            llama.eval(tokens)
            prompt_s = time.perf_counter() - started
            started, count = time.perf_counter(), 0
            for _ in llama.generate(
                tokens, temp=0.0, repeat_penalty=1.0
            ):  # the prompt is evaluated: it goes on from there
                count += 1
                if count == max_tokens:
                    break
            return prompt_s, count / (time.perf_counter() - started)

    d, b = interleave(repeats, lambda: run(with_switch, True), lambda: run(without, False))
    speed_d, speed_b = median([x[1] for x in d]), median([x[1] for x in b])
    prompt_d, prompt_b = median([x[0] for x in d]), median([x[0] for x in b])
    value = ratio(speed_d, speed_b)
    return figure_result(
        "10. decode with the abort switch",
        speed_d,
        speed_b,
        value,
        ">= 0.97",
        value >= 0.97,
        "tok/s",
        prompt_eval_ms={"duet": round(prompt_d * 1000, 1), "bare": round(prompt_b * 1000, 1)},
        prompt_eval_ratio=round(ratio(prompt_d, prompt_b), 3),
        prompt_tokens=len(with_switch.tokenize(LONG_PROMPT.encode(), add_bos=False)),
    )


class _nothing:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc) -> None:
        return None


def _p95(values: list[float]) -> float:
    return statistics.quantiles(values, n=20)[-1] if len(values) >= 20 else max(values)
