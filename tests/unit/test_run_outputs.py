"""`duet run` keeps its history conversation for the first finished run, not before it."""

from models.store.history import HistoryStore
from tui.cli.run import _Outputs


def test_the_conversation_starts_with_the_first_run_kept(tmp_path):
    store = HistoryStore(tmp_path / "history.db")
    started = []

    def start() -> int:
        started.append(1)
        return store.start_conversation([{"role": "base", "model": "m", "mode": "raw"}], kind="run", title="run: t")

    outputs = _Outputs(result={"items": []}, jsonl=None, store=store, start=start)
    assert store.conversations() == [] and not started  # stopped before any run: nothing saved
    outputs.keep({"prompt": "p", "panes": []}, "p")
    outputs.keep({"prompt": "q", "panes": []}, "q")
    assert started == [1]  # once, with the first run
    (conversation,) = store.conversations()
    assert conversation["kind"] == "run" and len(store.get(conversation["id"])["turns"]) == 2
