"""The Tune screen's loss curve and progress line, from TuneProgress values (no model, no screen)."""

import math

from models.tuning import EpochRecord, TuneProgress
from tui.screens.tune_view import clock, curves_of, progress_line
from tui.widgets.loss_curve import HELD_OUT_MARK, LABEL_WIDTH, Curves, plot, smoothed


def progress(**values) -> TuneProgress:
    fields = dict(
        phase="train",
        step=3,
        total_steps=8,
        epoch=2,
        epochs=4,
        elapsed_s=83.0,
        remaining_s=3725.0,
        train_loss=0.8421,
        held_out_before=1.5,
        epoch_losses=(EpochRecord(epoch=1, train_loss=1.1, held_out_loss=1.2),),
        step_losses=(1.4, 1.2, 0.8421),
    )
    return TuneProgress(**(fields | values))


def test_smoothing_is_debiased_so_a_short_run_starts_at_its_first_loss():
    assert smoothed([2.0]) == [2.0]
    values = smoothed([2.0, 1.0, 1.0, 1.0])
    assert values[0] == 2.0 and values == sorted(values, reverse=True) and 1.0 < values[-1] < 2.0


def test_the_plot_has_the_range_as_labels_a_falling_line_and_held_out_marks():
    curves = Curves(total_steps=40, train=[(s, 2.0 - s / 40) for s in range(1, 41)], held_out=[(20, 1.6), (40, 1.1)])
    lines = [line.plain for line in plot(curves, 60, 6)]
    assert len(lines) == 6 and all(len(line) == 60 for line in lines)
    assert lines[0].split()[0] == f"{max(smoothed([v for _, v in curves.train]) + [1.6, 1.1]):.2f}"
    assert lines[-1].split()[0] == f"{min(smoothed([v for _, v in curves.train]) + [1.6, 1.1]):.2f}"
    assert sum(line.count(HELD_OUT_MARK) for line in lines) == 2
    # The line falls: the first braille column is in a higher row than the last one.
    rows_with_dots = [[i for i, ch in enumerate(line) if 0x2800 < ord(ch) <= 0x28FF] for line in lines]
    first_col = min(c for cols in rows_with_dots for c in cols)
    last_col = max(c for cols in rows_with_dots for c in cols)
    assert first_col <= LABEL_WIDTH + 3  # the curve starts at the left edge of the plot
    first_row = next(r for r, cols in enumerate(rows_with_dots) if first_col in cols)
    last_row = next(r for r, cols in enumerate(rows_with_dots) if last_col in cols)
    assert first_row < last_row


def test_an_empty_or_flat_curve_still_draws():
    assert all(line.plain.endswith("│") for line in plot(Curves(), 30, 4))
    flat = plot(Curves(total_steps=2, train=[(1, 0.5), (2, 0.5)]), 30, 4)
    assert any(0x2800 < ord(ch) <= 0x28FF for line in flat for ch in line.plain)


def test_the_progress_line_reads_like_llamaboards():
    line = progress_line(progress()).plain
    assert line == "training · step 3/8 · epoch 2/4 · 1:23 < 1:02:05 · loss 0.842 · held-out 1.200 (before 1.500)"
    assert "? " not in line
    early = progress_line(progress(phase="convert", step=0, remaining_s=None, train_loss=None, epoch_losses=())).plain
    assert early == "making the F32 working copy · step 0/8 · epoch 2/4 · 1:23 < ? · held-out 1.500"
    assert clock(0) == "0:00" and clock(59.6) == "1:00" and clock(None) == "?"


def test_a_message_from_a_data_file_cannot_reach_the_terminal_as_an_escape():
    line = progress_line(progress(message="\x1b[2Jsaved")).plain
    assert "\x1b" not in line and "␛[2Jsaved" in line


def test_the_curves_place_held_out_losses_at_the_end_of_their_epoch():
    curves = curves_of(progress(step_losses=(1.4, math.nan, 0.8)))
    assert curves.total_steps == 8
    assert curves.train == [(1, 1.4), (3, 0.8)]  # a non-finite loss is left out, not drawn
    assert curves.held_out == [(0, 1.5), (2, 1.2)]
