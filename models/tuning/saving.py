"""The trained model as a file Duet can load like its source: the source's metadata put back.

llama_model_save_to_file writes ``<arch>.context_length`` as the training context (256), drops
every ``general.*`` key and writes every hyperparameter llama.cpp knows, for any architecture
(expert counts, SSM sizes, an empty classifier label list, ...). So the requantized file is
copied once more with the gguf package: its tensors, under the source's own metadata (context
length, name, tokenizer), with the new file type, a name that says it is a Duet fine-tune and
general.base_model.0 naming the source.
"""

from __future__ import annotations

from pathlib import Path

_FROM_TRAINED = ("general.file_type", "general.quantization_version")  # what requantizing changed
_DROPPED = ("GGUF.", "general.architecture", "general.name", "general.base_model.", "general.alignment", "quantize.")


def restore_metadata(trained: Path, source: Path, target: Path, tuned_name: str) -> None:
    """Write ``target``: the tensors of ``trained`` with the metadata of ``source``."""
    import gguf

    src = gguf.GGUFReader(str(source))
    reader = gguf.GGUFReader(str(trained))
    arch = _string(src, "general.architecture")
    source_tensors = {t.name for t in src.tensors}
    trained_tensors = {t.name for t in reader.tensors}
    if not trained_tensors <= source_tensors | {"rope_freqs.weight"}:
        extra = sorted(trained_tensors - source_tensors)[:3]
        raise ValueError(f"the trained model has tensors its source has not ({', '.join(extra)})")
    writer = gguf.GGUFWriter(str(target), arch, endianess=reader.endianess)
    for field in src.fields.values():
        if not field.name.startswith(_DROPPED + _FROM_TRAINED):
            _copy(writer, field)
    for name in _FROM_TRAINED:
        changed = reader.get_field(name)
        if changed is not None:
            _copy(writer, changed)
    source_name = _string(src, "general.name") or source.stem
    writer.add_name(f"{source_name} (tuned:{tuned_name}, a Duet fine-tune)")
    writer.add_uint32("general.base_model.count", 1)
    writer.add_string("general.base_model.0.name", source_name)
    for tensor in reader.tensors:
        writer.add_tensor_info(
            tensor.name, tensor.data.shape, tensor.data.dtype, tensor.data.nbytes, tensor.tensor_type
        )
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_ti_data_to_file()
    for tensor in reader.tensors:
        writer.write_tensor_data(tensor.data, tensor_endianess=reader.endianess)
    writer.close()


def _copy(writer, field) -> None:
    import gguf

    value_type = field.types[0]
    sub_type = field.types[-1] if value_type == gguf.GGUFValueType.ARRAY else None
    writer.add_key_value(field.name, field.contents(), value_type, sub_type=sub_type)


def _string(reader, key: str) -> str:
    field = reader.get_field(key)
    value = field.contents() if field is not None else None
    return value if isinstance(value, str) else ""
