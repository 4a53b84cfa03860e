#!/usr/bin/env bash
# What the GPU machine needs and cannot download (it has no network): llama-cpp-python's source,
# trimmed to what builds, and the wheels of Duet's dependencies that machine lacks (see
# ../shared/gpu.md). Run it here, where pip reaches PyPI; benchmarks/gpu_check.sh uses the kit.
#
#   bash benchmarks/gpu_kit.sh KIT_DIR [PYTHON_VERSION]     # default 3.12, the GPU machine's Python
#
# LLAMA_SDIST=path/to/llama_cpp_python-0.3.36.tar.gz skips the 77 MB download. The kit is about
# 14 MB: pass its folder in the device call's `carry` (it must lie inside the checkout and be
# ignored by git there, e.g. .gpu-kit/).
set -euo pipefail
KIT=${1:?usage: bash benchmarks/gpu_kit.sh KIT_DIR [PYTHON_VERSION]}
PYVER=${2:-3.12}
PIP=${PIP:-.venv/bin/pip}
LLAMA=0.3.36
# Duet's runtime dependencies missing on the GPU machine (its image has numpy, jinja2, httpx, rich,
# markdown-it-py, huggingface-hub, pyyaml, tqdm, requests, typing-extensions, scikit-build-core,
# cmake and ninja), at the versions this checkout's virtual environment was tested with.
NAMES="pydantic pydantic-core annotated-types typing-inspection textual mdit-py-plugins linkify-it-py uc-micro-py platformdirs diskcache gguf"

mkdir -p "$KIT/wheels" "$KIT/src"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
sdist=${LLAMA_SDIST:-}
if [ -z "$sdist" ]; then
    "$PIP" download -q --no-deps --no-binary :all: "llama-cpp-python==$LLAMA" -d "$work"
    sdist="$work/llama_cpp_python-$LLAMA.tar.gz"
fi
tar xzf "$sdist" -C "$work"
vendor="$work/llama_cpp_python-$LLAMA/vendor/llama.cpp"
rm -rf "$vendor"/{models,docs,benches,media,tests,.git,.github} "$work/llama_cpp_python-$LLAMA"/.git
tar czf "$KIT/src/llama_cpp_python-$LLAMA-trimmed.tar.gz" -C "$work" "llama_cpp_python-$LLAMA"

platforms=""
for p in manylinux_2_28_x86_64 manylinux_2_27_x86_64 manylinux_2_17_x86_64 manylinux2014_x86_64 manylinux1_x86_64; do
    platforms="$platforms --platform $p"
done
for name in $NAMES; do
    version=$("$PIP" show "$name" 2>/dev/null | sed -n 's/^Version: //p' || true)
    if [ -z "$version" ]; then  # not needed here either (uc-micro-py: only textual's linkify uses it)
        echo "gpu_kit: $name is not installed in this virtual environment: left out" >&2
        continue
    fi
    # shellcheck disable=SC2086
    "$PIP" download -q --no-deps --only-binary=:all: --python-version "$PYVER" --implementation cp \
        $platforms -d "$KIT/wheels" "$name==$version"
done
du -sh "$KIT"/src "$KIT"/wheels
