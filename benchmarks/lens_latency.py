"""Figure 18: the token-shift lens as a user meets it, headless and in the app, each against a
baseline in the same run, the two sides alternating (stats.interleave), medians reported.

    python -m benchmarks.lens_latency [--quick] [--json FILE]

- 18a. ``duet ask --json --no-save --max-tokens 40 --shift "What do you think of Mars?"``, wall time
  of a fresh process each (``python -m tui.cli.main``, as a user runs it, with its own data and
  config folders), against the same command without ``--shift``: what scoring both answers adds to
  the command. Every pane of a --shift run must come back with a ``shift`` object (else it raises).
- 18b. In the app (headless, Pilot): "What do you think of Mars?" to both panes (base raw, chat
  chat, max_tokens 40), then F8 on the active (chat) pane: timed from the key until its LensView
  holds the scored tokens, laid out on the screen (the lens's time to its first view). Baseline: a
  bare llama-cpp-python process holding the same two models evaluates the scoring model's prompt
  and that answer the way the lens's exact mode does (the prompt in one decode, then one answer
  token per ``llama_decode`` with logits, each row ranked: the chosen token's rank, p and top 5),
  with every core, timing only that. Prompts and answers are the texts of the app's own round, so
  both sides do the same work. Beside it: ctrl+w and F8 again until the base pane's lens is shown
  too (the app scores one pane per F8; a second F8 while one scores is refused), against the two
  bare scorings in two threads at once (``both_panes``).

Each 18b round starts from an empty conversation; one warm-up round comes first, reported as
``cold_round`` and not counted (the first lens after a load pays one-off costs).
"""

from __future__ import annotations

import argparse
import asyncio
import codecs
import json
import math
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks.bare_process import PipedChild
from benchmarks.stats import figure_result, interleave, median, ratio

ROOT = Path(__file__).resolve().parent.parent
PROMPT = "What do you think of Mars?"
MAX_TOKENS = 40
MODELS = {"base": "gemma-3-270m", "chat": "smollm2-135m-instruct"}  # the embedded pair, by pane
ASK_TARGET = 1.5
LENS_TARGET = 1.3


# -- 18a. duet ask --shift -------------------------------------------------------------------
def ask_once(shift: bool, max_tokens: int, data_dir: str) -> dict:
    """One `duet ask --json` in a fresh process: its wall time and what each pane recorded."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "DUET_DATA_DIR": data_dir, "HF_HUB_OFFLINE": "1"}
    env["DUET_CONFIG_DIR"] = str(Path(data_dir) / "config")  # the user's prompt files and keymap stay out of it
    command = [sys.executable, "-m", "tui.cli.main", "ask", "--json", "--no-save", "--max-tokens", str(max_tokens)]
    command += ["--shift", PROMPT] if shift else [PROMPT]
    started = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=600, cwd=ROOT)
    wall = time.perf_counter() - started
    if done.returncode != 0:
        raise RuntimeError(f"duet ask{' --shift' if shift else ''} exited {done.returncode}: {done.stderr[-2000:]}")
    panes = json.loads(done.stdout)["panes"]
    tokens = {p["role"]: p["metrics"]["tokens"] for p in panes}
    lens: dict[str, int] = {}
    if shift:
        for pane in panes:
            if not isinstance(pane.get("shift"), dict):
                raise RuntimeError(
                    f"duet ask --shift: the {pane['role']} pane has no shift ({pane.get('shift_error')})"
                )
            lens[pane["role"]] = pane["shift"]["summary"]["count"]
    return {"s": wall, "tokens": tokens, "lens_tokens": lens}


def ask_figure(repeats: int, max_tokens: int, data_dir: str) -> dict:
    shifted, plain = interleave(
        repeats, lambda: ask_once(True, max_tokens, data_dir), lambda: ask_once(False, max_tokens, data_dir)
    )
    d, b = median([r["s"] for r in shifted]), median([r["s"] for r in plain])
    value = ratio(d, b)
    roles = sorted(shifted[0]["tokens"])
    return figure_result(
        f"18a. duet ask --shift vs without (--max-tokens {max_tokens})",
        d,
        b,
        value,
        f"<= {ASK_TARGET}",
        value <= ASK_TARGET,
        "s",
        samples={"shift": [r["s"] for r in shifted], "plain": [r["s"] for r in plain]},
        tokens={
            side: {role: sorted({r["tokens"][role] for r in runs}) for role in roles}
            for side, runs in (("shift", shifted), ("plain", plain))
        },
        lens_tokens={role: sorted({r["lens_tokens"][role] for r in shifted}) for role in roles},
        every_pane_scored=all(set(r["lens_tokens"]) == set(r["tokens"]) for r in shifted),
    )


# -- 18b, the bare side: llama-cpp-python in a process of its own ----------------------------
class BareScorer(PipedChild):
    """The baseline process: loads both embedded models once, then scores what it is sent."""

    def __init__(self) -> None:
        env = {**os.environ, "PYTHONPATH": str(ROOT), "HF_HUB_OFFLINE": "1"}
        super().__init__("benchmarks.lens_latency", "bare scoring process", ("--serve-bare",), env=env, cwd=ROOT)
        self.loaded = self.request({"op": "ready"})

    def score(self, jobs: list[dict], parallel: bool) -> dict:
        """``jobs``: {"model", "prompt", "add_bos", "answer"} each; all at once in threads, or in turn."""
        return self.request({"op": "score", "jobs": jobs, "parallel": parallel})


def _serve_bare() -> None:
    from benchmarks.bare import bare_llama
    from models.files.embedded import embedded_path
    from models.threads import available_cores

    cores = available_cores()
    models = {name: bare_llama(embedded_path(name), cores) for name in MODELS.values()}
    for line in sys.stdin:
        request = json.loads(line)
        reply: dict[str, Any]
        try:
            if request["op"] == "ready":
                reply = {"models": sorted(models), "cores": cores}
            else:
                reply = _bare_round(models, request["jobs"], request["parallel"], cores)
        except Exception as err:  # reported to the parent, which raises it
            reply = {"error": f"{type(err).__name__}: {err}"}
        print(json.dumps(reply), flush=True)


def _bare_round(models: dict, jobs: list[dict], parallel: bool, cores: int) -> dict:
    """Score every job (in two threads at once when ``parallel``), timing the evaluations only."""
    from concurrent.futures import ThreadPoolExecutor

    from models.engines.llama.runtime import llama_cpp

    lib = llama_cpp().llama_cpp
    threads = max(1, cores // len(jobs)) if parallel else cores  # the cores shared, as the app shares them
    work = []
    for job in jobs:
        llama = models[job["model"]]
        lib.llama_set_n_threads(llama.ctx, threads, threads)
        # Re-tokenized by the scoring model, as the lens does with another family's answer: the
        # prompt as the scoring pane rendered it (special tokens parsed), the answer as plain text.
        context = llama.tokenize(job["prompt"].encode(), add_bos=job["add_bos"], special=True)
        answer = llama.tokenize(job["answer"].encode(), add_bos=False, special=False)
        work.append((llama, context, answer))
    started = time.perf_counter()
    if parallel:
        with ThreadPoolExecutor(len(work)) as pool:
            list(pool.map(lambda w: _bare_score(lib, *w), work))
    else:
        for w in work:
            _bare_score(lib, *w)
    elapsed = time.perf_counter() - started
    return {
        "s": elapsed,
        "threads": threads,
        "context_tokens": [len(c) for _, c, _ in work],
        "answer_tokens": [len(a) for _, _, a in work],
        "characters": [_characters([llama.detokenize([t]) for t in a]) for llama, _, a in work],
    }


def _bare_score(lib, llama, context: list[int], answer: list[int]) -> int:
    """Context in n_batch-token decodes (logits at its end), then one answer token per decode."""
    lib.llama_memory_clear(lib.llama_get_memory(llama.ctx), True)
    n_batch = llama.n_batch
    batch = lib.llama_batch_init(n_batch, 0, 1)
    try:
        for start in range(0, len(context), n_batch):
            chunk = context[start : start + n_batch]
            _decode(lib, llama, batch, chunk, start, start + len(chunk) == len(context))
        _rank(lib, llama, answer[0])
        for i, token in enumerate(answer[:-1]):
            _decode(lib, llama, batch, [token], len(context) + i, True)
            _rank(lib, llama, answer[i + 1])
    finally:
        lib.llama_batch_free(batch)
    return len(answer)


def _decode(lib, llama, batch, tokens: list[int], pos: int, logits_at_end: bool) -> None:
    for i, token in enumerate(tokens):
        batch.token[i], batch.pos[i], batch.n_seq_id[i] = token, pos + i, 1
        batch.seq_id[i][0] = 0
        batch.logits[i] = logits_at_end and i == len(tokens) - 1
    batch.n_tokens = len(tokens)
    if lib.llama_decode(llama.ctx, batch) != 0:
        raise RuntimeError("llama_decode failed")


def _rank(lib, llama, chosen: int) -> tuple[int, float, list[int]]:
    """What the lens reads from a row: the chosen token's rank and p, and the top 5."""
    import numpy as np

    row = np.ctypeslib.as_array(lib.llama_get_logits_ith(llama.ctx, -1), shape=(llama.n_vocab(),))
    rank = int(np.count_nonzero(row > row[chosen])) + 1
    best = float(row.max())
    p = math.exp(float(row[chosen]) - best) / float(np.exp(row - best).sum(dtype=np.float64))
    top = np.argpartition(row, -5)[-5:]
    return rank, p, [int(t) for t in top[np.argsort(-row[top])]]


def _characters(pieces: list[bytes]) -> int:
    """How many entries the lens shows for these token bytes: tokens that end inside a UTF-8
    character join the next (models/lens/grouping.py's rule), counted here after the timing."""
    decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
    count, pending = 0, False
    for piece in pieces:
        decoder.decode(piece)
        pending = bool(decoder.getstate()[0])
        count += not pending
    return count + pending


# -- 18b, the app side -----------------------------------------------------------------------
def lens_shown(pane) -> bool:
    """The pane shows its lens, with the scored tokens, laid out on the screen."""
    lens = pane.lens
    return lens is not None and bool(lens.result.tokens) and lens.region.height > 0


async def _seconds_until(pilot, condition, started: float) -> float:
    from benchmarks.app_driver import wait_for

    await wait_for(pilot, condition, timeout=300)
    return time.perf_counter() - started


async def lens_keys(app, pilot) -> dict:
    """F8 on the chat pane, ctrl+w, F8 on the base pane: seconds until each lens is on screen."""
    while app.active_pane.role != "chat":
        await pilot.press("ctrl+w")
    started = time.perf_counter()
    shown: dict[str, float] = {}
    for key_before, role in ((None, "chat"), ("ctrl+w", "base")):
        if key_before:
            await pilot.press(key_before)
        if app.active_pane.role != role:
            raise RuntimeError(f"the {role} pane is not the active one")
        # Watched from before the key: pilot.press returns only once the app is idle again, a
        # few layout passes after the lens is already on screen (0.1-0.2 s on two cores).
        watch = asyncio.ensure_future(_seconds_until(pilot, lambda role=role: lens_shown(app.pane(role)), started))
        await pilot.press("f8")
        shown[role] = await watch
    return {
        "s": shown["chat"],
        "both_s": shown["base"],
        "shown_s": shown,
        "lens_tokens": {r: len(app.pane(r).lens.result.tokens) for r in shown},
    }


def scoring_jobs(app) -> list[dict]:
    """Each pane's answer with its scoring pane's prompt for the same message, as the lens scores
    it: the scoring pane's own turn rendered that message in its mode (an empty conversation)."""
    from models.lens.pairing import scorer_role

    jobs = []
    for role in ("chat", "base"):
        scorer = scorer_role(role, list(app.sessions))
        if scorer is None:
            raise RuntimeError(f"no pane scores the {role} pane")
        rendered = app.sessions[scorer].last_turn.rendered
        answer = app.sessions[role].last_turn.text
        jobs.append(
            {
                "role": role,
                "model": MODELS[scorer],
                "prompt": rendered.text,
                "add_bos": rendered.add_bos,
                "answer": answer,
            }
        )
    return jobs


async def lens_round(app, pilot, bare: BareScorer, duet_first: bool) -> dict:
    """One round: both answers from an empty conversation, then the lens keys and the bare
    scorings of the same answers, in the order given."""
    from benchmarks.app_driver import fresh_turn

    answers_s = await fresh_turn(app, pilot, PROMPT)
    jobs = scoring_jobs(app)
    out: dict[str, Any] = {
        "answers_s": answers_s,
        "answer_tokens": {r: s.last_turn.metrics.tokens for r, s in app.sessions.items()},
    }
    for side in ("duet", "bare") if duet_first else ("bare", "duet"):
        if side == "duet":
            out["duet"] = await lens_keys(app, pilot)
        else:
            out["bare"] = bare.score(jobs[:1], parallel=False)  # the chat pane's answer, every core
            out["bare_both"] = bare.score(jobs, parallel=True)
    out["bare_both"]["roles"] = [j["role"] for j in jobs]
    return out


def lens_rounds(repeats: int, max_tokens: int, data_dir: str) -> tuple[dict, list[dict], dict]:
    """The warm-up round, then ``repeats`` rounds (app first, then bare first, ...), in one app."""
    from benchmarks.app_driver import loaded, wait_for
    from models.files.embedded import DEFAULT_BASE, DEFAULT_CHAT
    from models.pair import PaneConfig
    from models.settings import ModelSpec, SamplingSettings
    from models.store.history import HistoryStore
    from tui.app import DuetApp
    from tui.config import DuetConfig

    panes = [
        PaneConfig("base", ModelSpec(source=DEFAULT_BASE), "raw"),
        PaneConfig("chat", ModelSpec(source=DEFAULT_CHAT), "chat"),
    ]
    sampling = SamplingSettings(max_tokens=max_tokens)

    async def main(bare: BareScorer) -> tuple[dict, list[dict]]:
        # The default config (no lens after every turn, F8 on the lens): the user's own stays out.
        app = DuetApp(panes, sampling, config=DuetConfig(), history=HistoryStore(Path(data_dir) / "history.db"))
        async with app.run_test(size=(160, 48)) as pilot:
            await wait_for(pilot, lambda: loaded(app))
            cold = await lens_round(app, pilot, bare, True)
            return cold, [await lens_round(app, pilot, bare, i % 2 == 0) for i in range(repeats)]

    with BareScorer() as bare:
        cold, rounds = asyncio.run(main(bare))
        return cold, rounds, bare.loaded


def lens_figure(repeats: int, max_tokens: int, data_dir: str) -> dict:
    cold, rounds, bare_info = lens_rounds(repeats, max_tokens, data_dir)
    d = median([r["duet"]["s"] for r in rounds])
    b = median([r["bare"]["s"] for r in rounds])
    value = ratio(d, b)
    both_d, both_b = median([r["duet"]["both_s"] for r in rounds]), median([r["bare_both"]["s"] for r in rounds])
    bare_chars = [dict(zip(r["bare_both"]["roles"], r["bare_both"]["characters"])) for r in rounds]
    return figure_result(
        f"18b. app lens, F8 to its first view (chat pane, max_tokens {max_tokens}) vs bare scoring the same answer",
        d,
        b,
        value,
        f"<= {LENS_TARGET}",
        value <= LENS_TARGET,
        "s",
        samples={"duet": [r["duet"]["s"] for r in rounds], "bare": [r["bare"]["s"] for r in rounds]},
        answers_s=median([r["answers_s"] for r in rounds]),
        lens_shown_s={role: median([r["duet"]["shown_s"][role] for r in rounds]) for role in ("chat", "base")},
        both_panes={"duet_s": both_d, "bare_in_two_threads_s": both_b, "ratio": ratio(both_d, both_b)},
        bare_threads={"first_view": rounds[0]["bare"]["threads"], "both": rounds[0]["bare_both"]["threads"]},
        answer_tokens=[r["answer_tokens"] for r in rounds],
        lens_tokens=[r["duet"]["lens_tokens"] for r in rounds],
        bare_tokens=bare_chars,
        bare_model_tokens=[dict(zip(r["bare_both"]["roles"], r["bare_both"]["answer_tokens"])) for r in rounds],
        same_work=all(r["duet"]["lens_tokens"] == chars for r, chars in zip(rounds, bare_chars)),
        cold_round={"answers_s": cold["answers_s"], "duet_s": cold["duet"]["s"], "bare_s": cold["bare"]["s"]},
        bare_cores=bare_info["cores"],
    )


def figure(quick: bool) -> list[dict]:
    repeats = 2 if quick else 5
    data_dir = tempfile.mkdtemp(prefix="duet-bench-lens-")
    return [ask_figure(repeats, MAX_TOKENS, data_dir), lens_figure(repeats, MAX_TOKENS, data_dir)]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.lens_latency", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--json", metavar="FILE")
    parser.add_argument("--serve-bare", action="store_true", help=argparse.SUPPRESS)  # BareScorer's child
    args = parser.parse_args(argv)
    if args.serve_bare:
        _serve_bare()
        return 0
    results = figure(args.quick)
    print(json.dumps(results, indent=2, default=str))
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2, default=str), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
