"""Hub file specs, validated: the one parser for ``hf:OWNER/REPO/FILE.gguf[@REVISION]`` and the checks
of what a hub answers (a commit hash, an ETag) before any of it names a file on disk.

Every part of a spec ends up in a path of the hub cache: the repository in ``models--OWNER--REPO``,
the file below ``snapshots/<commit>/``, the revision in ``refs/<revision>`` (huggingface_hub writes
the commit hash there), the ETag in ``blobs/<etag>``. A revision of ``../../../victim.txt`` once made
a pull overwrite a file outside the cache, so each part is held to what the hub itself allows and
anything else is refused in one line before a path is built:

* OWNER and REPO: letters, digits, ``-``, ``_``, ``.``; not starting or ending with ``-`` or ``.``,
  no ``--`` or ``..`` (huggingface_hub's own repo id rules), 96 characters at most together;
* FILE: a path inside the repository ending in ``.gguf``; folders allowed, but no empty, ``.`` or
  ``..`` part, no leading ``/``, no backslash, no whitespace or control character, no ``@``;
* REVISION: a 40-hex commit, or a branch or tag name as git allows it (letters, digits and
  ``._+-/``; no ``..``, no part starting with ``.`` or ending with ``.lock``, no empty part);
* from the hub: the commit hash must be 40 lower-case hex digits and the ETag a sha256 or a git
  blob id (hex); a hub that answers anything else is refused as not being a hub.

HubFile checks itself on construction, so a spec from the catalog, a preset, history or the
command line cannot skip these rules.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from models.errors import DuetError

HF_PREFIX = "hf:"
SPEC_SHAPE = "hf:OWNER/REPO/FILE.gguf, optionally followed by @REVISION"
_EXAMPLE = "(e.g. hf:TheBloke/Llama-2-7B-GGUF/llama-2-7b.Q4_K_M.gguf)"
MAX_SPEC_CHARS = 2048  # far above any real spec; a longer one is refused before a regex sees it

_NAME_PART = re.compile(r"[A-Za-z0-9_](?:[A-Za-z0-9._-]*[A-Za-z0-9_])?")  # huggingface_hub: \b[\w.-]+\b
_MAX_REPO_ID = 96  # huggingface_hub's limit for OWNER/NAME
_FILE_PART = re.compile(r"[^\x00-\x20\x7f\\/@]+")  # no control, space, backslash, slash or '@'
_MAX_FILE = 1024
_REF_PART = re.compile(r"[A-Za-z0-9_+-][A-Za-z0-9._+-]*")  # git: a part never starts with '.'
_MAX_REVISION = 255
COMMIT_HASH = re.compile(r"[0-9a-f]{40}")
_ETAG = re.compile(r"[0-9a-f]{40}|[0-9a-f]{64}")  # a git blob id (sha1) or an LFS file's sha256


def shown(text: str, limit: int = 80) -> str:
    """``text`` quoted for a one-line message: control characters escaped, long text cut."""
    cut = text if len(text) <= limit else text[:limit] + "…"
    return f"'{cut}'" if cut.isprintable() else ascii(cut)


def repo_problem(repo: str) -> str | None:
    """Why ``repo`` (OWNER/NAME) is not a hub repository id, or None when it is one."""
    parts = repo.split("/")
    if len(parts) != 2:
        return "a repository is OWNER/NAME"
    if len(repo) > _MAX_REPO_ID:
        return f"a repository id has at most {_MAX_REPO_ID} characters"
    if "--" in repo or ".." in repo:
        return "a repository id has no '--' or '..'"
    if not all(_NAME_PART.fullmatch(part) for part in parts):
        return "OWNER and NAME are letters, digits, '-', '_' and '.', not starting or ending with '-' or '.'"
    return None


def file_problem(file: str) -> str | None:
    """Why ``file`` is not a safe path of a .gguf inside a repository, or None when it is."""
    if len(file) > _MAX_FILE:
        return f"a file path has at most {_MAX_FILE} characters"
    if not file.lower().endswith(".gguf"):
        return "the file must be a .gguf"
    for part in file.split("/"):
        if part in ("", ".", ".."):
            return "a file path has no empty, '.' or '..' part and does not start with '/'"
        if not _FILE_PART.fullmatch(part):
            return "a file path has no backslash, '@', whitespace or control character"
    return None


def revision_problem(revision: str) -> str | None:
    """Why ``revision`` is neither a 40-hex commit nor a branch or tag name, or None."""
    if COMMIT_HASH.fullmatch(revision):
        return None
    if not revision or len(revision) > _MAX_REVISION:
        return f"a revision has 1 to {_MAX_REVISION} characters"
    bad = ".." in revision or any(
        not _REF_PART.fullmatch(part) or part.endswith(".lock") for part in revision.split("/")
    )
    if bad or revision.endswith("."):
        return (
            "a revision is a 40-hex commit or a branch or tag name (letters, digits, '.', '_', '+', '-' and '/'; "
            "no '..', no part that is empty, starts with '.' or ends with '.lock')"
        )
    return None


@dataclass(frozen=True)
class HubFile:
    """One file of a hub repository at a revision (a branch, tag or commit), every part validated."""

    repo: str
    file: str
    revision: str = "main"

    def __post_init__(self) -> None:
        for part, value, check in (
            ("repository", self.repo, repo_problem),
            ("file", self.file, file_problem),
            ("revision", self.revision, revision_problem),
        ):
            problem = check(value) if isinstance(value, str) else "it is not text"
            if problem:
                raise DuetError(f"invalid hub {part} {shown(str(value))}: {problem}")

    @property
    def spec(self) -> str:
        rev = "" if self.revision == "main" else f"@{self.revision}"
        return f"{HF_PREFIX}{self.repo}/{self.file}{rev}"

    @property
    def page_url(self) -> str:
        return f"https://huggingface.co/{self.repo}"


def parse_hf_spec(spec: str) -> HubFile:
    """``hf:OWNER/REPO/FILE.gguf[@REVISION]`` -> HubFile; DuetError naming the part that is wrong."""
    if len(spec) > MAX_SPEC_CHARS:
        raise DuetError(f"the hub spec {shown(spec)} is {len(spec)} characters long; a spec is {SPEC_SHAPE}")
    text = spec.strip()
    body = text[len(HF_PREFIX) :] if text.startswith(HF_PREFIX) else text
    path, at, revision = body.partition("@")
    owner, _, rest = path.partition("/")
    name, _, file = rest.partition("/")
    if not owner or not name or not file.lower().endswith(".gguf") or (at and not revision):
        raise DuetError(f"{shown(spec)} is not a hub model spec; write {SPEC_SHAPE} {_EXAMPLE}")
    for part, value, problem in (
        ("repository", f"{owner}/{name}", repo_problem(f"{owner}/{name}")),
        ("file", file, file_problem(file)),
        ("revision", revision, revision_problem(revision) if at else None),
    ):
        if problem:
            raise DuetError(f"{shown(spec)} has an invalid {part} {shown(value)}: {problem}; write {SPEC_SHAPE}")
    return HubFile(f"{owner}/{name}", file, revision if at else "main")


def checked_answer(name: str, commit: str | None, etag: str | None) -> tuple[str, str]:
    """The hub's commit hash and ETag for ``name``, once both are safe to put in a path; DuetError if not."""
    if not commit or not COMMIT_HASH.fullmatch(commit):
        raise DuetError(
            f"the hub answered a commit hash {shown(commit or '')} for {name}, not 40 hex digits; "
            "Duet does not write a file named after it (check HF_ENDPOINT and any proxy settings)"
        )
    if not etag or not _ETAG.fullmatch(etag):
        raise DuetError(
            f"the hub answered an ETag {shown(etag or '')} for {name}, not a sha256 or git blob id; "
            "Duet does not write a file named after it (check HF_ENDPOINT and any proxy settings)"
        )
    return commit, etag
