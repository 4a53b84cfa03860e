"""The Tune screen's loss curve: the train loss of every step (smoothed, a braille line) and the
held-out loss after every epoch (markers), on one y axis, fitted to the widget's size.

Smoothing is TensorBoard's (and LlamaBoard's): an exponential moving average debiased for its
first steps, so a short run's curve starts at its first loss rather than at zero. The x axis spans
the whole run (step 0 to the planned total), so the curve fills the plot as training goes on, the
way a progress bar does; the y axis is the range of every value shown so far.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from rich.style import Style
from rich.text import Text
from textual.widget import Widget

SMOOTHING = 0.6  # TensorBoard's default weight
LABEL_WIDTH = 6  # "12.34 " before the axis
HELD_OUT_MARK = "●"
# Braille dots: (x, y) in a 2-wide, 4-high cell, y from the top.
_DOT = {(0, 0): 0x01, (0, 1): 0x02, (0, 2): 0x04, (1, 0): 0x08, (1, 1): 0x10, (1, 2): 0x20, (0, 3): 0x40, (1, 3): 0x80}


def smoothed(values: list[float], weight: float = SMOOTHING) -> list[float]:
    """The debiased exponential moving average of ``values``."""
    out, last = [], 0.0
    for count, value in enumerate(values, start=1):
        last = last * weight + (1 - weight) * value
        out.append(last / (1 - weight**count))
    return out


@dataclass
class Curves:
    """What the plot shows: (step, loss) points, and the run's planned number of steps."""

    total_steps: int = 1
    train: list[tuple[int, float]] = field(default_factory=list)
    held_out: list[tuple[int, float]] = field(default_factory=list)

    def y_range(self) -> tuple[float, float] | None:
        values = smoothed([v for _, v in self.train]) + [v for _, v in self.held_out]
        if not values:
            return None
        low, high = min(values), max(values)
        if high - low < 1e-6:  # a flat line still needs a range to sit in
            low, high = low - 0.5, high + 0.5
        return low, high


def plot(curves: Curves, width: int, rows: int, styles: Mapping[str, Style] | None = None) -> list[Text]:
    """``rows`` lines of ``width`` cells: the y labels, the axis, the train line and the held-out
    marks, in ``styles`` ("train", "held-out", "axis": the widget's theme)."""
    style = {name: Style() for name in ("train", "held-out", "axis")} | dict(styles or {})
    cols = max(1, width - LABEL_WIDTH - 1)
    span = curves.y_range()
    if span is None or rows < 2:
        return [Text(" " * LABEL_WIDTH + "│", style=style["axis"]) for _ in range(max(rows, 0))]
    low, high = span
    total = max(curves.total_steps, max((s for s, _ in curves.train + curves.held_out), default=1), 1)
    dots = [[0] * cols for _ in range(rows)]
    marks: dict[tuple[int, int], bool] = {}

    def pixel(step: int, value: float, px_wide: int, px_high: int) -> tuple[int, int]:
        x = min(px_wide - 1, int(step / total * (px_wide - 1) + 0.5))
        y = min(px_high - 1, max(0, int((high - value) / (high - low) * (px_high - 1) + 0.5)))
        return x, y

    previous: tuple[int, int] | None = None
    steps = [s for s, _ in curves.train]
    for step, value in zip(steps, smoothed([v for _, v in curves.train])):
        x, y = pixel(step, value, cols * 2, rows * 4)
        _line(dots, previous, (x, y))
        previous = (x, y)
    for step, value in curves.held_out:
        x, y = pixel(step, value, cols, rows)
        marks[(x, y)] = True
    lines = []
    for row in range(rows):
        label = f"{high:.2f}" if row == 0 else f"{low:.2f}" if row == rows - 1 else ""
        line = Text(label.rjust(LABEL_WIDTH - 1)[: LABEL_WIDTH - 1] + " ", style=style["axis"])
        line.append("┤" if label else "│", style=style["axis"])
        for col in range(cols):
            if marks.get((col, row)):
                line.append(HELD_OUT_MARK, style=style["held-out"])
            elif dots[row][col]:
                line.append(chr(0x2800 + dots[row][col]), style=style["train"])
            else:
                line.append(" ")
        lines.append(line)
    return lines


def _line(dots: list[list[int]], start: tuple[int, int] | None, end: tuple[int, int]) -> None:
    """Set the braille dots from ``start`` to ``end`` (pixels), so a steep drop stays one line."""
    x1, y1 = end
    if start is None:
        start = end
    x0, y0 = start
    count = max(abs(x1 - x0), abs(y1 - y0), 1)
    for i in range(count + 1):
        x = round(x0 + (x1 - x0) * i / count)
        y = round(y0 + (y1 - y0) * i / count)
        dots[y // 4][x // 2] |= _DOT[(x % 2, y % 4)]


class LossCurve(Widget):
    """Train loss (smoothed line) and held-out loss (markers) so far."""

    DEFAULT_CSS = """
    LossCurve { height: 8; }
    LossCurve > .loss-curve--train { color: $accent; }
    LossCurve > .loss-curve--held-out { color: $warning; text-style: bold; }
    LossCurve > .loss-curve--axis { color: $text-muted; }
    """
    COMPONENT_CLASSES = {"loss-curve--train", "loss-curve--held-out", "loss-curve--axis"}

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.curves = Curves()

    def show(self, curves: Curves) -> None:
        self.curves = curves
        self.refresh()

    def render(self) -> Text:
        styles = {name: self.get_component_rich_style(f"loss-curve--{name}") for name in ("train", "held-out", "axis")}
        rows = max(2, self.content_region.height - 1)  # the last line is the legend
        out = Text(no_wrap=True, overflow="crop")
        for line in plot(self.curves, self.content_region.width, rows, styles):
            out.append_text(line)
            out.append("\n")
        out.append(" " * LABEL_WIDTH + "⣀ train (smoothed)", style=styles["train"])
        out.append("  ")
        out.append(f"{HELD_OUT_MARK} held-out", style=styles["held-out"])
        return out
