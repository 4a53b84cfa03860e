"""duet models list and info on the shipped catalog."""

import json

from tests.support.duet_process import run_duet


def test_models_list_and_info_commands(tmp_path):
    env = {"HF_HUB_CACHE": str(tmp_path / "hub")}
    listed = run_duet("models", "list", "--json", env=env)
    assert listed.returncode == 0, listed.stderr
    data = json.loads(listed.stdout)
    assert data["cache_dir"] == str(tmp_path / "hub") and data["n_ctx"] == 2048
    states = {m["name"]: m["state"] for m in data["models"]}
    assert states["embedded/base"] == "built-in" and states["llama-2-7b/chat"] == "not downloaded"
    assert data["pairs"]["llama-2-7b"]["chat_mode"] == "inst"
    table = run_duet("models", "list", "--n-ctx", "4096", env=env).stdout
    assert "RAM@4096" in table and "llama-2-7b/chat" in table and "not downloaded" in table
    assert "hf:OWNER/REPO/FILE.gguf" in table  # how to name models is documented right there

    info = run_duet("models", "info", "llama-2-7b", env=env)
    assert info.returncode == 0 and "duet --pair llama-2-7b" in info.stdout and "llama-2" in info.stdout
    unknown = run_duet("models", "info", "nope", env=env)
    assert unknown.returncode == 1 and unknown.stderr.startswith("duet: unknown model 'nope'")
    embedded = run_duet("models", "pull", "embedded", env=env)
    assert embedded.returncode == 1 and "ships inside Duet's packages" in embedded.stderr
    bad_pair = run_duet("info", "--pair", "nope", env=env)
    assert bad_pair.returncode == 2 and "unknown pair 'nope'" in bad_pair.stderr
