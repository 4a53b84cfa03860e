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
