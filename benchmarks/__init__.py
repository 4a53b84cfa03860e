"""Benchmarks: Duet measured against bare llama-cpp-python in the same run (`python -m benchmarks`)."""
