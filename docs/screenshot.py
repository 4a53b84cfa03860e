"""Refresh the README's picture: the real app on the embedded pair, answering the lesson's first
prompt, captured by Textual as an SVG once both answers have reached a fixed number of tokens.

    .venv/bin/python docs/screenshot.py [--tokens N] [--output docs/duet.svg]

Answers are greedy (temperature 0), so the text is the same on every run; only the timings in the
status lines change. Nothing is saved to your history (a temporary data folder is used).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ.setdefault("DUET_DATA_DIR", tempfile.mkdtemp(prefix="duet-screenshot-"))
os.environ.setdefault("DUET_CONFIG_DIR", tempfile.mkdtemp(prefix="duet-screenshot-config-"))


async def capture(tokens: int, output: Path, size: tuple[int, int]) -> None:
    from tui.cli.launch import build_app
    from tui.cli.main import build_parser
    from tui.widgets.prompt_input import PromptInput

    app = build_app(build_parser().parse_args(["--max-tokens", str(tokens)]))
    async with app.run_test(size=size) as pilot:
        await _wait(pilot, lambda: all(p.info is not None or p.load_error for p in app.panes), 120)
        app.query_one(PromptInput).cursor_blink = False  # a blinking cursor would make the picture random
        await app.fire_preset(app.presets[0])  # "Tell me how to train my dog to sit"
        await _wait(pilot, lambda: not app.busy and all(s.turns for s in app.sessions.values()), 300)
        await pilot.pause(0.5)
        app.save_screenshot(filename=output.name, path=str(output.parent))


async def _wait(pilot, condition, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise SystemExit("screenshot: the app did not get there in time")
        await pilot.pause(0.1)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tokens", type=int, default=48, help="answer length at the moment of the picture")
    parser.add_argument("--output", type=Path, default=ROOT / "docs" / "duet.svg")
    parser.add_argument("--size", default="140x36", help="terminal size, COLUMNSxROWS")
    args = parser.parse_args()
    columns, rows = (int(n) for n in args.size.split("x"))
    asyncio.run(capture(args.tokens, args.output.resolve(), (columns, rows)))
    print(f"wrote {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
