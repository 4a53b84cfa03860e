"""F10: fine-tune a pane's model on a data file or the lesson set, then compare it with itself.

The screen only drives models/tuning: the preview is its plan (the first example rendered with the
model's template, the trained part marked, token counts, the memory, disk and time estimate), and
the run is its runner, on a worker thread of its own (the training itself in a child process), so
the app stays responsive. Progress crosses to the screen with post_message, never
call_from_thread, which would hold the runner until the screen had drawn. What the screen shows is
what LlamaBoard shows: step/total, "elapsed < remaining", the current loss and a loss curve (train
and held-out). Esc stops at the next step, and a second Esc closes; when the fine-tune is saved,
``o`` closes the screen with the pair to open (source | tuned, the lens on).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

from pydantic import ValidationError
from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.message import Message
from textual.screen import ModalScreen
from textual.widgets import Input, Label, ProgressBar, Select, Static

from models.errors import Cancelled, DuetError, first_field_error
from models.tuning import Lineage, TunePlan, TuneProgress, TuneSettings, plan, run_tune
from models.tuning.settings import LESSON_EPOCHS
from tui.screens.modal_css import MODAL_CSS
from tui.screens.tune_view import PHASES, curves_of, plan_text, progress_line
from tui.text.safe_text import markup_safe, neutralize
from tui.widgets.loss_curve import Curves, LossCurve

LESSON = "lesson"
HINT = "Enter previews · ctrl+s starts · Esc stops at the next step, then closes"
DONE_HINT = "o opens source | tuned side by side with the lens on · Esc closes"


@dataclass(frozen=True)
class PaneChoice:
    """A pane the screen may train from: its model source and LoRA adapters (plan() refuses a
    server and a model with adapters, in one line)."""

    role: str
    source: str
    adapters: tuple[str, ...] = ()


class TuneScreen(ModalScreen[str | None]):
    """Dismisses with the new fine-tune's name after ``o`` (open it beside its source), or None."""

    BINDINGS = [
        Binding("escape", "stop_or_close", "Stop / close"),
        Binding("ctrl+s", "start", "Start", priority=True),
        Binding("o", "open_pair", "Open source | tuned"),
    ]
    DEFAULT_CSS = (
        MODAL_CSS.format(name="TuneScreen")
        + """
    TuneScreen Horizontal { height: auto; margin: 0 0 1 0; }
    TuneScreen Label { padding: 0 1 0 0; }
    TuneScreen Input { border: none; height: 1; padding: 0 1; }
    TuneScreen Input:focus { border: none; background: $boost; text-style: bold; }
    TuneScreen Select { height: 1; }
    TuneScreen SelectCurrent { border: none; height: 1; padding: 0 1; }
    TuneScreen Select:focus > SelectCurrent { border: none; background: $boost; }
    TuneScreen #tune-data-kind { width: 32; }
    TuneScreen #tune-data { width: 1fr; }
    TuneScreen #tune-model { width: 1fr; }
    TuneScreen #tune-name { width: 24; }
    TuneScreen .setting { width: 14; }
    TuneScreen #tune-preview { height: 1fr; border: round $panel; }
    TuneScreen #tune-message { height: auto; }
    TuneScreen #tune-message.-error { color: $error; }
    TuneScreen #tune-progress-line { height: auto; }
    TuneScreen LossCurve { height: 9; }
    """
    )

    class Planned(Message):
        def __init__(self, plan: TunePlan | None, error: str | None) -> None:
            super().__init__()
            self.plan, self.error = plan, error

    class Progress(Message):
        def __init__(self, progress: TuneProgress) -> None:
            super().__init__()
            self.progress = progress

    class Ended(Message):
        def __init__(self, lineage: Lineage | None, error: str | None) -> None:
            super().__init__()
            self.lineage, self.error = lineage, error

    def __init__(self, panes: list[PaneChoice], active_role: str) -> None:
        super().__init__()
        self.panes = {p.role: p for p in panes}
        self.active_role = active_role if active_role in self.panes else panes[0].role
        self.cancel: threading.Event | None = None  # set while a fine-tune runs
        self.lineage: Lineage | None = None  # the finished fine-tune
        self.planned: TunePlan | None = None  # the preview of the settings in the fields

    # -- layout --------------------------------------------------------------------------------
    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static("Fine-tune a pane's model on your examples, on this CPU", classes="title")
            with Horizontal():
                yield Label("data")
                kinds = [("the lesson set (built in)", LESSON), ("a JSONL file", "file")]
                yield Select(kinds, value=LESSON, allow_blank=False, id="tune-data-kind")
                yield Input(placeholder="path to a .jsonl: chat messages, alpaca or prompt/completion", id="tune-data")
            with Horizontal():
                yield Label("model")
                choices = [(markup_safe(f"{p.role} pane: {p.source}"), p.role) for p in self.panes.values()]
                yield Select(choices, value=self.active_role, allow_blank=False, id="tune-model")
                yield Label("name")
                yield Input("sharon", id="tune-name")
            with Horizontal():
                defaults = TuneSettings.model_fields
                for field, label in SETTING_FIELDS:
                    yield Label(label)
                    value = (
                        LESSON_EPOCHS if field == "epochs" else defaults[field].default
                    )  # the lesson is chosen first
                    yield Input(str(value), id=f"tune-{field}", classes="setting")
            yield Static(Text(HINT), id="tune-message", classes="hint")
            with VerticalScroll(id="tune-preview"):
                yield Static(id="tune-preview-text")
            yield Static("", id="tune-progress-line")
            yield ProgressBar(total=1, show_eta=False, id="tune-bar")
            yield LossCurve(id="tune-curve")

    def on_mount(self) -> None:
        self.query_one("#tune-bar", ProgressBar).display = False
        self.query_one(LossCurve).display = False
        self.query_one("#tune-name", Input).focus()
        self.action_preview()  # the lesson set on the active pane's model, or why it cannot be

    # -- messages to the user ----------------------------------------------------------------
    def say(self, message: str, error: bool = False) -> None:
        line = self.query_one("#tune-message", Static)
        line.update(Text(neutralize(message)))
        line.set_class(error, "-error")

    @property
    def message(self) -> str:
        return str(self.query_one("#tune-message", Static).render())

    @on(Select.Changed)
    def _choice_changed(self, event: Select.Changed) -> None:
        if event.select.id == "tune-data-kind":  # each data kind's own default, unless the user typed one
            epochs = self.query_one("#tune-epochs", Input)
            defaults = {str(LESSON_EPOCHS), str(TuneSettings.model_fields["epochs"].default)}
            if epochs.value in defaults:
                lesson = event.value == LESSON
                epochs.value = str(LESSON_EPOCHS if lesson else TuneSettings.model_fields["epochs"].default)
        if self.is_mounted and self.cancel is None and self.lineage is None:
            self.action_preview()

    # -- settings and preview ----------------------------------------------------------------
    def settings(self) -> TuneSettings:
        """The settings in the fields; DuetError (one line naming the field) when one is wrong."""
        pane = self.panes[str(self.query_one("#tune-model", Select).value)]
        lesson = self.query_one("#tune-data-kind", Select).value == LESSON
        data = self.query_one("#tune-data", Input).value.strip()
        if not lesson and not data:
            raise DuetError("give the path of a JSONL data file, or choose the lesson set")
        values: dict[str, object] = {"name": self.query_one("#tune-name", Input).value.strip()}
        values |= {field: self.query_one(f"#tune-{field}", Input).value.strip() for field, _ in SETTING_FIELDS}
        try:
            return TuneSettings(
                model=pane.source, adapters=pane.adapters, lesson=lesson, data=None if lesson else data, **values
            )  # pydantic converts the fields' text
        except ValidationError as err:
            field, reason = first_field_error(err)
            label = dict(SETTING_FIELDS).get(field or "", (field or "settings").replace("_", " "))
            raise DuetError(f"{label}: {reason}") from None

    @on(Input.Submitted)
    def action_preview(self) -> None:
        if self.cancel is not None:
            return
        try:
            settings = self.settings()
        except DuetError as err:
            self.say(str(err), error=True)
            return
        self.say("rendering the examples with the model's template…")
        self.planned = None
        self.run_worker(lambda: self._plan(settings), thread=True, group="tune-plan", exclusive=True)

    def _plan(self, settings: TuneSettings) -> None:
        """On a worker thread: the plan, or its one-line refusal."""
        try:
            found = plan(settings)
        except DuetError as err:
            self.post_message(self.Planned(None, str(err)))
            return
        self.post_message(self.Planned(found, None))

    def on_tune_screen_planned(self, message: Planned) -> None:
        preview = self.query_one("#tune-preview-text", Static)
        if message.plan is None:
            preview.update("")
            self.say(message.error or "the fine-tune cannot start", error=True)
            return
        self.planned = message.plan
        preview.update(plan_text(message.plan))
        self.say("ctrl+s starts this fine-tune · Esc closes")

    # -- running -------------------------------------------------------------------------------
    def action_start(self) -> None:
        if self.cancel is not None or self.lineage is not None:
            return
        try:
            settings = self.settings()
        except DuetError as err:
            self.say(str(err), error=True)
            return
        planned = self.planned
        if planned is None or settings != planned.settings:
            self.say("preview these settings first (Enter): the plan checks them before anything heavy", error=True)
            return
        self.cancel = threading.Event()
        for field in self.query("Input, Select"):
            field.disabled = True
        self.set_focus(None)
        bar = self.query_one("#tune-bar", ProgressBar)
        bar.display = True
        curve = self.query_one(LossCurve)
        curve.display = True
        curve.show(Curves())
        self.say("starting: the F32 working copy first · Esc stops at the next step")
        # A daemon thread of its own, not a Textual thread worker: those run in the default executor,
        # which the interpreter joins at exit, so ctrl+q would wait for the step in progress. The
        # child stops at its next step when its stdin closes with this process (models/tuning/child.py).
        threading.Thread(target=self._run, args=(planned, self.cancel), name="duet-tune", daemon=True).start()

    def _run(self, planned: TunePlan, cancel: threading.Event) -> None:
        """On a worker thread: the whole fine-tune; every progress event is posted to the screen."""
        try:
            lineage = run_tune(planned, lambda p: self.post_message(self.Progress(p)), cancel)
        except Cancelled:
            self.post_message(self.Ended(None, "stopped: nothing was saved; Enter previews again, Esc closes"))
            return
        except DuetError as err:
            self.post_message(self.Ended(None, str(err)))
            return
        self.post_message(self.Ended(lineage, None))

    def on_tune_screen_progress(self, message: Progress) -> None:
        progress = message.progress
        if self.cancel is not None and not self.cancel.is_set():
            self.say(f"{PHASES.get(progress.phase, progress.phase)} · Esc stops at the next step (nothing is saved)")
        self.query_one("#tune-progress-line", Static).update(progress_line(progress))
        bar = self.query_one("#tune-bar", ProgressBar)
        bar.update(total=max(1, progress.total_steps), progress=progress.step)
        self.query_one(LossCurve).show(curves_of(progress))

    def on_tune_screen_ended(self, message: Ended) -> None:
        stopped = self.cancel is not None and self.cancel.is_set()
        self.cancel = None
        if message.lineage is None:
            self.say(message.error or "the fine-tune stopped", error=not stopped)
            for field in self.query("Input, Select"):
                field.disabled = False
            self.planned = None  # the name is free again, but the next run is previewed first
            self.query_one("#tune-name", Input).focus()
            return
        self.lineage = message.lineage
        self.say(f"saved tuned:{message.lineage.name}, {message.lineage.summary()} · {DONE_HINT}")

    # -- keys ----------------------------------------------------------------------------------
    def action_stop_or_close(self) -> None:
        if self.cancel is not None:
            if not self.cancel.is_set():
                self.cancel.set()
                self.say("stopping at the next step… (Esc again closes once it has stopped)")
            return
        self.dismiss(None)

    def action_open_pair(self) -> None:
        if self.lineage is None:
            return
        self.dismiss(self.lineage.name)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "open_pair":
            return self.lineage is not None  # "o" types into a field until there is a pair to open
        return True

    def on_unmount(self) -> None:
        if self.cancel is not None:
            self.cancel.set()  # the app is closing: the runner stops at its next step


SETTING_FIELDS = [
    ("epochs", "epochs"),
    ("learning_rate", "learning rate"),
    ("blocks", "blocks"),
    ("validation", "held out"),
]
