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
