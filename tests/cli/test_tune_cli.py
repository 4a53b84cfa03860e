"""`duet tune` in a subprocess, as a user runs it: the dry run, the export, one-line refusals,
and tuned models in `duet models` and `duet info`."""

import json

import pytest

from tests.support.duet_process import run_duet


@pytest.fixture
def data_env(tmp_path):
    return {"DUET_DATA_DIR": str(tmp_path / "data")}


def _one_line_error(result) -> str:
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    return lines[0]


def test_dry_run_shows_the_first_example_marked_the_counts_and_the_estimates(data_env):
    result = run_duet("tune", "--lesson", "--dry-run", env=data_env)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "40 examples to train, 6 held out, 0 dropped" in out
    assert "[[My name is Sharon.<|im_end|>" in out
    assert "memory: about " in out and " available" in out and "disk: about " in out and "time: about " in out
    assert "no label mask" in out


def test_dry_run_json_is_the_plan(data_env):
    result = run_duet("tune", "--lesson", "--dry-run", "--json", "--blocks", "last:6", "--epochs", "3", env=data_env)
    assert result.returncode == 0, result.stderr
    plan = json.loads(result.stdout)
    assert plan["settings"]["blocks"] == "last:6" and plan["steps"]["total"] == 3 * plan["steps"]["per_epoch"]
    assert plan["examples"] == {"train": 40, "held_out": 6, "dropped": 0}
    assert any(s["answer"] and s["text"].startswith("My name is Sharon.") for s in plan["first_example"]["segments"])
    assert plan["estimate"]["memory_bytes"] < 2e9  # the last 6 blocks: much less than all


def test_export_writes_chat_jsonl_from_any_format(tmp_path, data_env):
    data = tmp_path / "alpaca.jsonl"
    data.write_text('{"instruction": "Say hi", "input": "", "output": "Hi!"}\n{"prompt": "2+2?", "completion": "4"}\n')
    out = tmp_path / "out.jsonl"
    result = run_duet("tune", "--export", str(data), str(out), env=data_env)
    assert result.returncode == 0, result.stderr
    assert "wrote 2 examples" in result.stdout
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert rows[0] == {"messages": [{"role": "user", "content": "Say hi"}, {"role": "assistant", "content": "Hi!"}]}
    assert rows[1]["messages"][1] == {"role": "assistant", "content": "4"}


@pytest.mark.parametrize(
    "content, expected",
    [
        (b'{"prompt": "a", "completion": "b"}\n{"prompt": "a"\n', "duet: bad.jsonl line 2 is not valid JSON"),
        (b'{"prompt": "a", "completion": "\xff"}\n', "duet: bad.jsonl line 1 is not valid UTF-8"),
        (b"\n\n", "duet: the data file bad.jsonl holds no examples"),
        (b'{"messages": [{"role": "user", "content": "q"}]}\n', "duet: bad.jsonl line 1: the last message must be"),
    ],
)
def test_bad_data_is_one_line_naming_the_line(tmp_path, data_env, content, expected):
    data = tmp_path / "bad.jsonl"
    data.write_bytes(content)
    assert _one_line_error(run_duet("tune", str(data), "--name", "x", env=data_env)).startswith(expected)


def test_gemma_3_and_a_server_are_refused_in_one_line(data_env):
    line = _one_line_error(
        run_duet("tune", "--lesson", "--name", "g", "--model", "embedded:gemma-3-270m", env=data_env)
    )
    assert line.startswith("duet: llama.cpp cannot fine-tune gemma-3-270m (gemma3): its GEGLU feed-forward")
    line = _one_line_error(
        run_duet("tune", "--lesson", "--name", "s", "--model", "http://127.0.0.1:9/v1", env=data_env)
    )
    assert "is a server" in line


def test_bad_options_are_one_line(data_env):
    assert "--context: the training context must be a multiple of 256" in _one_line_error(
        run_duet("tune", "--lesson", "--name", "x", "--context", "300", env=data_env)
    )
    assert "blocks 'first:2' is neither 'all' nor 'last:N'" in _one_line_error(
        run_duet("tune", "--lesson", "--name", "x", "--blocks", "first:2", env=data_env)
    )
    assert "give the tuned model a name with --name NAME" in _one_line_error(run_duet("tune", "--lesson", env=data_env))
    assert "either a data file or --lesson" in _one_line_error(
        run_duet("tune", "d.jsonl", "--lesson", "--name", "x", env=data_env)
    )
    # 100000 threads crash llama.cpp natively: refused as a pane's --threads is
    assert "--threads: 100000 is more than the" in _one_line_error(
        run_duet("tune", "--lesson", "--name", "x", "--threads", "100000", "--dry-run", env=data_env)
    )


def test_tuned_models_in_models_list_info_and_rm(tmp_path, data_env, monkeypatch):
    monkeypatch.setenv("DUET_DATA_DIR", data_env["DUET_DATA_DIR"])
    from models.tuning import store
    from tests.support.tuned_store import write_lineage

    write_lineage(store.new_workdir("sharon"), "sharon", register=True)
    listing = run_duet("models", "list", env=data_env)
    assert listing.returncode == 0, listing.stderr
    assert (
        "tuned:sharon" in listing.stdout
        and "a fine-tune of smollm2-135m-instruct by Duet, 40 examples" in listing.stdout
    )
    listed = json.loads(run_duet("models", "list", "--json", env=data_env).stdout)
    assert [t["name"] for t in listed["tuned"]] == ["sharon"]
    info = run_duet("models", "show", "tuned:sharon", env=data_env)
    assert info.returncode == 0, info.stderr
    assert "source      embedded:smollm2-135m-instruct" in info.stdout and "before" in info.stdout
    removed = run_duet("models", "remove", "tuned:sharon", env=data_env)
    assert removed.returncode == 0 and "tuned:sharon: removed" in removed.stdout
    assert "tuned:sharon" not in run_duet("models", "list", env=data_env).stdout
    assert "there is no tuned model 'tuned:sharon'" in _one_line_error(
        run_duet("models", "info", "tuned:sharon", env=data_env)
    )


def test_duet_info_shows_what_a_tuned_pane_is_a_fine_tune_of(data_env, monkeypatch):
    monkeypatch.setenv("DUET_DATA_DIR", data_env["DUET_DATA_DIR"])
    from models.files.embedded import embedded_path
    from models.tuning import store
    from tests.support.tuned_store import write_lineage

    model = embedded_path("smollm2-135m-instruct")  # a loadable file under a lineage record
    write_lineage(store.new_workdir("shown"), "shown", register=True, model_file=model)
    result = run_duet("info", "--chat", "tuned:shown", "--base", "embedded:smollm2-135m-instruct", env=data_env)
    assert result.returncode == 0, result.stderr
    assert "  fine-tune of     embedded:smollm2-135m-instruct (sha256 1111" in result.stdout
    assert "held-out loss    1.660 -> 0.900" in result.stdout
    payload = json.loads(run_duet("info", "--chat", "tuned:shown", "--json", env=data_env).stdout)
    chat = [m for m in payload["models"] if m["source"] == "tuned:shown"][0]
    assert chat["tuned"]["source"]["source"] == "embedded:smollm2-135m-instruct"


def _tune_until_it_converts(tmp_path, data_env, name: str):
    """`duet tune --lesson` as a terminal starts it, read until it reports its first phase."""
    import os
    import subprocess
    import sys

    from tests.support.duet_process import ROOT, ctrl_c_works

    env = {**os.environ, **data_env, "PYTHONPATH": str(ROOT)}
    command = [sys.executable, "-m", "tui.cli", "tune", "--lesson", "--name", name, "--blocks", "last:2"]
    child = subprocess.Popen(
        command,
        stderr=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env=env,
        cwd=ROOT,
        preexec_fn=ctrl_c_works,
    )
    assert child.stderr is not None
    seen = []
    for line in child.stderr:
        seen.append(line)
        if "making the F32 working copy" in line:
            return child, seen
    raise AssertionError("".join(seen))


def _training_children(data_dir) -> list[int]:
    """The pids of training children working in data_dir (their command line names the folder)."""
    import os

    pids = []
    for entry in os.listdir("/proc"):
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as f:
                line = f.read().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if "models.tuning.child" in line and str(data_dir) in line:
            pids.append(int(entry))
    return pids


def test_ctrl_c_stops_at_the_next_step_and_saves_nothing(tmp_path, data_env):
    import signal

    # The signal goes the moment the first phase is reported: the worker thread reports it, and
    # the main thread may still be inside Thread.start() (a CI run once lost the stop that way).
    child, seen = _tune_until_it_converts(tmp_path, data_env, "stopped")
    child.send_signal(signal.SIGINT)  # what Ctrl+C sends; the training child has its own session
    rest = child.communicate(timeout=240)[1]
    assert child.returncode == 130, "".join(seen) + rest
    assert "stopping at the next step" in rest and "duet: fine-tuning stopped; nothing was saved" in rest
    assert "Traceback" not in rest
    tuned = tmp_path / "data" / "tuned"
    assert not tuned.exists() or list(tuned.iterdir()) == []


def test_a_second_ctrl_c_quits_at_once_kills_the_training_and_leaves_no_folder(tmp_path, data_env):
    import os
    import signal
    import time

    child, seen = _tune_until_it_converts(tmp_path, data_env, "abandoned")
    deadline = time.monotonic() + 60
    while not (training := _training_children(tmp_path)) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert training, "the training child never started"
    # The training child frozen: a step that does not end, so that the second Ctrl+C, not the
    # end of the step, is what ends the run (it did end first in one run, the copy being quick).
    os.kill(training[0], signal.SIGSTOP)
    child.send_signal(signal.SIGINT)
    assert child.stderr is not None
    while "stopping at the next step" not in (line := child.stderr.readline()):
        assert line, "".join(seen)
        seen.append(line)
    child.send_signal(signal.SIGINT)
    rest = child.communicate(timeout=30)[1]
    assert child.returncode == 130, "".join(seen) + rest
    assert "duet: fine-tuning abandoned; nothing was saved" in rest, rest
    assert "Traceback" not in rest
    assert _training_children(tmp_path) == []  # killed and reaped, not left to finish its step
    tuned = tmp_path / "data" / "tuned"
    assert not tuned.exists() or list(tuned.iterdir()) == []
