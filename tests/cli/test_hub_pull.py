"""Hub downloads against a local fake hub: the real huggingface_hub client does every transfer.

The CLI runs in a subprocess (huggingface_hub reads HF_ENDPOINT / HF_HUB_CACHE at import time),
with HF_ENDPOINT pointing at tests/fake_hub.py's servers and the cache in tmp_path.
"""

import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.support.duet_process import ROOT, ctrl_c_works, run_duet
from tests.support.fake_hub import COMMIT, TOKEN

REPO = "test-org/SmolLM2-135M-Instruct-GGUF"
FILE = "smollm2-135m-instruct.Q4_1.gguf"
SPEC = f"hf:{REPO}/{FILE}"


@pytest.fixture
def small_file(tmp_path) -> Path:
    path = tmp_path / "small.bin"
    path.write_bytes(os.urandom(3 * 1024 * 1024 + 17))
    return path


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _one_line_error(result) -> str:
    """The one `duet:` error line (progress lines may come before it), with no traceback."""
    assert result.returncode == 1, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("duet:")]
    assert len(errors) == 1 and result.stderr.rstrip().endswith(errors[0]), result.stderr
    return errors[0]


def test_pull_then_load_offline_without_any_request(fake_hub, env, chat_path, tmp_path):
    fake_hub.add(REPO, FILE, chat_path)
    pulled = run_duet("models", "pull", SPEC, env=env)
    assert pulled.returncode == 0, pulled.stderr
    assert "sha256 verified" in pulled.stdout
    assert "%" in pulled.stderr  # plain progress lines when not on a terminal
    cdn_gets = fake_hub.log("cdn", "GET")
    assert cdn_gets and all("Authorization" not in r.headers for r in cdn_gets)  # the CDN never sees the token
    snapshot = tmp_path / "hub" / f"models--{REPO.replace('/', '--')}" / "snapshots" / COMMIT / FILE
    assert snapshot.is_file() and _sha256(snapshot) == _sha256(chat_path)
    assert not list(snapshot.parent.parent.parent.glob("blobs/*.incomplete*"))

    seen = len(fake_hub.requests)
    asked = run_duet("ask", "--base", SPEC, "--chat", SPEC, "--max-tokens", "3", "--json", "Hello", env=env)
    assert asked.returncode == 0, asked.stderr
    panes = json.loads(asked.stdout)["panes"]
    assert [p["error"] for p in panes] == [None, None]
    assert all(p["metrics"]["tokens"] > 0 for p in panes)
    assert len(fake_hub.requests) == seen  # loading a cached model never asks the hub

    again = run_duet("models", "pull", SPEC, env=env)
    assert again.returncode == 0 and "already downloaded" in again.stdout
    assert len(fake_hub.log("cdn", "GET")) == len(cdn_gets)


def test_dropped_connection_resumes_with_a_range_request(fake_hub, env, chat_path):
    entry = fake_hub.add(REPO, FILE, chat_path, drop_after=40 * 1024 * 1024)
    pulled = run_duet("models", "pull", SPEC, env=env)
    assert pulled.returncode == 0, pulled.stderr
    gets = fake_hub.log("cdn", "GET")
    assert len(gets) == 2 and "Range" not in gets[0].headers
    start = int(gets[1].headers["Range"].split("=")[1].rstrip("-"))
    assert 0 < start <= entry.drop_after
    assert "sha256 verified" in pulled.stdout
    info = run_duet("info", "--base", SPEC, "--chat", "embedded:smollm2-135m-instruct", "--json", env=env)
    assert info.returncode == 0, info.stderr
    assert json.loads(info.stdout)["models"][0]["info"]["architecture"] == "llama"


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGKILL], ids=["ctrl-c", "killed"])
def test_interrupted_pull_resumes_on_the_next_pull(fake_hub, env, small_file, tmp_path, sig):
    entry = fake_hub.add(REPO, "small.gguf", small_file, stall_after=1024 * 1024)
    spec = f"hf:{REPO}/small.gguf"
    blobs = tmp_path / "hub" / f"models--{REPO.replace('/', '--')}" / "blobs"
    proc = subprocess.Popen(
        [sys.executable, "-m", "tui.cli", "models", "pull", spec],
        cwd=str(ROOT),
        text=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env={**os.environ, **env, "PYTHONPATH": str(ROOT)},
        preexec_fn=ctrl_c_works,
    )
    partial = blobs / f"{entry.sha256}.incomplete"
    deadline = time.monotonic() + 30
    while not (partial.is_file() and partial.stat().st_size >= 1024 * 1024):
        assert time.monotonic() < deadline and proc.poll() is None, proc.communicate()
        time.sleep(0.05)
    proc.send_signal(sig)
    out, err = proc.communicate(timeout=30)
    if sig == signal.SIGINT:
        assert proc.returncode == 130 and "Traceback" not in err
        assert f"run `duet models pull {spec}` to resume" in err
    kept = partial.stat().st_size
    assert kept == 1024 * 1024

    # The half file is not a model: nothing resolves to it.
    info = run_duet("info", "--base", spec, "--chat", "embedded:smollm2-135m-instruct", env=env)
    assert f"{spec} is not downloaded yet; run: duet models pull {spec}" in info.stderr

    entry.release.set()
    pulled = run_duet("models", "pull", spec, env=env)
    assert pulled.returncode == 0, pulled.stderr
    last = fake_hub.log("cdn", "GET")[-1]
    assert last.headers.get("Range") == f"bytes={kept}-"
    assert "resumed after" in pulled.stdout and "sha256 verified" in pulled.stdout
    assert _sha256(blobs / entry.sha256) == entry.sha256
    assert not partial.exists() and not list(blobs.glob("*.json"))


def test_missing_file_and_repo_are_one_line_errors(fake_hub, env, small_file):
    fake_hub.add(REPO, "small.gguf", small_file)
    missing = run_duet("models", "pull", f"hf:{REPO}/missing.gguf", env=env)
    line = _one_line_error(missing)
    assert "missing.gguf was not found in test-org/SmolLM2-135M-Instruct-GGUF" in line and "404" in line
    no_repo = run_duet("models", "pull", "hf:nobody/nothing-GGUF/x.gguf", env=env)
    assert "repository nobody/nothing-GGUF was not found" in _one_line_error(no_repo)
    unknown = run_duet("models", "pull", "no-such-model", env=env)
    assert "unknown model 'no-such-model'" in _one_line_error(unknown)
    assert not fake_hub.log("cdn")


def test_gated_file_needs_a_token(fake_hub, env, small_file):
    fake_hub.add("meta-test/Gated-GGUF", "gated.gguf", small_file, gated=True)
    spec = "hf:meta-test/Gated-GGUF/gated.gguf"
    refused = run_duet("models", "pull", spec, env=env)
    line = _one_line_error(refused)
    assert "is gated" in line and "HF_TOKEN" in line and f"{fake_hub.url}/meta-test/Gated-GGUF" in line
    allowed = run_duet("models", "pull", spec, env={**env, "HF_TOKEN": TOKEN})
    assert allowed.returncode == 0, allowed.stderr


def test_corrupt_transfer_is_rejected_and_deleted(fake_hub, env, small_file, tmp_path):
    fake_hub.add(REPO, "small.gguf", small_file, corrupt=True)
    spec = f"hf:{REPO}/small.gguf"
    result = run_duet("models", "pull", spec, env=env)
    line = _one_line_error(result)
    assert "is corrupt" in line and "sha256" in line and "deleted" in line
    folder = tmp_path / "hub" / f"models--{REPO.replace('/', '--')}"
    assert not [p for p in folder.rglob("*") if p.is_file()]  # no blob, no partial, no snapshot link
    listed = run_duet("models", "info", spec, "--json", env=env)
    assert json.loads(listed.stdout)["models"][0]["installed"] is False


def test_not_enough_disk_space_is_refused_before_the_transfer(fake_hub, small_file, tmp_path, monkeypatch):
    from huggingface_hub import constants

    from models import hub
    from models.errors import DuetError

    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    fake_hub.add(REPO, "small.gguf", small_file)
    with pytest.raises(DuetError, match=r"not enough disk space for hf:.*small.gguf: it needs 3.1 MB but only 1.0 kB"):
        hub.pull(f"hf:{REPO}/small.gguf", cache_dir=tmp_path / "hub", endpoint=fake_hub.url, free_bytes=1000)
    assert not fake_hub.log("cdn")
    # The same call with room to spare goes through, and reports progress on the way.
    seen = []
    results = hub.pull(
        f"hf:{REPO}/small.gguf",
        cache_dir=tmp_path / "hub",
        endpoint=fake_hub.url,
        free_bytes=10**9,
        on_progress=seen.append,
    )
    assert results[0].verified and results[0].size == small_file.stat().st_size
    phases = [p.phase for p in seen]
    assert phases[0] == "checking" and "downloading" in phases and phases[-1] == "done"
    assert seen[-1].done_bytes == seen[-1].total_bytes == small_file.stat().st_size


def test_cancel_keeps_the_partial_file_for_the_next_pull(fake_hub, small_file, tmp_path, monkeypatch):
    """The model screen runs pull() on a worker thread and stops it with the cancel event."""
    import threading

    from huggingface_hub import constants

    from models import hub
    from models.errors import DuetError
    from models.files.catalog import parse_hf_spec

    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    entry = fake_hub.add(REPO, "small.gguf", small_file, throttle_s=0.05)
    spec = f"hf:{REPO}/small.gguf"
    cancel = threading.Event()

    def on_progress(p):
        if p.done_bytes >= 1024 * 1024:
            cancel.set()

    with pytest.raises(hub.DownloadCancelled, match=f"run `duet models pull {spec}` to resume"):
        hub.pull(spec, cache_dir=tmp_path / "hub", endpoint=fake_hub.url, on_progress=on_progress, cancel=cancel)
    target = parse_hf_spec(spec)
    status = hub.file_status(target, tmp_path / "hub")
    assert not status.installed and 1024 * 1024 <= status.partial_bytes < entry.size
    entry.throttle_s = 0.0
    # The app runs offline; a pull the user asked for lifts that for itself only.
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    with pytest.raises(DuetError, match="HF_HUB_OFFLINE is set"):
        hub.pull(spec, cache_dir=tmp_path / "hub", endpoint=fake_hub.url)
    result = hub.pull(spec, cache_dir=tmp_path / "hub", endpoint=fake_hub.url, force_online=True)[0]
    assert constants.HF_HUB_OFFLINE is True
    assert result.resumed_from == status.partial_bytes and result.verified
    assert hub.file_status(target, tmp_path / "hub").installed


def test_catalog_model_list_and_rm(fake_hub, env, small_file, chat_path, tmp_path):
    # Point a catalog entry's real repository at the fake hub: the catalog name drives everything.
    fake_hub.add("bartowski/SmolLM2-360M-Instruct-GGUF", "SmolLM2-360M-Instruct-Q4_K_M.gguf", small_file)
    fake_hub.add("bartowski/SmolLM2-360M-Instruct-GGUF", "other.gguf", chat_path)
    pulled = run_duet(
        "models", "pull", "smollm2-360m/chat", "hf:bartowski/SmolLM2-360M-Instruct-GGUF/other.gguf", env=env
    )
    assert pulled.returncode == 0, pulled.stderr

    listed = run_duet("models", "list", "--json", env=env)
    assert listed.returncode == 0, listed.stderr
    models = {m["name"]: m for m in json.loads(listed.stdout)["models"]}
    chat = models["smollm2-360m/chat"]
    assert chat["installed"] and chat["state"] == "installed" and chat["size"] == small_file.stat().st_size
    assert Path(chat["path"]).is_file()
    assert chat["ram_bytes"] == chat["size"] + 2 * 32 * 2048 * 5 * 64 * 2
    assert models["smollm2-360m/base"]["state"] == "not downloaded"
    table = run_duet("models", "list", env=env).stdout
    assert "smollm2-360m/chat" in table and "installed" in table and "PAIR/base" in table

    removed = run_duet("models", "rm", "smollm2-360m/chat", env=env)
    assert removed.returncode == 0 and "3.1 MB freed" in removed.stdout
    # The other file of the same repository is untouched and still loads from the cache.
    other = run_duet("models", "info", "hf:bartowski/SmolLM2-360M-Instruct-GGUF/other.gguf", "--json", env=env)
    assert json.loads(other.stdout)["models"][0]["installed"] is True
    again = run_duet("models", "rm", "smollm2-360m/chat", env=env)
    assert again.returncode == 0 and "not downloaded; nothing to remove" in again.stdout
    run_duet("models", "rm", "hf:bartowski/SmolLM2-360M-Instruct-GGUF/other.gguf", env=env)
    assert not (tmp_path / "hub" / "models--bartowski--SmolLM2-360M-Instruct-GGUF").exists()
    listed = json.loads(run_duet("models", "list", "--json", env=env).stdout)
    assert {m["name"]: m["state"] for m in listed["models"]}["smollm2-360m/chat"] == "not downloaded"


def test_pull_without_network_says_what_to_do(env, tmp_path):
    closed = {**env, "HF_ENDPOINT": "http://127.0.0.1:9"}  # nothing listens on the discard port
    result = run_duet("models", "pull", "smollm2-360m/chat", env=closed)
    line = _one_line_error(result)
    assert "cannot reach the Hugging Face hub" in line and "duet models pull smollm2-360m/chat" in line
