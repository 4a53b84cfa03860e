"""Hostile input, round two (issue 26): the parsers and bounds below the screen, without a model."""

from __future__ import annotations

from pathlib import Path

import pytest

from models.errors import DuetError
from models.files.catalog import load_catalog_file
from models.files.hub_spec import HubFile, checked_answer, parse_hf_spec
from models.hub.snapshot import inside, link_into_snapshot
from models.settings import AdapterSpec, ModelSpec

COMMIT = "0123456789abcdef0123456789abcdef01234567"
SHA256 = "a" * 64


# -- 1. one validated parser for hub specs ------------------------------------------------------
@pytest.mark.parametrize(
    "spec, expected",
    [
        ("hf:acme/tiny-GGUF/tiny.Q4_1.gguf", HubFile("acme/tiny-GGUF", "tiny.Q4_1.gguf", "main")),
        ("hf:acme/tiny-GGUF/sub/tiny.gguf@refs/pr/1", HubFile("acme/tiny-GGUF", "sub/tiny.gguf", "refs/pr/1")),
        (f"hf:acme/tiny/x.GGUF@{COMMIT}", HubFile("acme/tiny", "x.GGUF", COMMIT)),
        (
            "hf:Qwen/Qwen2.5-0.5B-Instruct-GGUF/q.gguf@v1.0_rc+2",
            HubFile("Qwen/Qwen2.5-0.5B-Instruct-GGUF", "q.gguf", "v1.0_rc+2"),
        ),
    ],
)
def test_good_hub_specs_parse(spec, expected):
    assert parse_hf_spec(spec) == expected


@pytest.mark.parametrize(
    "spec, part",
    [
        ("hf:acme/tiny/tiny.gguf@../../../../../victim.txt", "revision"),
        ("hf:acme/tiny/tiny.gguf@/etc/passwd", "revision"),
        ("hf:acme/tiny/tiny.gguf@main\\..\\x", "revision"),
        ("hf:acme/tiny/tiny.gguf@ma\x00in", "revision"),
        ("hf:acme/tiny/tiny.gguf@.hidden", "revision"),
        ("hf:acme/tiny/tiny.gguf@x.lock", "revision"),
        ("hf:acme/tiny/tiny.gguf@a//b", "revision"),
        ("hf:acme/tiny/tiny.gguf@main@other", "revision"),
        ("hf:acme/tiny/../../x.gguf", "file"),
        ("hf:acme/tiny/./x.gguf", "file"),
        ("hf:acme/tiny/a\\b.gguf", "file"),
        ("hf:acme/tiny/a\tb.gguf", "file"),
        ("hf:acme/tiny/a\x1b[31mb.gguf", "file"),
        ("hf:../tiny/x.gguf", "repository"),
        ("hf:acme/ti--ny/x.gguf", "repository"),
        ("hf:-acme/tiny/x.gguf", "repository"),
        ("hf:acme/" + "t" * 100 + "/x.gguf", "repository"),
    ],
)
def test_every_part_of_a_hub_spec_is_held_to_the_hubs_rules(spec, part):
    with pytest.raises(DuetError, match=f"invalid {part} ") as caught:
        parse_hf_spec(spec)
    message = str(caught.value)
    assert message.isprintable() and "\n" not in message  # control characters are shown escaped


def test_a_spec_of_any_size_is_refused_in_one_short_line():
    with pytest.raises(DuetError) as caught:
        parse_hf_spec("hf:a/b/" + "x" * 10_000_000 + ".gguf")
    assert len(str(caught.value)) < 300


def test_hub_files_check_themselves_wherever_they_are_built():
    with pytest.raises(DuetError, match="invalid hub revision"):
        HubFile("acme/tiny", "x.gguf", "../../victim")
    with pytest.raises(ValueError, match="invalid revision"):
        ModelSpec(source="hf:acme/tiny/x.gguf@../../victim")
    with pytest.raises(ValueError, match="invalid file"):
        AdapterSpec(source="hf:acme/tiny/../lora.gguf")
    assert ModelSpec(source="./my.gguf@../x").source == "./my.gguf@../x"  # a local path is not a hub spec


def test_the_catalog_is_held_to_the_same_rules(tmp_path):
    catalog = tmp_path / "catalog.toml"
    entry = '[models.tiny]\ntitle = "t"\nrepo = "acme/tiny"\nfile = "x.gguf"\nrevision = "{rev}"\nsize = 1\n'
    entry += 'architecture = "llama"\nn_layers = 1\nn_kv_heads = 1\nhead_dim = 1\ncontext_length = 1\nlicence = "x"\n'
    catalog.write_text(entry.format(rev="../../../victim"))
    with pytest.raises(DuetError, match=r"invalid at models\.tiny\.revision: revision '../../../victim' is not valid"):
        load_catalog_file(catalog)
    catalog.write_text(entry.format(rev="v2").replace('"x.gguf"', '"../x.gguf"'))
    with pytest.raises(DuetError, match=r"models\.tiny\.file"):
        load_catalog_file(catalog)


@pytest.mark.parametrize(
    "commit, etag, what",
    [
        ("../../../../victim", SHA256, "commit hash"),
        (COMMIT.upper(), SHA256, "commit hash"),
        (None, SHA256, "commit hash"),
        (COMMIT, "../../victim", "ETag"),
        (COMMIT, "a" * 63, "ETag"),
        (COMMIT, "", "ETag"),
    ],
)
def test_a_hub_answer_is_checked_before_it_names_a_file(commit, etag, what):
    with pytest.raises(DuetError, match=f"answered an? {what}"):
        checked_answer("hf:acme/tiny/x.gguf", commit, etag)
    assert checked_answer("x", COMMIT, SHA256) == (COMMIT, SHA256)


def test_snapshot_paths_stay_inside_the_repository_folder(tmp_path):
    folder = tmp_path / "models--acme--tiny"
    with pytest.raises(DuetError, match="outside the hub cache folder"):
        inside(folder, folder / "refs" / ".." / ".." / "victim.txt")
    (folder / "blobs").mkdir(parents=True)
    (folder / "blobs" / SHA256).write_bytes(b"GGUF")
    pointer = link_into_snapshot(folder, HubFile("acme/tiny", "sub/x.gguf", "dev/1"), COMMIT, SHA256)
    assert pointer == folder / "snapshots" / COMMIT / "sub" / "x.gguf" and pointer.read_bytes() == b"GGUF"
    assert (folder / "refs" / "dev" / "1").read_text() == COMMIT
    assert sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*") if not p.is_dir()) == [
        f"models--acme--tiny/blobs/{SHA256}",
        "models--acme--tiny/refs/dev/1",
        f"models--acme--tiny/snapshots/{COMMIT}/sub/x.gguf",
    ]
    with pytest.raises(DuetError):
        link_into_snapshot(folder, HubFile("acme/tiny", "x.gguf"), "../" * 3 + "x" * 31, SHA256)
    assert not Path(tmp_path / "x").exists()


# -- 2 and 8. one bounded TOML reader for every file ------------------------------------------------
DEEP_ARRAY = "header = " + "[" * 500 + "]" * 500 + "\n"


def _readers(tmp_path: Path):
    """Each TOML file Duet reads, by the function that reads it."""
    from models.aligned.prompt_file import load_prompt_file
    from models.presets import load_presets
    from tui.config import load_config

    return {
        "config.toml": lambda: load_config(tmp_path / "config.toml"),
        "presets.toml": lambda: load_presets(tmp_path / "presets.toml"),
        "aligned.toml": lambda: load_prompt_file(tmp_path / "aligned.toml"),
        "catalog.toml": lambda: load_catalog_file(tmp_path / "catalog.toml"),
    }


@pytest.mark.parametrize("name", ["config.toml", "presets.toml", "aligned.toml", "catalog.toml"])
@pytest.mark.parametrize(
    "text, expected",
    [
        (DEEP_ARRAY, "nests arrays or tables more than 20 deep (line 1)"),
        ("x = 1\ny = " + "{a = " * 300 + "1" + "}" * 300 + "\n", "more than 20 deep (line 2)"),
        (".".join(["a"] * 500) + " = 1\n", "nests tables more than 20 deep (dotted keys)"),
        ("x = '\xff'".encode("latin-1"), "is not UTF-8 text"),
    ],
    ids=["arrays", "inline-tables", "dotted-keys", "not-utf8"],
)
def test_every_toml_file_is_checked_before_it_is_parsed(tmp_path, name, text, expected):
    path = tmp_path / name
    path.write_bytes(text if isinstance(text, bytes) else text.encode())
    with pytest.raises(DuetError) as caught:
        _readers(tmp_path)[name]()
    message = str(caught.value)
    assert expected in message and str(path) in message and "\n" not in message


@pytest.mark.parametrize(
    "name, bound",
    [("config.toml", "64 KB"), ("presets.toml", "1.0 MB"), ("aligned.toml", "64 KB"), ("catalog.toml", "1.0 MB")],
)
def test_every_toml_file_has_a_size_bound(tmp_path, name, bound):
    path = tmp_path / name
    with path.open("wb") as out:
        out.write(b"# " + b"x" * (50 * 1024 * 1024) + b"\n")  # 50 MB: took 35 s and 1.2 GB as config.toml
    with pytest.raises(DuetError, match=f"is over {bound}"):
        _readers(tmp_path)[name]()


def test_brackets_inside_strings_and_comments_are_not_nesting(tmp_path):
    from models.toml import parse_toml

    text = "a = \"[[[[[[[[[[[[[[[[[[[[[[[[[[\"  # [[[[[[[[[[[[[[[[[[[[[[[[[[\nb = '''\n{{{{{{{{{{{{{{{{{{{{{{{{'''\n"
    text += 'c = """ \\" [[[[[[[[[[[[[[[[[[[[[[[[[[ """\nd = [[1, [2]], {e = [3]}]\n'
    data = parse_toml(text.encode(), "test file", 64 * 1024).data
    assert data["a"].startswith("[[[") and data["d"] == [[1, [2]], {"e": [3]}]


def test_a_fifo_as_a_toml_file_is_refused_without_waiting(tmp_path):
    import os

    from tui.config import load_config

    os.mkfifo(tmp_path / "config.toml")  # nothing will ever write to it: opening it must not block
    with pytest.raises(DuetError, match="not a regular file but a FIFO"):
        load_config(tmp_path / "config.toml")


# -- 3. one place makes text safe for a widget --------------------------------------------------
@pytest.mark.parametrize(
    "text",
    [
        "[b]x[/b]",
        "[@click=app.quit]q",
        "[link=https://x.y]a[/link]",
        "[B]x[/B]",
        "[$accent]x",
        "[ b ]x",
        "a\\[b]c",
        "a\\",
    ],
)
def test_markup_safe_text_shows_exactly_what_it_was(text):
    from textual.content import Content

    from tui.text.safe_text import markup_safe, plain

    assert Content.from_markup(markup_safe(text)).plain == text
    assert plain(text + "\x1b[2J").plain == text + "␛[2J"
    assert not Content.from_markup(markup_safe(text)).spans


# -- 6. numeric options bounded by what the machine has ----------------------------------------
def test_nan_and_inf_are_refused_as_not_finite():
    from tui.cli.options import UsageError, sampling_settings

    for value in (float("nan"), float("inf"), float("-inf")):
        with pytest.raises(UsageError, match="^invalid temperature: Input should be a finite number$"):
            sampling_settings(_args(temperature=value))


def test_threads_are_bounded_by_the_machines_cpus():
    import os

    from tui.cli.options import UsageError, pane_configs

    most = os.cpu_count() or 1
    assert pane_configs(_args(threads=most))[0].spec.n_threads == most
    with pytest.raises(UsageError, match=rf"^invalid threads: 100000 is more than the {most} CPU threads") as caught:
        pane_configs(_args(threads=100000))
    assert f"use 1 to {most}" in str(caught.value)


@pytest.mark.parametrize(
    "field, value", [("n_ctx", 10**12), ("n_gpu_layers", 2**40), ("n_threads", 0)], ids=["n_ctx", "gpu_layers", "zero"]
)
def test_load_numbers_have_upper_and_lower_bounds(field, value):
    with pytest.raises(ValueError):
        ModelSpec(source="embedded:x", **{field: value})


def _args(**values):
    import argparse

    from tui.cli.main import build_parser

    args = build_parser().parse_args(["ask", "x"])
    return argparse.Namespace(**{**vars(args), **values})


# -- 7. a turn is saved in one transaction ------------------------------------------------------
def _pane(text: str = "yo") -> dict:
    metrics = {"ttft_s": 0.1, "tokens": 1, "tokens_per_s": 10.0, "stop_reason": "eos"}
    return {
        "role": "chat",
        "model": "m",
        "mode": "chat",
        "prompt": "hi",
        "text": text,
        "error": None,
        "metrics": metrics,
    }


def test_a_first_turn_and_its_conversation_are_one_transaction(tmp_path):
    from models.store.history import HistoryStore

    with HistoryStore(tmp_path / "h.db") as store:
        broken = {**_pane(), "text": object()}  # SQLite cannot store it: fails after the conversation row
        with pytest.raises(Exception):  # noqa: B017 - which error does not matter, what is left does
            store.save_turn(None, "hi", [broken], new_conversation={"panes": [{"role": "chat"}], "kind": "ask"})
        assert store.conversations() == []  # no empty, untitled conversation left behind
        conversation, seq = store.save_turn(None, "hi", [_pane()], new_conversation={"panes": [], "kind": "ask"})
        again, seq2 = store.save_turn(conversation, "more", [_pane("more")])
        listed = store.conversations()
    assert (seq, again, seq2) == (1, conversation, 2)
    assert [(c["kind"], c["title"], c["turn_count"]) for c in listed] == [("ask", "hi", 2)]


# -- 10. wording: read-only history, FIFOs and devices, adapter files --------------------------
@pytest.fixture
def immutable(tmp_path):
    """A history database even root cannot write (chattr +i), or a skip where that is not allowed."""
    import subprocess

    from models.store.history import HistoryStore

    path = tmp_path / "history.db"
    with HistoryStore(path) as store:
        store.save_turn(None, "hi", [_pane()])
    if subprocess.run(["chattr", "+i", str(path)], capture_output=True).returncode != 0:
        pytest.skip("chattr +i is not allowed here")
    yield path
    subprocess.run(["chattr", "-i", str(path)], check=True)


def test_a_read_only_history_is_listed_and_says_why_nothing_is_saved(immutable):
    from models.store.history import HistoryStore

    with HistoryStore(immutable) as store:
        assert store.read_only
        assert [c["title"] for c in store.conversations()] == ["hi"]
        assert store.get(1)["turns"][0]["panes"][0]["text"] == "yo"
        with pytest.raises(DuetError, match="is read-only for you: history can be listed and shown, but nothing new"):
            store.save_turn(None, "again", [_pane()])
        with pytest.raises(DuetError, match="read-only"):
            store.delete(1)


def test_a_fifo_or_a_device_is_not_called_an_empty_model(tmp_path):
    import os

    from models.files.gguf import read_header

    os.mkfifo(tmp_path / "pipe.gguf")
    with pytest.raises(DuetError, match=r"pipe.gguf is a FIFO \(named pipe\), not a model file"):
        read_header(tmp_path / "pipe.gguf")
    with pytest.raises(DuetError, match="/dev/urandom is a device or socket, not a model file"):
        read_header(Path("/dev/urandom"))


def test_adapter_errors_say_adapter_file(tmp_path):
    from models.files.adapters import read_adapter

    truncated = tmp_path / "lora.gguf"
    truncated.write_bytes(b"GGUF\x03\x00\x00\x00\x01")
    for source, expected in ((truncated, "adapter file"), (Path("/dev/urandom"), "not an adapter file")):
        with pytest.raises(DuetError) as caught:
            read_adapter(str(source))
        assert expected in str(caught.value) and "model file" not in str(caught.value)
    assert "convert it again" in str(pytest.raises(DuetError, read_adapter, str(truncated)).value)


def test_gpu_memory_and_history_ids_past_64_bits_are_one_line(tmp_path):
    from models.store.history import HistoryStore
    from tui.cli.options import UsageError, pane_configs

    with pytest.raises(UsageError, match="^invalid gpu-memory: Input should be less than or equal to"):
        pane_configs(_args(gpu_memory="99999999999999999999GB"))
    huge = 10**23
    with HistoryStore(tmp_path / "h.db") as store:
        for call in (lambda: store.get(huge), lambda: store.conversations(limit=huge), lambda: store.delete(huge)):
            with pytest.raises(DuetError, match="larger than any id"):
                call()


# -- 9. an invalid keymap is refused in one line, the defaults kept ------------------------------
def test_every_key_duet_binds_is_a_key_and_bad_ones_are_named():
    from textual.binding import Binding
    from textual.dom import DOMNode

    import tui.app  # noqa: F401 - loads every screen and widget class, with their bindings
    from tui.config import binding_ids, checked_keymap, key_problem

    stack, keys = [DOMNode], []
    while stack:
        cls = stack.pop()
        stack.extend(cls.__subclasses__())
        keys += [b.key for b in vars(cls).get("BINDINGS", []) if isinstance(b, Binding)]
    assert keys and [k for k in keys if key_problem(k)] == []  # nothing Duet or Textual binds is refused
    ids = binding_ids()
    assert {"cycle_mode", "presets", "quit"} <= ids
    kept, line = checked_keymap({"cycle_mode": "not a key!!", "nope": "f9", "inspect": " f11 , ctrl+e "}, ids)
    assert kept == {"inspect": "f11,ctrl+e"}
    assert line is not None and "\n" not in line
    assert "cycle_mode = 'not a key!!': 'not a key!!' is not a key" in line and "'nope' is not a binding" in line
    assert checked_keymap({"cycle_mode": "f2,ctrl+o"}, ids) == ({"cycle_mode": "f2,ctrl+o"}, None)
