"""Hostile model files, made in the tests from the embedded SmolLM2 with the `gguf` package: its
tensors and metadata copied, with a chat template or metadata value replaced, and (for what the
gguf writer refuses to write) a length field patched in place afterwards.

Also: peak memory (VmHWM) of this process or of a child, for the tests that bound it.
"""

from __future__ import annotations

import shutil
import struct
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from gguf import GGUFReader, GGUFValueType, GGUFWriter

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
    (a string value), or (value, GGUFValueType[, sub_type]) for any other type."""
    reader = GGUFReader(src)
    arch = str(reader.fields["general.architecture"].contents())
    writer = GGUFWriter(dst, arch=arch)
    pending = dict(changes)
    for field in reader.fields.values():
        if field.name == "general.architecture" or field.name.startswith("GGUF."):
            continue
        if field.name in pending:
            _add(writer, field.name, pending.pop(field.name))
            continue
        sub_type = field.types[-1] if field.types[0] == GGUFValueType.ARRAY else None
        writer.add_key_value(field.name, field.contents(), field.types[0], sub_type=sub_type)
    for key, value in pending.items():
        _add(writer, key, value)
    for tensor in reader.tensors:
        writer.add_tensor_info(
            tensor.name, tensor.data.shape, tensor.data.dtype, tensor.data.nbytes, tensor.tensor_type
        )
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_ti_data_to_file()
    for tensor in reader.tensors:
        writer.write_tensor_data(tensor.data)
    writer.close()
    return dst


def _add(writer: GGUFWriter, key: str, value: Any) -> None:
    if value is None:
        return
    if isinstance(value, str):
        writer.add_key_value(key, value, GGUFValueType.STRING)
        return
    writer.add_key_value(key, *value)


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
