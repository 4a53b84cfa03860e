"""Hostile input, round two (issue 26), as a user meets it on the command line: the real `duet` in a
subprocess, against the local stand-in hub where a hub is involved (tests/support/fake_hub.py)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.support.duet_process import run_duet

REPO = "acme/tiny-GGUF"
FILE = "tiny.Q4_1.gguf"
VICTIM_TEXT = "the victim's own words\n"


def _one_line_error(result) -> str:
    """The one `duet:` line a refused command ends with, and no traceback."""
    assert result.returncode != 0, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("duet:")]
    assert len(errors) == 1 and result.stderr.rstrip().endswith(errors[0]), result.stderr
    return errors[0]


def _files_under(folder: Path) -> dict[str, bytes | str]:
    """Every file and link below ``folder`` with its contents (a link: its target)."""
    found: dict[str, bytes | str] = {}
    for path in folder.rglob("*"):
        if path.is_symlink():
            found[str(path)] = "-> " + os.readlink(path)
        elif path.is_file():
            found[str(path)] = path.read_bytes()
    return found


@pytest.fixture
def deep_env(tmp_path, env):
    """The hub cache five folders below tmp_path, so that refs/../../../../../victim.txt is tmp_path/victim.txt."""
    cache = tmp_path / "a" / "b" / "hub"
    victim = tmp_path / "victim.txt"
    victim.write_text(VICTIM_TEXT)
    return {**env, "HF_HUB_CACHE": str(cache)}, cache, victim


def _outside_the_cache(tmp_path: Path, cache: Path, before: dict) -> dict:
    """What changed below tmp_path outside the hub cache and Duet's data folder."""
    after = _files_under(tmp_path)
    own = (str(cache), str(tmp_path / "data"), str(tmp_path / "hf-home"), str(tmp_path / "served"))
    return {path: data for path, data in after.items() if before.get(path) != data and not path.startswith(own)} | {
        path: "deleted" for path in before if path not in after
    }


@pytest.fixture
def served(tmp_path) -> Path:
    path = tmp_path / "served" / "tiny.gguf"
    path.parent.mkdir()
    path.write_bytes(os.urandom(256 * 1024))
    return path


def test_a_revision_that_climbs_out_of_the_cache_is_refused_before_any_request(fake_hub, deep_env, served, tmp_path):
    env, cache, victim = deep_env
    fake_hub.add(REPO, FILE, served)  # the stand-in answers for any revision, as the hub did
    before = _files_under(tmp_path)
    result = run_duet("models", "pull", f"hf:{REPO}/{FILE}@../../../../../victim.txt", env=env)
    line = _one_line_error(result)
    assert "invalid revision '../../../../../victim.txt'" in line and "40-hex commit" in line
    assert victim.read_text() == VICTIM_TEXT
    assert fake_hub.requests == []  # refused before the hub was asked
    assert _outside_the_cache(tmp_path, cache, before) == {}


@pytest.mark.parametrize(
    "spec, part",
    [
        (f"hf:{REPO}/../../../victim.gguf", "file"),
        (f"hf:{REPO}//tmp/victim.gguf", "file"),
        (f"hf:{REPO}/sub\\..\\victim.gguf", "file"),
        (f"hf:acme/../{FILE}", "repository"),
        (f"hf:{REPO}/{FILE}@main\x1b[2J", "revision"),
        (f"hf:{REPO}/{FILE}@/etc/passwd", "revision"),
    ],
    ids=["dotdot-file", "absolute-file", "backslash-file", "dotdot-repo", "control-revision", "absolute-revision"],
)
def test_every_part_of_a_hub_spec_is_checked(fake_hub, env, spec, part):
    line = _one_line_error(run_duet("models", "pull", spec, env=env))
    assert f"invalid {part}" in line
    assert "\x1b" not in line  # a control character is shown escaped, never sent to the terminal
    assert fake_hub.requests == []


@pytest.mark.parametrize(
    "answer",
    [{"commit": "../../../../../victim.txt"}, {"linked_etag": "../../../../victim.txt"}],
    ids=["commit", "etag"],
)
def test_a_hub_answer_that_names_a_path_is_refused(fake_hub, deep_env, served, tmp_path, answer):
    env, cache, victim = deep_env
    fake_hub.add(REPO, FILE, served, **answer)
    before = _files_under(tmp_path)
    line = _one_line_error(run_duet("models", "pull", f"hf:{REPO}/{FILE}", env=env))
    assert ("commit hash" if "commit" in answer else "ETag") in line and "does not write a file named after it" in line
    assert victim.read_text() == VICTIM_TEXT
    assert fake_hub.log("cdn", "GET") == []  # nothing was downloaded either
    assert _outside_the_cache(tmp_path, cache, before) == {}


def test_a_pull_at_a_branch_writes_only_inside_the_cache(fake_hub, deep_env, served, tmp_path):
    """The layout Duet writes itself (snapshot link, refs/<branch>) is huggingface_hub's, and loads offline."""
    env, cache, _victim = deep_env
    fake_hub.add(REPO, FILE, served)
    before = _files_under(tmp_path)
    result = run_duet("models", "pull", f"hf:{REPO}/{FILE}@release/v1.0", env=env)
    assert result.returncode == 0, result.stderr
    folder = cache / "models--acme--tiny-GGUF"
    commit = (folder / "refs" / "release" / "v1.0").read_text()
    pointer = folder / "snapshots" / commit / FILE
    assert pointer.is_symlink() and not os.path.isabs(os.readlink(pointer))
    assert pointer.read_bytes() == served.read_bytes()
    assert _outside_the_cache(tmp_path, cache, before) == {}
    listed = run_duet("models", "info", f"hf:{REPO}/{FILE}@release/v1.0", env={**env, "HF_HUB_OFFLINE": "1"})
    assert listed.returncode == 0 and str(pointer) in listed.stdout, listed.stdout + listed.stderr


@pytest.mark.parametrize(
    "args",
    [
        ("ask", "--base", f"hf:{REPO}/{FILE}@../../x", "Hello"),
        ("ask", "--base-lora", f"hf:{REPO}/lora.gguf@../../x@0.5", "Hello"),
        ("info", "--chat", f"hf:{REPO}/../{FILE}"),
    ],
    ids=["model", "adapter", "info"],
)
def test_models_and_adapters_take_hub_specs_through_the_same_parser(env, args):
    line = _one_line_error(
        run_duet(*args, "--max-tokens", "1", env=env) if args[0] == "ask" else run_duet(*args, env=env)
    )
    assert "invalid" in line and "hf:" in line


# -- 2 and 8: config files from a clumsy user ---------------------------------------------------
DEEP = "[" * 500 + "]" * 500


@pytest.fixture
def home(tmp_path):
    """A fresh config and data folder, as every case of the issue had."""
    (tmp_path / "config").mkdir()
    return tmp_path, {"DUET_CONFIG_DIR": str(tmp_path / "config"), "DUET_DATA_DIR": str(tmp_path / "data")}


def test_a_deep_aligned_toml_is_one_line_and_ask_still_answers(home):
    folder, env = home
    (folder / "config" / "aligned.toml").write_text(f"header = {DEEP}\n")  # 1 KB: a RecursionError before
    result = run_duet("ask", "--max-tokens", "1", "--no-save", "Hello", env=env)
    assert result.returncode == 0, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.startswith("duet:")]
    assert len(lines) == 1 and "aligned.toml nests arrays or tables more than 20 deep (line 1)" in lines[0]
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("content", [f"preset = {DEEP}\n", "# " + "x" * (50 * 1024 * 1024)], ids=["deep", "50MB"])
def test_a_hostile_presets_file_for_run_is_one_line(home, content):
    folder, env = home
    presets = folder / "prompts.toml"
    presets.write_text(content)
    line = _one_line_error(
        run_duet("run", str(presets), "--report", str(folder / "r.md"), "--no-save", env=env, timeout=60)
    )
    assert str(presets) in line and ("more than 20 deep" in line or "is over 1.0 MB" in line)


# -- 5: invalid UTF-8 in a prompt, and prompts from standard input or a file ------------------
def test_a_prompt_that_is_not_utf8_is_one_line(home):
    import subprocess
    import sys

    from tests.support.duet_process import ROOT

    _folder, env = home
    result = subprocess.run(
        [sys.executable, "-m", "tui.cli", "ask", b"\xff\xfe hello", "--no-save"],
        capture_output=True,
        text=True,
        env={**os.environ, **env, "PYTHONPATH": str(ROOT)},
        cwd=str(ROOT),
        timeout=60,
    )
    line = _one_line_error(result)
    assert "the prompt is not UTF-8 text (byte 0xff at character 0)" in line and "--file PATH" in line


def test_ask_reads_the_prompt_from_standard_input_and_from_a_file(home):
    import subprocess
    import sys

    from tests.support.duet_process import ROOT

    folder, env = home
    full_env = {**os.environ, **env, "PYTHONPATH": str(ROOT)}
    command = [sys.executable, "-m", "tui.cli", "ask", "--max-tokens", "2", "--json"]
    piped = subprocess.run(
        [*command, "-"], input="Hello from stdin", capture_output=True, text=True, env=full_env, cwd=str(ROOT)
    )
    assert piped.returncode == 0, piped.stderr
    prompt = folder / "prompt.txt"
    prompt.write_text("Hello from a file " * 20_000)  # 360 KB: over what one argument could carry on some systems
    from_file = run_duet("ask", "--max-tokens", "2", "--no-save", "--file", str(prompt), env=env)
    assert from_file.returncode == 1 and "Traceback" not in from_file.stderr  # all of it read, then too long:
    assert "the prompt is 80002 tokens but the context holds 2048" in from_file.stderr  # the pane's one line
    short = folder / "short.txt"
    short.write_text("Hello from a file")
    assert run_duet("ask", "--max-tokens", "2", "--file", str(short), env=env).returncode == 0
    assert "Hello from stdin" in run_duet("history", "show", "1", env=env).stdout
    assert "Hello from a file" in run_duet("history", "show", "2", env=env).stdout
    line = _one_line_error(run_duet("ask", "--file", "/dev/urandom", env=env))
    assert "the prompt file /dev/urandom is over 4 MB" in line
    line = _one_line_error(run_duet("ask", "--file", str(prompt), "also this", env=env))
    assert "not two of them" in line


# -- 6: numbers from what the machine has ------------------------------------------------------
@pytest.mark.parametrize(
    "option, value, expected",
    [
        ("--threads", "100000", "invalid threads: 100000 is more than the"),
        ("--threads", "5000", "CPU threads this machine has"),
        ("--temperature", "nan", "invalid temperature: Input should be a finite number"),
        ("--temperature", "inf", "invalid temperature: Input should be a finite number"),
        ("--max-tokens", "99999999999", "invalid max-tokens"),
        ("--n-ctx", "99999999999", "invalid n-ctx"),
    ],
)
def test_numeric_options_are_bounded(home, option, value, expected):
    _folder, env = home
    result = run_duet("ask", option, value, "--no-save", "Hello", env=env, timeout=60)
    assert result.returncode == 2
    assert expected in _one_line_error(result)


# -- 7: a kill cannot leave an empty conversation ---------------------------------------------
def test_ask_saves_its_conversation_and_turn_together(home):
    _folder, env = home
    assert run_duet("ask", "--max-tokens", "1", "Hello", env=env).returncode == 0
    listed = run_duet("history", "list", "--json", env=env)
    import json

    conversations = json.loads(listed.stdout)
    assert [(c["kind"], c["turn_count"]) for c in conversations] == [("ask", 1)]


# -- 10: wording ---------------------------------------------------------------------------------
def test_a_fifo_and_a_device_as_models_are_named_for_what_they_are(home):
    folder, env = home
    os.mkfifo(folder / "pipe.gguf")
    for source, expected in (
        (folder / "pipe.gguf", "is a FIFO (named pipe), not a model file"),
        ("/dev/urandom", "is a device"),
    ):
        result = run_duet("info", "--chat", str(source), "--json", env=env, timeout=60)
        assert expected in result.stdout + result.stderr and "empty" not in result.stdout + result.stderr


def test_a_read_only_history_database_is_said_and_still_listed(home):
    import subprocess

    folder, env = home
    assert run_duet("ask", "--max-tokens", "1", "Hello", env=env).returncode == 0
    database = folder / "data" / "history.db"
    if subprocess.run(["chattr", "+i", str(database)], capture_output=True).returncode != 0:
        pytest.skip("chattr +i is not allowed here (root ignores file modes)")
    try:
        listed = run_duet("history", "list", env=env)
        assert listed.returncode == 0 and "Hello" in listed.stdout, listed.stderr
        line = _one_line_error(run_duet("ask", "--max-tokens", "1", "Again", env=env))
        assert "is read-only for you" in line and "cannot create" not in line and "--no-save" in line
    finally:
        subprocess.run(["chattr", "-i", str(database)], check=True)
