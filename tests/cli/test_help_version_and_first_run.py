"""duet --version and --help, and the first run's visible preparation of the embedded base model."""

import json

from tests.support.duet_process import run_duet


def test_version_and_help_list_every_command():
    version = run_duet("--version")
    assert version.returncode == 0 and version.stdout.startswith("duet ")
    shown = run_duet("--help")
    assert shown.returncode == 0
    for command in (
        "ask",
        "info",
        "run",
        "history list",
        "history show",
        "history export",
        "history rm",
        "models list",
        "models info",
        "models pull",
        "models rm",
    ):
        lines = [line for line in shown.stdout.splitlines() if line.strip().startswith(f"duet {command} ")]
        assert len(lines) == 1 and len(lines[0].split(maxsplit=len(command.split()) + 1)) > len(command.split()) + 1, (
            command
        )


def test_the_first_run_says_it_prepares_the_base_model_and_later_runs_do_not(tmp_path):
    env = {"DUET_CACHE_DIR": str(tmp_path / "cache")}
    first = run_duet("info", "--json", env=env)
    assert first.returncode == 0, first.stderr
    assert "preparing Gemma 3 270M (pretrained base, Q4_K_M) for its first run" in first.stderr
    assert json.loads(first.stdout)["models"][0]["info"]["architecture"] == "gemma3"
    again = run_duet("info", "--json", env=env)
    assert again.returncode == 0 and "preparing" not in again.stderr
