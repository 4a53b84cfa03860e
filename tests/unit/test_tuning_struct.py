"""The ctypes declarations of llama.cpp's training API match the header the wheel was built from
(site-packages/include/llama.h and ggml-opt.h, installed with llama-cpp-python)."""

import ctypes
import re
import sysconfig
from pathlib import Path

import pytest

from models.tuning import opt_api

_C_TYPES = {
    "uint32_t": ctypes.c_uint32,
    "int32_t": ctypes.c_int32,
    "float": ctypes.c_float,
    "void *": ctypes.c_void_p,
}


def _header(name: str) -> str:
    for base in (sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]):
        path = Path(base) / "include" / name
        if path.is_file():
            return path.read_text(encoding="utf-8")
    pytest.fail(f"{name} is not installed beside llama_cpp (site-packages/include)")


def _struct_fields(source: str, name: str) -> list[tuple[str, str]]:
    """(C type, field name) of each member of ``struct name { ... };``, comments dropped."""
    body = re.search(r"struct\s+" + name + r"\s*\{(.*?)\n\s*\};", source, re.S)
    assert body, f"struct {name} is not in the header"
    text = re.sub(r"//[^\n]*", "", body.group(1))
    fields = []
    for declaration in text.split(";"):
        declaration = " ".join(declaration.split())
        if declaration:
            c_type, _, field = declaration.rpartition(" ")
            fields.append((c_type.replace("* ", "*").strip(), field.lstrip("*")))
    return fields


def test_llama_opt_params_has_every_field_of_the_header_in_order():
    header = _struct_fields(_header("llama.h"), "llama_opt_params")
    ours = [name for name, _ in opt_api.OptParams._fields_]
    assert [field for _, field in header] == ours
    assert header[-1] == ("enum ggml_opt_optimizer_type", "optimizer_type")  # what the 0.3.36 binding lacks


def test_llama_opt_params_field_sizes_and_offsets_follow_the_c_rules():
    header = _struct_fields(_header("llama.h"), "llama_opt_params")
    pointer = ctypes.sizeof(ctypes.c_void_p)
    offset = 0
    for (c_type, name), (our_name, our_type) in zip(header, opt_api.OptParams._fields_):
        size = (
            ctypes.sizeof(ctypes.c_int)
            if c_type.startswith("enum")
            else (
                ctypes.sizeof(_C_TYPES[c_type]) if c_type in _C_TYPES else pointer  # callbacks are pointers
            )
        )
        offset = -(-offset // size) * size  # each member aligned to its own size
        assert ctypes.sizeof(our_type) == size, name
        assert getattr(opt_api.OptParams, our_name).offset == offset, name
        offset += size
    assert ctypes.sizeof(opt_api.OptParams) == -(-offset // pointer) * pointer


def test_the_binding_struct_is_one_field_short_which_is_why_ours_exists():
    source = Path(__import__("importlib.util").util.find_spec("llama_cpp").origin).parent / "llama_cpp.py"
    binding = re.search(
        r"class llama_opt_params\(ctypes.Structure\):\s*_fields_ = \[(.*?)\n    \]", source.read_text(), re.S
    )
    assert binding
    assert "optimizer_type" not in binding.group(1)  # when a new binding adds it, this declaration can go


def _floats(block: str) -> list[str]:
    return re.findall(r"float (\w+);", block)


def test_the_optimizer_params_match_ggml_opt_h():
    source = _header("ggml-opt.h")
    body = re.search(r"struct ggml_opt_optimizer_params \{(.*?)\n    \};", source, re.S)
    assert body
    adamw = re.search(r"struct \{(.*?)\} adamw;", body.group(1), re.S)
    sgd = re.search(r"\} adamw;\s*struct \{(.*?)\} sgd;", body.group(1), re.S)
    assert adamw and sgd
    assert _floats(adamw.group(1)) == [n for n, _ in opt_api.AdamW._fields_]
    assert _floats(sgd.group(1)) == [n for n, _ in opt_api.SGD._fields_]
    assert ctypes.sizeof(opt_api.OptimizerParams) == 7 * ctypes.sizeof(ctypes.c_float)


def test_the_enum_values_we_pass_match_the_headers():
    ggml_h = _header("ggml.h")
    assert re.search(r"GGML_TYPE_I32\s*=\s*" + str(opt_api.GGML_TYPE_I32) + r"\b", ggml_h)
    opt_h = _header("ggml-opt.h")
    enum = re.search(r"enum ggml_opt_optimizer_type \{(.*?)\}", opt_h, re.S)
    assert enum and enum.group(1).split(",")[0].strip() == "GGML_OPT_OPTIMIZER_TYPE_ADAMW"
    assert opt_api.GGML_OPT_OPTIMIZER_TYPE_ADAMW == 0
