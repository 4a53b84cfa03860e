"""--shift for the headless commands: score every pane's answer with its scoring pane's model (the
token-shift lens, models/lens/) and print or record the result."""

from __future__ import annotations

from collections.abc import Sequence

from models.errors import DuetError
from models.lens.run import score_pane
from models.lens.shift import CLASSES, ShiftResult
from models.session import PaneSession
from tui.text.safe_text import neutralize

Shift = ShiftResult | str  # a result, or the one line that says why this pane has none
COLOURS = {"unshifted": "green", "marginal": "yellow", "shifted": "red"}


def score_turns(sessions: Sequence[PaneSession]) -> dict[str, Shift]:
    """Every pane's last answer scored (on the scoring panes' own workers, in parallel where they
    differ); panes that cannot be scored get the reason. Ctrl+C: PaneSession.cancel on all."""
    by_role = {s.role: s for s in sessions}
    for session in sessions:  # queued before any scoring job: each scoring waits for the other's
        session.vocabulary()
    found: dict[str, Shift] = {}
    futures = {}
    for session in sessions:
        turn = session.last_turn
        if turn is None:
            continue
        try:
            futures[session.role] = score_pane(by_role, session.role, turn)
        except DuetError as err:
            found[session.role] = str(err)
    for role, future in futures.items():
        try:
            found[role] = future.result()
        except DuetError as err:
            found[role] = str(err)
    return {s.role: found[s.role] for s in sessions if s.role in found}


def add_to_records(panes: list[dict], shifts: dict[str, Shift]) -> None:
    """The ``shift`` object of `duet ask --shift --json` on each pane record (README: the schema);
    a pane that could not be scored gets ``"shift": null`` and ``"shift_error"``."""
    for pane in panes:
        shift = shifts.get(pane["role"])
        if isinstance(shift, ShiftResult):
            pane["shift"] = shift.as_dict()
        else:
            pane["shift"] = None
            pane["shift_error"] = shift or "no answer to score"


def print_summaries(shifts: dict[str, Shift]) -> None:
    """Each pane's lens summary, coloured by class (the text output of `duet ask --shift`)."""
    from rich.console import Console
    from rich.text import Text

    console = Console(highlight=False, soft_wrap=True)
    for role, shift in shifts.items():
        line = Text(f"{role} lens: ", style="bold")
        if isinstance(shift, str):
            line.append(neutralize(shift), style="red")
            console.print(line)
            continue
        summary = shift.summary()
        for name in CLASSES:
            line.append(f"{name} {summary.percent(name):.0f}%", style=COLOURS[name])
            line.append(" · " if name != CLASSES[-1] else " ")
        line.append(f"of {summary.count} tokens · scored by {neutralize(shift.scored_by)}")
        if shift.retokenized:
            line.append(" (re-tokenized)")
        console.print(line)
        for note in (shift.relation, shift.caveat):
            if note:
                console.print(Text(f"  {neutralize(note)}", style="dim"))
        most = ", ".join(f"{neutralize(repr(s.text))} x{s.count}" for s in shift.most_shifted(5))
        if most:
            console.print(Text(f"  most shifted: {most}", style="dim"))
