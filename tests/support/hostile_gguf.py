"""Hostile model files, made in the tests from the embedded SmolLM2: its tensors and metadata
copied byte for byte, with a chat template or metadata value replaced (values typed with the
`gguf` package's GGUFValueType), and (for what no writer would write) a length field patched in
place afterwards.

Also: peak memory (VmHWM) of this process or of a child, for the tests that bound it.
"""

from __future__ import annotations

import mmap
import shutil
import struct
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from gguf import GGUFValueType

# Templates a stranger might ship. SPIN loops only for a message containing "spin", so that the
# warming probes at load pass and the stuck render happens inside a turn, where Esc must stop it.
NESTED_LOOPS = "{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}"
HUGE_REPEAT = "{{ 'x' * 10**10 }}"
OUTPUT_FLOOD = "{% for i in range(100000) %}{% for j in range(100000) %}xxxxxxxxxx{% endfor %}{% endfor %}"
REACH_MRO = "{{ messages.__class__.__mro__[1].__subclasses__() }}"
REACH_ENVIRON = "{{ cycler.__init__.__globals__.os.environ }}"
SPIN_MARK = "spin"
LONG_SYSTEM = "You are a careful assistant. " * 300  # about 1,800 tokens ahead of every message


def spin_template(normal: str) -> str:
    """``normal`` (the model's own template), except that a last message with "spin" loops."""
    return f"{{% if '{SPIN_MARK}' in messages[-1]['content'] %}}{NESTED_LOOPS}{{% else %}}{normal}{{% endif %}}"


def long_system_template(normal: str) -> str:
    """``normal`` with a long system prompt first: warming it takes seconds on two cores."""
    return f"<|im_start|>system\n{LONG_SYSTEM}<|im_end|>\n" + normal


def rewrite(src: Path, dst: Path, changes: dict[str, Any]) -> Path:
    """A copy of ``src`` (tensors and metadata) with ``changes``: key -> None (left out), a str
    (a string value), or (value, GGUFValueType[, sub_type]) for any other type.

    Done on the bytes: every other metadata entry, the tensor infos and the tensor data are copied
    as they are, in their order. (gguf's GGUFReader/GGUFWriter round trip did the same in 3 s for
    SmolLM2 and 12 s for Gemma 3, most of it Python per vocabulary entry, for each hostile file.)"""
    with src.open("rb") as fh, mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as buf:
        entries, tensors_at, tensor_count = _metadata_entries(buf)
        tensors_end = _skip_tensor_infos(buf, tensors_at, tensor_count)
        alignment = _alignment(buf, entries)
        data_start = -(-tensors_end // alignment) * alignment
        pending = dict(changes)
        kept = []
        for key, (begin, end) in entries.items():
            if key in pending:
                value = pending.pop(key)
                if value is not None:
                    kept.append(_entry(key, value))
            else:
                kept.append(bytes(buf[begin:end]))
        kept.extend(_entry(key, value) for key, value in pending.items() if value is not None)
        head = bytearray(buf[:8]) + struct.pack("<QQ", tensor_count, len(kept)) + b"".join(kept)
        head += buf[tensors_at:tensors_end]
        head += bytes(-len(head) % alignment)  # the tensor data starts aligned, its offsets unchanged
        with dst.open("wb") as out:
            out.write(head)
            for at in range(data_start, len(buf), 64 << 20):
                out.write(buf[at : min(at + (64 << 20), len(buf))])
    return dst


_SCALAR = {0: "<B", 1: "<b", 2: "<H", 3: "<h", 4: "<I", 5: "<i", 6: "<f", 7: "<?", 10: "<Q", 11: "<q", 12: "<d"}
_STRING, _ARRAY = 8, 9


def _metadata_entries(buf) -> tuple[dict[str, tuple[int, int]], int, int]:
    """Each metadata key's (start, end) in the file, where the tensor infos start, how many."""
    assert buf[:4] == b"GGUF", "not a GGUF file"
    tensor_count, kv_count = struct.unpack_from("<QQ", buf, 8)
    entries: dict[str, tuple[int, int]] = {}
    pos = 24
    for _ in range(kv_count):
        begin = pos
        (length,) = struct.unpack_from("<Q", buf, pos)
        key = bytes(buf[pos + 8 : pos + 8 + length]).decode()
        pos += 8 + length
        (vtype,) = struct.unpack_from("<I", buf, pos)
        pos = _skip_value(buf, pos + 4, vtype)
        entries[key] = (begin, pos)
    return entries, pos, tensor_count


def _skip_value(buf, pos: int, vtype: int) -> int:
    if vtype == _STRING:
        return pos + 8 + struct.unpack_from("<Q", buf, pos)[0]
    if vtype != _ARRAY:
        return pos + struct.calcsize(_SCALAR[vtype])
    item_type, count = struct.unpack_from("<IQ", buf, pos)
    pos += 12
    if item_type != _STRING:
        return pos + count * struct.calcsize(_SCALAR[item_type])
    for _ in range(count):
        pos += 8 + struct.unpack_from("<Q", buf, pos)[0]
    return pos


def _skip_tensor_infos(buf, pos: int, count: int) -> int:
    for _ in range(count):
        pos += 8 + struct.unpack_from("<Q", buf, pos)[0]  # the name
        (n_dims,) = struct.unpack_from("<I", buf, pos)
        pos += 4 + 8 * n_dims + 4 + 8  # dims, type, offset
    return pos


def _alignment(buf, entries: dict[str, tuple[int, int]]) -> int:
    if "general.alignment" not in entries:
        return 32
    _begin, end = entries["general.alignment"]
    return struct.unpack_from("<I", buf, end - 4)[0]


def _entry(key: str, value: Any) -> bytes:
    if isinstance(value, str):
        value = (value, GGUFValueType.STRING)
    data, vtype, *sub = value
    return _string(key) + struct.pack("<I", int(vtype)) + _value(data, int(vtype), int(sub[0]) if sub else None)


def _value(data: Any, vtype: int, sub_type: int | None) -> bytes:
    if vtype == _STRING:
        return _string(data)
    if vtype != _ARRAY:
        return struct.pack(_SCALAR[vtype], data)
    assert sub_type is not None, "an array needs its element type"
    items = b"".join(_value(item, sub_type, None) for item in data)
    return struct.pack("<IQ", sub_type, len(data)) + items


def _string(text: str) -> bytes:
    raw = text.encode()
    return struct.pack("<Q", len(raw)) + raw


def patch(src: Path, dst: Path, marker: bytes, edit: Callable[[bytearray, int], None]) -> Path:
    """A copy of ``src`` whose header is edited in place around the first ``marker`` (found in
    the first 8 MiB, the header): ``edit(header_bytes, marker_offset)``."""
    shutil.copyfile(src, dst)
    with dst.open("r+b") as fh:
        head = bytearray(fh.read(8 << 20))
        at = head.index(marker)
        edit(head, at)
        fh.seek(0)
        fh.write(head)
    return dst


def set_u64(head: bytearray, offset: int, value: int) -> None:
    struct.pack_into("<Q", head, offset, value)


def peak_rss_mib(pid: int | str = "self") -> float:
    """VmHWM: the most resident memory the process has had (Linux)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


class ChildPeak:
    """Samples a child's VmHWM while it lives (its peak is gone once it exits)."""

    def __init__(self, pid: int) -> None:
        self.pid, self.peak_mib = pid, 0.0
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()

    def _sample(self) -> None:
        while not self._done.wait(0.005):
            try:
                self.peak_mib = max(self.peak_mib, peak_rss_mib(self.pid))
            except (OSError, ValueError):
                return

    def stop(self) -> float:
        self._done.set()
        self._thread.join()
        return self.peak_mib


def environ_of(pid: int) -> dict[str, str]:
    raw = Path(f"/proc/{pid}/environ").read_bytes()
    return dict(item.split("=", 1) for item in raw.decode(errors="replace").split("\0") if "=" in item)


def smollm_template(chat_path: Path) -> str:
    from models.files.gguf import read_header

    return read_header(chat_path).get("tokenizer.chat_template")
