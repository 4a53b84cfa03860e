"""Tuned models in the store: registered by one rename, leftovers of dead runs removed, listed,
removed; and tuned:NAME as a model source."""

import os
import subprocess
import sys

import pytest

from models.errors import DuetError
from models.files.sources import resolve_source
from models.tuning import store
from tests.support.tuned_store import write_lineage


@pytest.fixture(autouse=True)
def data_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("DUET_DATA_DIR", str(tmp_path))
    return tmp_path


def _dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def test_a_work_folder_is_not_a_model_until_it_is_registered(data_dir):
    work = store.new_workdir("sharon")
    (work / "sharon.Q8_0.gguf").write_bytes(b"GGUF")
    assert store.list_tuned() == [] and not store.exists("sharon")
    write_lineage(work, "sharon")
    assert store.list_tuned() == []  # still .partial-...: no listing shows it
    store.register(work, "sharon")
    assert [t.name for t in store.list_tuned()] == ["sharon"]
    assert store.tuned_path("sharon") == data_dir / "tuned" / "sharon" / "sharon.Q8_0.gguf"
    assert not work.exists()


def test_leftovers_of_dead_runs_go_and_a_live_run_stays(data_dir):
    root = data_dir / "tuned"
    dead = root / f".partial-old-{_dead_pid()}"
    alive = root / f".partial-other-{os.getppid()}"  # another process that is still running
    for folder in (dead, alive):
        folder.mkdir(parents=True)
        (folder / "source-f32.gguf").write_bytes(b"x" * 100)
    mine = store.new_workdir("new")  # the next run cleans up first
    assert not dead.exists() and alive.exists() and mine.is_dir()
    assert store.clean_leftovers() == []  # nothing else to remove: the live one and mine stay
    assert alive.exists() and mine.is_dir()


def test_this_process_s_own_run_in_progress_is_never_a_leftover():
    work = store.new_workdir("busy")
    store.clean_leftovers()
    assert work.is_dir()
    store.discard_workdir(work)
    assert not work.exists()


def test_a_name_is_never_replaced(data_dir):
    write_lineage(store.new_workdir("taken"), "taken", register=True)
    work = store.new_workdir("taken")
    with pytest.raises(DuetError, match="appeared meanwhile"):
        store.register(work, "taken")
    assert store.exists("taken")


def test_remove_frees_the_folder_and_names_what_is_missing(data_dir):
    write_lineage(store.new_workdir("gone"), "gone", register=True)
    assert store.remove_tuned("gone") > 0
    assert not (data_dir / "tuned" / "gone").exists()
    with pytest.raises(DuetError, match="there is no tuned model 'tuned:gone'"):
        store.remove_tuned("gone")
    with pytest.raises(DuetError, match="is not a tuned model's name"):
        store.load_lineage("../etc")


def test_a_damaged_lineage_is_one_line_and_left_out_of_the_list(data_dir):
    write_lineage(store.new_workdir("broken"), "broken", register=True)
    (data_dir / "tuned" / "broken" / "lineage.json").write_text("{not json")
    assert store.list_tuned() == []
    with pytest.raises(DuetError, match="is damaged; remove the model: duet models remove tuned:broken"):
        store.load_lineage("broken")


def test_tuned_name_is_a_model_source(data_dir):
    write_lineage(store.new_workdir("src"), "src", register=True)
    resolved = resolve_source("tuned:src")
    assert resolved.path == data_dir / "tuned" / "src" / "src.Q8_0.gguf"
    assert resolved.label == "tuned:src"
    with pytest.raises(DuetError, match="there is no tuned model 'tuned:nope'; see: duet models list"):
        resolve_source("tuned:nope")
