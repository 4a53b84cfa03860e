"""A small reader for GGUF headers: metadata and tensor layout, without loading any weights.

It lets Duet say *why* a file cannot be used (not GGUF, truncated, empty) before llama.cpp is
asked to load it, and show a model's details without loading it at all.
"""

from __future__ import annotations

import hashlib
import math
import mmap
import stat
import struct
import threading
from pathlib import Path
from typing import Any, NamedTuple

from models.errors import DuetError
from models.files.gguf_checks import check_header
from models.files.gguf_header import GGUF_STRING, ArrayInfo, GGUFHeader, TensorInfo

GGUF_MAGIC = b"GGUF"
_SCALARS = {
    0: "<B",
    1: "<b",
    2: "<H",
    3: "<h",
    4: "<I",
    5: "<i",
    6: "<f",
    7: "<?",
    10: "<Q",
    11: "<q",
    12: "<d",
}
_STRING, _ARRAY = GGUF_STRING, 9
_U64 = struct.Struct("<Q")
# Arrays longer than this (token lists, merges) are skipped and only their length is kept.
_MAX_KEPT_ARRAY = 64
VOCABULARY_KEY = "tokenizer.ggml.tokens"
# Bounds on what a header may declare, so that a hostile file is one clear line before anything
# is allocated or looped over, and before llama.cpp (which would try) reads it. Each is far above
# any real model: Gemma 3's 262,144-token vocabulary is the largest array (its whole header is
# 6 MiB), chat templates are a few KiB, models have at most a few thousand tensors and 60 keys.
MAX_METADATA_ENTRIES = 10_000
MAX_ARRAY_LENGTH = 1 << 22  # 4,194,304
MAX_STRING_BYTES = 1 << 20  # 1 MiB: a key, a value, one string in an array
MAX_METADATA_BYTES = 256 << 20
MAX_TENSORS = 100_000
_MAX_TENSOR_NAME = 64  # GGML_MAX_NAME: longer names are kept as None (and llama.cpp refuses them)

# ggml tensor type -> (elements per block, bytes per block)
_GGML_BLOCKS = {
    0: (1, 4),
    1: (1, 2),
    2: (32, 18),
    3: (32, 20),
    6: (32, 22),
    7: (32, 24),
    8: (32, 34),
    9: (32, 36),
    10: (256, 84),
    11: (256, 110),
    12: (256, 144),
    13: (256, 176),
    14: (256, 210),
    15: (256, 292),
    16: (256, 66),
    17: (256, 74),
    18: (256, 98),
    19: (256, 50),
    20: (32, 18),
    21: (256, 110),
    22: (256, 82),
    23: (256, 136),
    24: (1, 1),
    25: (1, 2),
    26: (1, 4),
    27: (1, 8),
    28: (1, 8),
    29: (256, 56),
    30: (1, 2),
    34: (256, 54),
    35: (256, 66),
    39: (32, 17),
}

# llama_ftype values as written to general.file_type
FILE_TYPES = {
    0: "F32",
    1: "F16",
    2: "Q4_0",
    3: "Q4_1",
    7: "Q8_0",
    8: "Q5_0",
    9: "Q5_1",
    10: "Q2_K",
    11: "Q3_K_S",
    12: "Q3_K_M",
    13: "Q3_K_L",
    14: "Q4_K_S",
    15: "Q4_K_M",
    16: "Q5_K_S",
    17: "Q5_K_M",
    18: "Q6_K",
    19: "IQ2_XXS",
    20: "IQ2_XS",
    21: "Q2_K_S",
    22: "IQ3_XS",
    23: "IQ3_XXS",
    24: "IQ1_S",
    25: "IQ4_NL",
    26: "IQ3_S",
    27: "IQ3_M",
    28: "IQ2_S",
    29: "IQ2_M",
    30: "IQ4_XS",
    31: "IQ1_M",
    32: "BF16",
    36: "TQ1_0",
    37: "TQ2_0",
    38: "MXFP4_MOE",
}


class _Reader:
    """Reads the header with every length checked against what is left of the file (and Duet's
    bounds) before anything is allocated or looped over."""

    def __init__(self, buf: mmap.mmap | bytes, path: Path):
        self.buf, self.pos, self.path, self.end = buf, 0, path, len(buf)

    def _take(self, fmt: str) -> Any:
        size = struct.calcsize(fmt)
        if self.pos + size > self.end:
            raise _Truncated
        (value,) = struct.unpack_from(fmt, self.buf, self.pos)
        self.pos += size
        return value

    def count(self, what: str, at_least_bytes: int, bound: int) -> int:
        """A count of ``what`` (each at least ``at_least_bytes`` long), checked against the bytes
        left in the file and against ``bound``."""
        n = self._take("<Q")
        if n * at_least_bytes > self.end - self.pos:
            raise _Corrupt(f"it declares {n:,} {what}, more than its {self.end:,} bytes can hold")
        if n > bound:
            raise _Corrupt(f"it declares {n:,} {what}; Duet reads at most {bound:,} (real models have far fewer)")
        return n

    def string(self, what: str = "metadata key") -> str:
        n = self._take("<Q")
        if n > self.end - self.pos:
            raise _Corrupt(f"a {what} claims {n:,} bytes, more than the file holds after it")
        if n > MAX_STRING_BYTES:
            raise _Corrupt(f"a {what} is {n:,} bytes long; Duet reads at most {MAX_STRING_BYTES:,}")
        raw = bytes(self.buf[self.pos : self.pos + n])
        self.pos += n
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError:
            raise _Corrupt(f"a {what} is not UTF-8 text ({raw[:40]!r}), which GGUF requires") from None

    def tensor_name(self) -> str | None:
        """A tensor's name, or None (skipped) when over ggml's 64-byte limit or not UTF-8."""
        n = self._take("<Q")
        if n > self.end - self.pos:
            raise _Truncated
        raw = bytes(self.buf[self.pos : self.pos + n]) if n <= _MAX_TENSOR_NAME else b"\xff"
        self.pos += n
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError:
            return None

    def _skip_strings(self, count: int) -> None:
        # Hot loop: a vocabulary holds up to ~260k strings, and this runs on every model load.
        buf, pos, end, unpack = self.buf, self.pos, self.end, _U64.unpack_from
        for _ in range(count):
            if pos + 8 > end:
                raise _Truncated
            pos += 8 + unpack(buf, pos)[0]
        if pos > end:
            raise _Truncated
        self.pos = pos

    def value(self, vtype: int, key: str, header: GGUFHeader) -> Any:
        if vtype in _SCALARS:
            return self._take(_SCALARS[vtype])
        if vtype == _STRING:
            return self.string(f"metadata value ({key})")
        if vtype != _ARRAY:
            raise _Corrupt(f"unknown metadata value type {vtype} ({key})")
        item_type = self._take("<I")
        if item_type not in _SCALARS and item_type != _STRING:
            kind = "arrays" if item_type == _ARRAY else f"unknown type {item_type}"
            raise _Corrupt(f"{key} is an array of {kind}, which llama.cpp cannot read")
        item_size = 8 if item_type == _STRING else struct.calcsize(_SCALARS[item_type])
        length = self.count(f"elements in {key}", item_size, MAX_ARRAY_LENGTH)
        header.array_types[key] = item_type
        start = self.pos
        value: Any
        if length <= _MAX_KEPT_ARRAY:
            if item_type == _STRING:
                value = [self.string(f"string in {key}") for _ in range(length)]
            else:
                value = [self._take(_SCALARS[item_type]) for _ in range(length)]
        else:
            if item_type == _STRING:
                self._skip_strings(length)
            else:
                self.pos += item_size * length
            value = ArrayInfo(length, item_type)
        if key == VOCABULARY_KEY and item_type == _STRING:
            # The token texts in id order, as llama.cpp loads them: their bytes identify the
            # vocabulary (models/lens/vocabulary.py) for one hash over 3 MB, where asking
            # llama.cpp for 262k texts costs 0.15-0.3 s of Python on Gemma 3.
            header.vocabulary = (length, hashlib.sha256(self.buf[start : self.pos]).hexdigest())
        return value


class _Truncated(Exception):
    pass


class _Corrupt(Exception):
    pass


class FileKind(NamedTuple):
    """What a GGUF file is meant to be, for the words of its errors: a model, or a LoRA adapter."""

    noun: str  # "model file"
    a_noun: str  # "a model file"
    redo: str  # what to do about a damaged one


MODEL_FILE = FileKind("model file", "a model file", "download it again")
ADAPTER_FILE = FileKind(
    "adapter file", "an adapter file", "convert it again (convert_lora_to_gguf.py) or download it again"
)


def read_header(path: Path, kind: FileKind = MODEL_FILE) -> GGUFHeader:
    """Parse a GGUF file's header, raising DuetError with a one-line reason when it is unusable."""
    path = Path(path)
    noun = kind.noun
    if not path.exists():
        raise DuetError(f"{noun} {path} does not exist; check the path or pick an embedded: model")
    if path.is_dir():
        raise DuetError(f"{path} is a directory, not {kind.a_noun}; point at the .gguf file inside it")
    st = path.stat()
    if not stat.S_ISREG(st.st_mode):  # a FIFO would block the open, /dev/urandom never ends: neither is a file
        what = "a FIFO (named pipe)" if stat.S_ISFIFO(st.st_mode) else "a device or socket"
        raise DuetError(f"{path} is {what}, not {kind.a_noun}; point at a .gguf file")
    if st.st_size == 0:
        raise DuetError(f"{noun} {path} is empty (0 bytes); {kind.redo}")
    # The same file is read twice on the way to a pane (the GPU placement plan, then the load), and
    # Gemma 3's 262k-token vocabulary costs 80 ms of Python each time, taken from the other model's
    # load while both start: a file not changed since is parsed once.
    key = (str(path.resolve()), st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, kind.noun)
    with _PARSED_LOCK:
        header = _PARSED.get(key)
    if header is None:
        try:
            with path.open("rb") as fh, mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as buf:
                header = _parse(buf, path, st.st_size, kind)
        except PermissionError:
            raise DuetError(f"{noun} {path} is not readable; check its permissions") from None
        check_header(header, kind.noun, kind.redo)
        with _PARSED_LOCK:
            _PARSED[key] = header
            while len(_PARSED) > _PARSED_KEPT:
                _PARSED.pop(next(iter(_PARSED)))
    return header


_PARSED: dict[tuple, GGUFHeader] = {}  # headers that passed check_header, oldest first; never changed after
_PARSED_KEPT = 8
_PARSED_LOCK = threading.Lock()


def _parse(buf: mmap.mmap, path: Path, size: int, kind: FileKind = MODEL_FILE) -> GGUFHeader:
    if buf[:4] != GGUF_MAGIC:
        raise DuetError(f"{path} is not a GGUF {kind.noun} (wrong magic bytes); use a .gguf file")
    reader = _Reader(buf, path)
    reader.pos = 4
    try:
        version = reader._take("<I")
        if version not in (2, 3):
            raise DuetError(f"{path} is GGUF version {version}, which Duet cannot read; use GGUF v2 or v3")
        tensor_count = reader._take("<Q")
        kv_count = reader.count("metadata entries", 13, MAX_METADATA_ENTRIES)
        if tensor_count * 32 > size or tensor_count > MAX_TENSORS:
            raise _Corrupt(f"it declares {tensor_count:,} tensors, more than a {size:,}-byte file can hold")
        header = GGUFHeader(path=path, version=version, tensor_count=tensor_count, file_size=size)
        for _ in range(kv_count):
            key = reader.string()
            header.metadata[key] = reader.value(reader._take("<I"), key, header)
            if reader.pos > MAX_METADATA_BYTES:
                raise _Corrupt(f"its metadata is over {MAX_METADATA_BYTES >> 20} MiB (real models have under 40 MiB)")
        header.data_end = _tensor_end(reader, header, tensor_count)
    except _Truncated:
        raise DuetError(f"{kind.noun} {path} is truncated inside its header; {kind.redo}") from None
    except _Corrupt as err:
        raise DuetError(f"{kind.noun} {path} is corrupt: {err}; {kind.redo} or use another file") from None
    if header.data_end is not None and header.data_end > size:
        raise DuetError(f"{kind.noun} {path} is truncated ({size:,} of {header.data_end:,} bytes); {kind.redo}")
    return header


def _tensor_end(reader: _Reader, header: GGUFHeader, tensor_count: int) -> int | None:
    """Where the last tensor's data ends (None when a tensor type is unknown to Duet)."""
    data_end = 0
    known = True
    for _ in range(tensor_count):
        name = reader.tensor_name()
        n_dims = reader._take("<I")
        if n_dims > 4:  # GGML_MAX_DIMS
            raise _Corrupt(f"a tensor has {n_dims} dimensions; llama.cpp allows at most 4")
        dims = tuple(reader._take("<Q") for _ in range(n_dims))
        elements = math.prod(dims)
        ttype = reader._take("<I")
        offset = reader._take("<Q")
        block = _GGML_BLOCKS.get(ttype)
        nbytes = None if block is None else elements // block[0] * block[1]
        header.tensors.append(TensorInfo(name, elements, ttype, offset, nbytes, dims))
        if nbytes is None:
            known = False
            data_end = max(data_end, offset)
        else:
            data_end = max(data_end, offset + nbytes)
    alignment = header.get("general.alignment", 32)
    if not isinstance(alignment, int) or not 0 < alignment <= 1 << 20:
        alignment = 32
    data_start = -(-reader.pos // alignment) * alignment
    header.data_start = data_start
    return data_start + data_end if known else None
