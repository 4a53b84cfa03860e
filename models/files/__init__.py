"""Model files: the GGUF reader, what a file says about its model, the embedded pair, the catalog,
and resolving a source string (embedded:NAME, a catalog name, hf:..., a path) to a file on disk."""
